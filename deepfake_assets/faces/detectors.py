"""The three face detectors behind one small interface.

Every detector has a ``name`` and ``detect(frames) -> list[np.ndarray]``: for each HxWx3 uint8
RGB frame an ``(n, 5)`` float32 array of ``x1, y1, x2, y2, score`` in that frame's pixels. Scores
are each detector's own number and are *not* comparable across detectors:

* ``mtcnn``: facenet-pytorch's O-Net probability, 0..1. It is very sure of many non-faces
  (0.99 on Big Buck Bunny's cartoon rabbit), so it is a good proposer and a poor judge.
* ``blazeface``: MediaPipe's sigmoid score, 0..1. On a crop around a real face the short-range
  model gives 0.80-0.98, on the rabbit 0.36-0.80 (fixtures, see ``faces/ensemble.py``).
* ``dlib``: the HOG + linear SVM margin (``run(..., adjust_threshold)``), unbounded; 0 is the
  detector's own decision threshold, real frontal faces are usually 0.3..3.

Each detector can also *judge* boxes found by another one: ``detect_regions(frame, boxes)``
runs it on square crops around the boxes, rescaled to the size it works best at, and
``score_regions(frame, boxes, iou)`` reduces that to one score per box (its best detection
overlapping the box by ``iou``; ``-inf`` when none). This is how the ensemble lets BlazeFace
judge a 110 px face in a 1280 px photo, which is 11 px on BlazeFace's 128 px input otherwise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from deepfake_assets.faces.blazeface import BlazeFace, Variant, iou_matrix, letterbox

EMPTY = np.zeros((0, 5), np.float32)


@runtime_checkable
class FaceDetector(Protocol):
    """What the ensemble needs from a detector."""

    name: str

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]: ...

    def detect_regions(self, frame: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]: ...

    def score_regions(
        self, frame: np.ndarray, boxes: np.ndarray, iou: float
    ) -> tuple[np.ndarray, np.ndarray]: ...


def as_rgb(frame: np.ndarray) -> np.ndarray:
    """Check a frame is HxWx3 uint8 and make it contiguous (dlib and torch need that)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB frame, got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame)


