"""Seed 001's face rule: a face counts when the detectors agree, or one is confident enough.

How a frame is read (``FaceEnsemble.detect``):

1. **Downscale.** The frame is shrunk so its longer side is at most ``detect_max_side``, unless
   that would shrink the smallest face we expect (``smallest_face_frac`` of the shorter side)
   below ``min_face_px`` (MTCNN's ``min_face_size``). MTCNN's time grows with the pixel count.
2. **Propose.** The ``proposers`` (MTCNN; BlazeFace full-range on the letterboxed frame, scores
   >= 0.6) run on the small frame; their boxes are mapped back to full resolution and merged
   across detectors when they overlap by ``iou``.
3. **Judge.** Each detector in ``detectors`` scores each candidate on the *full-resolution*
   frame, on crops around it (``score_regions``); MTCNN's proposal probability counts as its
   judgement. A detector *votes* when its box overlaps the candidate by ``iou`` and its score
   reaches ``vote_thresholds``. With ``lazy`` (default) a detector is not asked once its
   answer cannot change the outcome (two votes already in: dlib is skipped).
4. **Keep** a candidate with ``min_votes`` votes (agreement), or one score at its
   ``alone_thresholds`` (confident alone). MTCNN is never confident alone.

Scores on the fixtures (``../shared/fixtures``; ``detect_max_side`` 320-960, this code):

=================  ==========  ===============  ===============  ==========  ==============
detector           real faces  cartoon rabbit   bikes non-faces  cyclist     threshold
=================  ==========  ===============  ===============  ==========  ==============
MTCNN              0.89-1.00   0.71-1.00        0.70-0.96        0.71-1.00   vote 0.90
BlazeFace crops    0.79-0.96   0.12-0.73        <= 0.49          0.16-0.38   vote 0.76,
                                                                             alone 0.90
dlib HOG crops     -0.5..2.6   <= 0.47          none             <= 0.15     vote 0.80,
                                                                             alone 2.0
=================  ==========  ===============  ===============  ==========  ==============

Real faces: the six of group_six_people.jpg (BlazeFace 0.87-0.96), carphone (0.83-0.95), the
man in bikes.mp4 (0.79-0.87; at a frame edge in frame 43), the astronaut (0.88-0.93). The
group photo's two ``not_faces`` get MTCNN 0.86-0.87 and BlazeFace 0.38-0.52. BlazeFace is the
gate against the rabbit MTCNN loves: 0.73 vs 0.79 is the narrowest margin measured (the
full-range model on crops separates wider, 0.47 vs 0.62, at ~3x the cost; not used).

Outcome with the defaults, at every ``detect_max_side`` in 320..960 and full size: all six
group-photo people kept (IoU with the ground truth >= 0.87), neither ``not_faces`` box; no
face in any of bigbuckbunny.mp4's 132 frames; one face in each of carphone_pristine.mp4's 120
frames; in bikes.mp4 faces in exactly frames 30-43. The cyclist (frames 103-136, a 23x27 px
face) is *not* kept at any scale: BlazeFace scores him like the rabbit. ``detect_max_side``
640 is the default: benchmarks/detector_bench.py has the speeds.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepfake_assets.faces.blazeface import iou_matrix
from deepfake_assets.faces.detectors import (
    BlazeFaceDetector,
    DlibDetector,
    FaceDetector,
    MTCNNDetector,
    as_rgb,
    best_match,
)

DETECTOR_NAMES = ("mtcnn", "blazeface", "dlib")


@dataclass(frozen=True)
class Detection:
    """One kept face in one frame.

    ``box`` is x1, y1, x2, y2 in full-resolution frame pixels, taken from the first detector
    in ``EnsembleConfig.detectors`` that found it (MTCNN by default, so boxes keep one
    convention from frame to frame). ``agreement`` counts the detectors that voted for it,
    named in ``detectors``. ``scores`` has every detector's raw score: ``-inf`` when it found
    nothing there, NaN when it was not asked (with ``lazy``, a detector whose opinion can no
    longer change keep/reject is skipped). ``score`` is the mean over the detectors asked of
    their calibrated score (0 for one that found nothing; dlib's margin m enters as
    1 / (1 + e^-m)), so a face two detectors are sure of scores ~0.95 and the rabbit ~0.5.
    """

    box: tuple[float, float, float, float]
    score: float
    agreement: int
    detectors: tuple[str, ...]
    scores: tuple[tuple[str, float], ...] = ()


@dataclass
class EnsembleConfig:
    """Which detectors, how they must agree, and at what resolution they look.

    Thresholds are in each detector's own units (see ``faces/detectors.py``); ``None`` in
    ``alone_thresholds`` means the detector is never enough on its own.
    """

    detectors: tuple[str, ...] = DETECTOR_NAMES
    proposers: tuple[str, ...] = ("mtcnn", "blazeface")
    iou: float = 0.4
    min_votes: int = 2
    vote_thresholds: dict[str, float] = field(
        default_factory=lambda: {"mtcnn": 0.90, "blazeface": 0.76, "dlib": 0.80}
    )
    alone_thresholds: dict[str, float | None] = field(
        default_factory=lambda: {"mtcnn": None, "blazeface": 0.90, "dlib": 2.0}
    )
    proposal_min_scores: dict[str, float] = field(
        default_factory=lambda: {"mtcnn": 0.0, "blazeface": 0.6, "dlib": 0.0}
    )
    detect_max_side: int = 640
    min_face_px: int = 20
    smallest_face_frac: float = 0.1
    device: str | None = None
    threads: int | None = None
    batch_size: int = 32  # a whole 17-frame seed-001 plan in one MTCNN batch
    blazeface_model: str | None = None
    dlib_upsample: int = 1
    lazy: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.detectors) - set(DETECTOR_NAMES)
        if unknown:
            raise ValueError(f"unknown detectors {sorted(unknown)}; known: {DETECTOR_NAMES}")
        if not set(self.proposers) <= set(self.detectors):
            raise ValueError("every proposer must also be one of the detectors")
        if not self.proposers:
            raise ValueError("at least one proposer is needed")

    def scale_for(self, width: int, height: int) -> float:
        """Detection scale for a frame: <= 1, longer side <= detect_max_side where allowed."""
        long_side, short_side = max(width, height), min(width, height)
        scale = min(1.0, self.detect_max_side / long_side) if self.detect_max_side else 1.0
        if self.smallest_face_frac > 0:
            smallest = self.smallest_face_frac * short_side
            scale = max(scale, min(1.0, self.min_face_px / max(smallest, 1e-9)))
        return scale


def _calibrated(name: str, score: float) -> float:
    if not math.isfinite(score):
        return 0.0
    if name == "dlib":
        return 1.0 / (1.0 + math.exp(-score))
    return float(min(max(score, 0.0), 1.0))


def _build(name: str, config: EnsembleConfig) -> FaceDetector:
    if name == "mtcnn":
        return MTCNNDetector(
            device=config.device,
            min_face_size=config.min_face_px,
            batch_size=config.batch_size,
            threads=config.threads,
        )
    if name == "blazeface":
        return BlazeFaceDetector(config.blazeface_model, threads=config.threads)
    return DlibDetector(upsample=config.dlib_upsample)


# Detectors whose proposal score is the same judgement their region check would give (MTCNN's
# probability barely depends on scale). BlazeFace proposes with the full-range model and dlib
# with one whole-frame pass, but both judge with the mean over crops, which is calibrated
# differently, so they always judge on crops.
_SELF_JUDGING = {"mtcnn"}


class FaceEnsemble:
    """Runs the configured detectors and applies the agreement rule (module docstring)."""

    def __init__(
        self,
        config: EnsembleConfig | None = None,
        detectors: Mapping[str, FaceDetector] | Sequence[FaceDetector] | None = None,
    ):
        self.config = config or EnsembleConfig()
        if self.config.threads is not None:
            import torch

            torch.set_num_threads(self.config.threads)
            cv2.setNumThreads(self.config.threads)
        given: dict[str, FaceDetector] = {}
        if isinstance(detectors, Mapping):
            given = dict(detectors)
        elif detectors is not None:
            given = {d.name: d for d in detectors}
        self.detectors: dict[str, FaceDetector] = {
            n: given[n] if n in given else _build(n, self.config) for n in self.config.detectors
        }

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Faces per frame, best first, boxes in each frame's full-resolution pixels."""
        return [
            _suppress([c for c in cands if self.is_kept(c)], self.config.iou)
            for cands in self.candidates(frames)
        ]

    def is_kept(self, det: Detection) -> bool:
        """The rule: ``min_votes`` detectors agree, or one is confident alone."""
        cfg = self.config
        if det.agreement >= cfg.min_votes:
            return True
        for name, score in det.scores:
            alone = cfg.alone_thresholds.get(name)
            if alone is not None and score >= alone:
                return True
        return False

    def candidates(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Every candidate per frame with every detector's score, kept or not (for tuning)."""
        cfg = self.config
        frames = [as_rgb(f) for f in frames]
        if not frames:
            return []
        scales = [cfg.scale_for(f.shape[1], f.shape[0]) for f in frames]
        small = [_resize(f, s) for f, s in zip(frames, scales, strict=True)]

        # 1. proposals, mapped to full resolution
        proposals: dict[str, list[np.ndarray]] = {}
        for name in cfg.proposers:
            found = self.detectors[name].detect(small)
            floor = cfg.proposal_min_scores.get(name, 0.0)
            proposals[name] = [
                _scale_boxes(d[d[:, 4] >= floor], 1.0 / s)
                for d, s in zip(found, scales, strict=True)
            ]

        out: list[list[Detection]] = []
        for i, frame in enumerate(frames):
            per_frame = {n: proposals[n][i] for n in cfg.proposers}
            out.append(self._judge(frame, per_frame))
        return out

    def _judge(self, frame: np.ndarray, proposals: dict[str, np.ndarray]) -> list[Detection]:
        cfg = self.config
        cand = _merge_proposals(proposals, cfg.proposers, cfg.iou)
        if len(cand) == 0:
            return []
        names = cfg.detectors
        # NaN: not asked (lazy); -inf: asked, found nothing overlapping.
        scores = np.full((len(cand), len(names)), np.nan)
        boxes = np.full((len(cand), len(names), 4), np.nan, np.float32)
        for j, name in enumerate(names):
            if name in proposals:
                for k, c in enumerate(cand):
                    s, b = best_match(proposals[name], c, cfg.iou)
                    if b is not None:
                        boxes[k, j] = b
                        if name in _SELF_JUDGING:
                            scores[k, j] = s
        for j, name in enumerate(names):
            todo = np.isnan(scores[:, j])
            if cfg.lazy:
                todo &= ~np.array([self._decided(scores[k], j) for k in range(len(cand))])
            if not todo.any():
                continue
            s, b = self.detectors[name].score_regions(frame, cand[todo], cfg.iou)
            scores[todo, j] = s
            idx = np.flatnonzero(todo)
            fill = np.isnan(boxes[idx, j, 0])
            boxes[idx[fill], j] = b[fill]

        out: list[Detection] = []
        for k in range(len(cand)):
            votes = tuple(n for j, n in enumerate(names) if self._votes(n, scores[k, j]))
            j_box = next(j for j in range(len(names)) if not np.isnan(boxes[k, j, 0]))
            asked = [j for j in range(len(names)) if not np.isnan(scores[k, j])]
            combined = sum(_calibrated(names[j], scores[k, j]) for j in asked) / len(asked)
            out.append(
                Detection(
                    box=tuple(float(v) for v in boxes[k, j_box]),  # type: ignore[arg-type]
                    score=float(combined),
                    agreement=len(votes),
                    detectors=votes,
                    scores=tuple((n, float(scores[k, j])) for j, n in enumerate(names)),
                )
            )
        return out

    def _votes(self, name: str, score: float) -> bool:
        return bool(score >= self.config.vote_thresholds.get(name, np.inf))  # NaN: False

    def _decided(self, row: np.ndarray, upto: int) -> bool:
        """Whether detectors ``upto``.. can no longer change keep/reject for this candidate."""
        cfg = self.config
        names = cfg.detectors
        votes = sum(self._votes(n, row[j]) for j, n in enumerate(names))
        alone = any(
            cfg.alone_thresholds.get(n) is not None and row[j] >= cfg.alone_thresholds[n]  # type: ignore[operator]
            for j, n in enumerate(names)
        )
        if votes >= cfg.min_votes or alone:
            return True  # kept whatever the rest say
        open_ = [j for j in range(upto, len(names)) if np.isnan(row[j])]
        could_alone = any(cfg.alone_thresholds.get(names[j]) is not None for j in open_)
        return votes + len(open_) < cfg.min_votes and not could_alone

    def describe(self) -> dict[str, Any]:
        """Detectors, models and thresholds in use, for asset metadata."""
        info: dict[str, Any] = asdict(self.config)
        info["detectors"] = list(self.config.detectors)
        info["proposers"] = list(self.config.proposers)
        models: dict[str, Any] = {}
        for name, det in self.detectors.items():
            entry: dict[str, Any] = {"class": type(det).__name__}
            if isinstance(det, MTCNNDetector):
                entry |= {
                    "device": str(det.device),
                    "min_face_size": det.min_face_size,
                    "thresholds": list(det.thresholds),
                    "facenet_pytorch": _version("facenet-pytorch"),
                    "torch": _version("torch"),
                }
            elif isinstance(det, BlazeFaceDetector):
                entry |= {
                    "model": str(det.model_path),
                    "model_sha256": _sha256(det.model_path),
                    "variant": det.net.variant,
                    "region_model": str(det.region_model_path),
                    "region_model_sha256": _sha256(det.region_model_path),
                    "region_contexts": list(det.region_contexts),
                    "opencv": cv2.__version__,
                }
            elif isinstance(det, DlibDetector):
                import dlib

                entry |= {
                    "kind": "cnn-mmod" if det.cnn else "hog",
                    "upsample": det.upsample,
                    "dlib": dlib.__version__,
                }
            models[name] = entry
        info["models"] = models
        return info


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _resize(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return frame
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _scale_boxes(dets: np.ndarray, factor: float) -> np.ndarray:
    d = dets.astype(np.float32).copy()
    d[:, :4] *= factor
    return d


def _merge_proposals(
    proposals: dict[str, np.ndarray], order: Sequence[str], iou: float
) -> np.ndarray:
    """Candidate boxes: proposals in detector order, best first, dropping overlapping ones."""
    cand: list[np.ndarray] = []
    for name in order:
        d = proposals[name]
        for row in d[np.argsort(-d[:, 4], kind="stable")]:
            box = row[:4]
            if cand and iou_matrix(box[None], np.stack(cand)).max() >= iou:
                continue
            cand.append(box)
    return np.stack(cand) if cand else np.zeros((0, 4), np.float32)


def _suppress(dets: list[Detection], iou: float) -> list[Detection]:
    dets = sorted(dets, key=lambda d: -d.score)
    kept: list[Detection] = []
    for d in dets:
        b = np.asarray(d.box, np.float32)[None]
        if kept and iou_matrix(b, np.asarray([k.box for k in kept], np.float32)).max() >= iou:
            continue
        kept.append(d)
    return kept