def region_transforms(boxes: np.ndarray, context: float, side: int) -> np.ndarray:
    """(k, 3) rows of x0, y0, scale: a square of ``context`` x the box's longer side, centred
    on the box, resized to ``side`` pixels. Frame point p maps to (p - (x0, y0)) * scale."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    half = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]).clip(min=1.0) * context / 2
    return np.stack([cx - half, cy - half, side / (2 * half)], axis=1)


def crop_regions(frame: np.ndarray, transforms: np.ndarray, side: int) -> np.ndarray:
    """(k, side, side, 3) crops; pixels outside the frame are black (like a letterbox)."""
    out = np.zeros((len(transforms), side, side, 3), np.uint8)
    for i, (x0, y0, s) in enumerate(transforms):
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        out[i] = cv2.warpAffine(frame, m, (side, side), flags=interp, borderValue=(0, 0, 0))
    return out


def _unmap(dets: np.ndarray, x0: float, y0: float, s: float) -> np.ndarray:
    if len(dets) == 0:
        return EMPTY
    d = dets.astype(np.float32).copy()
    d[:, [0, 2]] = d[:, [0, 2]] / s + x0
    d[:, [1, 3]] = d[:, [1, 3]] / s + y0
    return d


def best_match(dets: np.ndarray, box: np.ndarray, iou: float) -> tuple[float, np.ndarray | None]:
    """The highest score among ``dets`` overlapping ``box`` by at least ``iou``."""
    if len(dets) == 0:
        return float("-inf"), None
    ious = iou_matrix(np.asarray(box, np.float32).reshape(1, 4), dets[:, :4])[0]
    ok = ious >= iou
    if not ok.any():
        return float("-inf"), None
    j = int(np.argmax(np.where(ok, dets[:, 4], -np.inf)))
    return float(dets[j, 4]), dets[j, :4]


class _RegionMixin:
    """``detect_regions`` / ``score_regions`` on top of ``detect``: crop, rescale, map back.

    A box is judged on crops of ``region_contexts`` x its size, each rescaled so the face is
    ~``region_face_px`` pixels; the score is the mean over the crops, ``region_floor`` standing
    in for a crop where nothing overlapping was found. One crop alone is noisy (a detector's
    anchors/windows fall differently); the mean is what separated faces from the fixtures'
    hard negatives.
    """

    name: str = ""
    region_contexts: tuple[float, ...] = (2.0,)
    region_face_px: int = 48
    region_floor: float = 0.0

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _region_side(self, context: float) -> int:
        return max(16, int(round(self.region_face_px * context)))

    def _detect_crops(self, crops: np.ndarray) -> list[np.ndarray]:
        return self.detect(list(crops))

    def detect_regions(
        self, frame: np.ndarray, boxes: np.ndarray, context: float | None = None
    ) -> list[np.ndarray]:
        """Per box, the detections in a crop around it, in the frame's pixels."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        ctx = self.region_contexts[len(self.region_contexts) // 2] if context is None else context
        side = self._region_side(ctx)
        t = region_transforms(boxes, ctx, side)
        found = self._detect_crops(crop_regions(as_rgb(frame), t, side))
        return [_unmap(d, *ti) for d, ti in zip(found, t, strict=True)]

    def score_regions(
        self, frame: np.ndarray, boxes: np.ndarray, iou: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per box: this detector's score for it (``-inf``: not found) and its own box (NaN)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        k = len(boxes)
        values = np.full((len(self.region_contexts), k), self.region_floor, np.float64)
        own = np.full((k, 4), np.nan, np.float32)
        found = np.zeros(k, bool)
        mid = len(self.region_contexts) // 2
        for c, ctx in enumerate(self.region_contexts):
            if k == 0:
                break
            dets = self.detect_regions(frame, boxes, ctx)
            for i, (d, b) in enumerate(zip(dets, boxes, strict=True)):
                s, ob = best_match(d, b, iou)
                if ob is None:
                    continue
                values[c, i] = max(s, self.region_floor)
                found[i] = True
                if c == mid or np.isnan(own[i, 0]):
                    own[i] = ob
        return np.where(found, values.mean(axis=0), -np.inf), own


def _group_by_shape(frames: Sequence[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, f in enumerate(frames):
        groups.setdefault(tuple(f.shape), []).append(i)
    return groups


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class MTCNNDetector(_RegionMixin):
    """facenet-pytorch's MTCNN (``keep_all``), frames of one size batched together.

    ``threads`` sets torch's intra-op thread count (the project rule: every worker sets it).
    MTCNN's cost grows with the pixel count (its image pyramid starts at ``12 / min_face_size``
    of the frame), so the ensemble hands it a downscaled frame. Region checks use 96 px crops
    (the face at ~48 px), all of one size, so they run as one batch.
    """

    name = "mtcnn"

    def __init__(
        self,
        device: str | None = None,
        min_face_size: int = 20,
        batch_size: int = 16,
        threads: int | None = None,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    ):
        import torch
        from facenet_pytorch import MTCNN

        if threads is not None:
            torch.set_num_threads(threads)
        self.device = device or default_device()
        self.min_face_size = min_face_size
        self.batch_size = batch_size
        self.thresholds = tuple(thresholds)
        self.model = MTCNN(
            keep_all=True,
            min_face_size=min_face_size,
            thresholds=list(thresholds),
            device=self.device,
            post_process=False,
        )
        if str(self.device).startswith("cpu"):
            # oneDNN runs P/R/O-Net's convolutions and max-pooling ~3x faster on channels-last
            # tensors; measured 30% off MTCNN on 640 px frames, boxes equal to 4e-5 px.
            for net in (self.model.pnet, self.model.rnet, self.model.onet):
                net.to(memory_format=torch.channels_last)
        self.region_face_px = 48  # 96 px crops at 2x: all one size, so one batch

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        out: list[np.ndarray] = [EMPTY] * len(frames)
        for shape, idx in _group_by_shape(frames).items():
            if min(shape[:2]) < 12:
                continue  # smaller than P-Net's 12 px window: nothing can be found
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                batch = np.stack([as_rgb(frames[i]) for i in chunk])
                with torch.inference_mode():
                    boxes, probs = self.model.detect(batch)
                for i, b, p in zip(chunk, boxes, probs, strict=True):
                    if b is None:
                        continue
                    arr = np.concatenate(
                        [np.asarray(b, np.float32), np.asarray(p, np.float32)[:, None]], axis=1
                    )
                    out[i] = arr.reshape(-1, 5)
        return out


class BlazeFaceDetector(_RegionMixin):
    """MediaPipe BlazeFace via OpenCV dnn.

    ``detect`` letterboxes the whole frame into the model input (``variant="full"``, the
    192 px full-range model, by default: it finds the six 100-140 px faces of the 1280 px group
    photo at 0.55-0.91, the short-range model none). ``model_path`` may be a ``.tflite`` file or
    a folder with both models; ``None`` searches ``$DEEPFAKE_BLAZEFACE_MODEL``, installed
    packages and ``../shared/fixtures/models`` (:func:`..blazeface.find_model`).
    ``min_score`` is the lowest score reported (``None``: MediaPipe's 0.5 short / 0.6 full).

    Region checks always use the short-range model (128 px input), trained on faces that fill
    much of the picture, which a crop around a candidate recreates. The score is the mean over
    crops at 1.5, 2 and 2.5 x the box (0 where nothing was found): one crop is noisy (a real
    face at 0.77 in one crop, the rabbit at 0.80 in another), the mean separates them (real
    faces >= 0.79, the rabbit <= 0.73 on the fixtures).
    """

    name = "blazeface"

    def __init__(
        self,
        model_path: Path | str | None = None,
        variant: Variant | None = None,
        min_score: float | None = None,
        region_model_path: Path | str | None = None,
        region_contexts: tuple[float, ...] = (1.5, 2.0, 2.5),
        region_min_score: float = 0.1,
        threads: int | None = None,
    ):
        if threads is not None:
            cv2.setNumThreads(threads)
        if variant is None and (model_path is None or Path(model_path).is_dir()):
            variant = "full"
        self.net = BlazeFace(model_path, variant)
        self.min_score = min_score
        self.region_contexts = tuple(region_contexts)
        self.region_min_score = region_min_score
        self.region_floor = 0.0
        if self.net.variant == "short" and region_model_path is None:
            self.region_net = self.net
        else:
            src = region_model_path
            if src is None and model_path is not None:
                # the short model beside the full one (a folder or the file's folder)
                src = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
            self.region_net = BlazeFace(src, "short")

    @property
    def model_path(self) -> Path:
        return self.net.model_path

    @property
    def region_model_path(self) -> Path:
        return self.region_net.model_path

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(frames) == 0:
            return []
        size = self.net.spec.input_size
        boxed = [letterbox(as_rgb(f), size) for f in frames]
        found = self.net.detect_square(np.stack([b[0] for b in boxed]), self.min_score)
        out = []
        for dets, (_sq, scale, px, py) in zip(found, boxed, strict=True):
            d = dets.copy()
            d[:, [0, 2]] = (d[:, [0, 2]] * size - px) / scale
            d[:, [1, 3]] = (d[:, [1, 3]] * size - py) / scale
            out.append(d)
        return out

    def _region_side(self, context: float) -> int:
        return self.region_net.spec.input_size

    def _detect_crops(self, crops: np.ndarray) -> list[np.ndarray]:
        side = self.region_net.spec.input_size
        out = []
        for d in self.region_net.detect_square(crops, self.region_min_score):
            d = d.copy()
            d[:, :4] *= side
            out.append(d)
        return out


class DlibDetector(_RegionMixin):
    """dlib's HOG frontal-face detector; optionally its CNN (MMOD) model.

    HOG scores are SVM margins from ``run(img, upsample, adjust_threshold)``: boxes down to
    ``adjust_threshold`` are reported so the ensemble can see weak evidence. HOG only finds
    faces of ~80 px (40 px with ``upsample=1``) and up, frontal-ish.

    Region checks: crops at 1.5, 2 and 2.5 x the box, the face at ~100 px, no upsampling,
    score = mean margin (``adjust_threshold`` where nothing was found). About 15 ms a box on
    one core; on the fixtures the astronaut gets >= 1.10, the group photo >= 0.45, the
    cartoon rabbit <= 0.46 (a single 2x crop: astronaut 0.83, rabbit up to 0.77).

    ``cnn=True`` loads ``mmod_human_face_detector.dat`` from ``face_recognition_models``
    (located without importing it: its ``__init__`` needs ``pkg_resources``); its score is the
    MMOD confidence. It is much slower on CPU (benchmarks/detector_bench.py), so it is off.
    """

    name = "dlib"

    def __init__(
        self,
        upsample: int = 1,
        adjust_threshold: float = -0.5,
        cnn: bool = False,
        cnn_model_path: Path | str | None = None,
        region_upsample: int = 0,
    ):
        import dlib

        self.upsample = upsample
        self.region_upsample = region_upsample
        self.adjust_threshold = adjust_threshold
        self.cnn = cnn
        if cnn:
            path = Path(cnn_model_path) if cnn_model_path else mmod_model_path()
            self.model = dlib.cnn_face_detection_model_v1(str(path))
        else:
            self.model = dlib.get_frontal_face_detector()
        self.region_contexts = (1.5, 2.0, 2.5)
        self.region_face_px = 100
        self.region_floor = adjust_threshold

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self._detect(frames, self.upsample)

    def _detect_crops(self, crops: np.ndarray) -> list[np.ndarray]:
        return self._detect(list(crops), self.region_upsample)

    def _detect(self, frames: Sequence[np.ndarray], upsample: int) -> list[np.ndarray]:
        out = []
        for f in frames:
            img = as_rgb(f)
            if self.cnn:
                dets = self.model(img, upsample)
                rows = [[*_rect(d.rect), d.confidence] for d in dets]
            else:
                rects, scores, _ = self.model.run(img, upsample, self.adjust_threshold)
                rows = [[*_rect(r), s] for r, s in zip(rects, scores, strict=True)]
            out.append(np.asarray(rows, np.float32).reshape(-1, 5))
        return out


def _rect(r) -> tuple[int, int, int, int]:
    # dlib rectangles are inclusive; ours are half-open like numpy slices.
    return r.left(), r.top(), r.right() + 1, r.bottom() + 1


def mmod_model_path() -> Path:
    """``mmod_human_face_detector.dat`` as shipped by the ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face_recognition_models is not installed")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "models" / "mmod_human_face_detector.dat"
        if p.is_file():
            return p
    raise FileNotFoundError("mmod_human_face_detector.dat not found in face_recognition_models")
