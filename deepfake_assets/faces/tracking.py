"""Link per-frame face detections into tracks and decide whether a video's frames suffice.

Pure numpy; detections are anything with ``.box`` (x1, y1, x2, y2) and ``.score`` (the
ensemble's ``Detection``), or plain ``(n, 4)`` box arrays.

The ``complete_tracks`` rule (the default; seed 001's preparation, old name ``seed001``):

* Boxes are linked frame to frame (sampled frames, in order) by nearest neighbour of their
  centres: a detection continues a track only if its centre lies within ``max_jump`` times
  the track's last box size (the longer side) of the track's last centre, and the two box
  sizes differ by at most ``max_size_ratio``. Pairs are taken greedily, closest first, so two
  faces never share a track. A track may skip frames and pick up again.
* A gap of exactly one sampled frame, with the track present on both sides, is filled by
  linear interpolation in frame-index time and flagged ``interpolated``. Longer gaps stay.
* The main track is the one detected in the most frames (ties: higher mean score, then larger
  mean box). Other tracks are kept (up to ``max_tracks`` in all) only if detected in at least
  half of the sampled frames: "if a second face was found in less than half of the frames,
  only one face sequence was kept".
* The video's frames are ``complete`` when the main track is present (detected or
  interpolated) in every sampled frame; otherwise ``needs_resample`` is set, and the caller
  tries again with shifted frames.

The ``per_frame_faces`` rule (seed 000's preparation, old name ``seed000``): frames where
the detector finds no face or more than ``max_faces`` (2) faces are dropped; the faces in the
other frames are all kept, with track ids from the same linking but without interpolation or
the half-of-frames rule. It never asks for resampling; it is ``complete`` when at least one
frame survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from deepfake_assets.faces.reasons import ReasonCode, reason_text

Rule = Literal["complete_tracks", "per_frame_faces"]
RULES: tuple[Rule, ...] = ("complete_tracks", "per_frame_faces")
# the names the rules had first, after the two published preparations; still accepted
RULE_ALIASES: dict[str, Rule] = {"seed001": "complete_tracks", "seed000": "per_frame_faces"}


def resolve_rule(name: str) -> Rule:
    """The rule a name means (an old alias gives its new name); ``ValueError`` otherwise."""
    rule = RULE_ALIASES.get(name, name)
    if rule not in RULES:
        known = ", ".join([*RULES, *RULE_ALIASES])
        raise ValueError(f"unknown tracking rule {name!r}; choose one of {known}")
    return rule  # type: ignore[return-value]


@dataclass(frozen=True)
class TrackedFace:
    """One face box in one sampled frame, after tracking."""

    frame_index: int
    track: int
    box: tuple[float, float, float, float]
    score: float  # NaN when interpolated
    interpolated: bool
    detection: Any = None  # the detector's object for this box (None when interpolated)


@dataclass
class Track:
    """One face followed across sampled frames; ``faces`` sorted by frame."""

    track: int
    faces: list[TrackedFace]
    detected: int  # frames with a real detection
    mean_score: float

    @property
    def frame_indices(self) -> list[int]:
        return [f.frame_index for f in self.faces]


@dataclass
class TrackingResult:
    frame_indices: list[int]
    tracks: list[Track]  # kept tracks, track 0 = main
    complete: bool
    needs_resample: bool
    reason: str | None  # None when complete; "no_face", "incomplete_track: ...", ...
    missing_frames: list[int] = field(default_factory=list)  # main track absent (complete_tracks)
    dropped_frames: dict[int, str] = field(default_factory=dict)  # per_frame_faces drops
    discarded_tracks: int = 0
    reason_code: ReasonCode | None = None  # ``reason``'s cause, typed
    reason_detail: str | None = None

    @property
    def faces(self) -> list[TrackedFace]:
        """All kept faces, sorted by frame then track."""
        out = [f for t in self.tracks for f in t.faces]
        return sorted(out, key=lambda f: (f.frame_index, f.track))

    def boxes_by_frame(self) -> dict[int, list[TrackedFace]]:
        out: dict[int, list[TrackedFace]] = {i: [] for i in self.frame_indices}
        for f in self.faces:
            out[f.frame_index].append(f)
        return out


def _as_boxes(dets: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """(boxes (n,4), scores (n,), original objects) from detections or an array."""
    if isinstance(dets, np.ndarray):
        arr = np.asarray(dets, dtype=np.float64).reshape(-1, dets.shape[-1] if dets.size else 4)
        boxes = arr[:, :4]
        scores = arr[:, 4] if arr.shape[1] > 4 else np.ones(len(arr))
        return boxes, scores, [None] * len(arr)
    items = list(dets)
    if not items:
        return np.zeros((0, 4)), np.zeros(0), []
    boxes = np.array([[float(v) for v in d.box] for d in items], dtype=np.float64)
    scores = np.array([float(getattr(d, "score", 1.0)) for d in items], dtype=np.float64)
    return boxes, scores, items


def _centre(b: np.ndarray) -> np.ndarray:
    return np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2], axis=-1)


def _size(b: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]), 1e-6)


def link(
    boxes_per_frame: Sequence[np.ndarray],
    max_jump: float = 1.0,
    max_size_ratio: float = 2.0,
) -> list[dict[int, int]]:
    """Greedy nearest-neighbour linking. Returns tracks as ``{frame position: box row}``."""
    tracks: list[dict[int, int]] = []
    last: list[np.ndarray] = []
    for pos, boxes in enumerate(boxes_per_frame):
        n = len(boxes)
        if n == 0:
            continue
        taken = np.zeros(n, dtype=bool)
        if tracks:
            prev = np.array(last)
            d = np.linalg.norm(_centre(prev)[:, None, :] - _centre(boxes)[None, :, :], axis=-1)
            ps, bs = _size(prev)[:, None], _size(boxes)[None, :]
            ok = (d <= max_jump * ps) & (np.maximum(ps, bs) / np.minimum(ps, bs) <= max_size_ratio)
            used_t = np.zeros(len(tracks), dtype=bool)
            for flat in np.argsort(np.where(ok, d, np.inf), axis=None, kind="stable"):
                ti, bi = divmod(int(flat), n)
                if not ok[ti, bi]:
                    break
                if used_t[ti] or taken[bi]:
                    continue
                used_t[ti] = taken[bi] = True
                tracks[ti][pos] = bi
                last[ti] = boxes[bi]
        for bi in np.flatnonzero(~taken):
            tracks.append({pos: int(bi)})
            last.append(boxes[bi])
    return tracks


def track_faces(
    frame_indices: Sequence[int],
    detections: Sequence[Any],
    *,
    rule: Rule | str = "complete_tracks",
    max_jump: float = 1.0,
    max_size_ratio: float = 2.0,
    min_track_fraction: float = 0.5,
    max_tracks: int = 3,
    max_faces: int = 2,
    interpolate: bool = True,
) -> TrackingResult:
    """Track faces over sampled frames; ``detections[i]`` belongs to ``frame_indices[i]``.

    Each ``detections[i]`` is a list of objects with ``.box``/``.score`` or an ``(n, 4|5)``
    array (a fifth column is the score).
    """
    if len(frame_indices) != len(detections):
        raise ValueError("frame_indices and detections differ in length")
    order = np.argsort(np.asarray(frame_indices, dtype=np.int64), kind="stable")
    fidx = [int(frame_indices[i]) for i in order]
    parsed = [_as_boxes(detections[i]) for i in order]
    n_frames = len(fidx)

    if n_frames == 0:
        return TrackingResult([], [], False, False, "no_frames", reason_code=ReasonCode.NO_FRAMES)

    if resolve_rule(rule) == "per_frame_faces":
        return _per_frame_faces(fidx, parsed, max_jump, max_size_ratio, max_faces)

    links = link([p[0] for p in parsed], max_jump, max_size_ratio)
    if not links:
        return TrackingResult(
            fidx,
            [],
            False,
            True,
            "no_face",
            missing_frames=list(fidx),
            discarded_tracks=0,
            reason_code=ReasonCode.NO_FACE,
        )

    def rank_key(tr: dict[int, int]) -> tuple[float, float, float]:
        scores = [parsed[pos][1][bi] for pos, bi in tr.items()]
        areas = [
            float(np.prod(parsed[pos][0][bi, 2:] - parsed[pos][0][bi, :2]))
            for pos, bi in tr.items()
        ]
        return (-len(tr), -float(np.mean(scores)), -float(np.mean(areas)))

    ranked = sorted(links, key=rank_key)
    kept = [ranked[0]] + [t for t in ranked[1:] if len(t) >= min_track_fraction * n_frames]
    kept = kept[: max(max_tracks, 1)]
    tracks = [_build_track(tid, tr, fidx, parsed, interpolate) for tid, tr in enumerate(kept)]
    main_frames = set(tracks[0].frame_indices)
    missing = [f for f in fidx if f not in main_frames]
    complete = not missing
    code, detail = None, None
    if not complete:
        code = ReasonCode.INCOMPLETE_TRACK
        detail = f"main face missing in {len(missing)} of {n_frames} frames"
    return TrackingResult(
        frame_indices=fidx,
        tracks=tracks,
        complete=complete,
        needs_resample=not complete,
        reason=reason_text(code, detail),
        missing_frames=missing,
        discarded_tracks=len(links) - len(kept),
        reason_code=code,
        reason_detail=detail,
    )


def _build_track(
    tid: int,
    tr: dict[int, int],
    fidx: list[int],
    parsed: list[tuple[np.ndarray, np.ndarray, list[Any]]],
    interpolate: bool,
) -> Track:
    faces: list[TrackedFace] = []
    for pos, bi in sorted(tr.items()):
        boxes, scores, objs = parsed[pos]
        faces.append(
            TrackedFace(
                frame_index=fidx[pos],
                track=tid,
                box=tuple(float(v) for v in boxes[bi]),  # type: ignore[arg-type]
                score=float(scores[bi]),
                interpolated=False,
                detection=objs[bi],
            )
        )
    detected = len(faces)
    mean_score = float(np.mean([f.score for f in faces])) if faces else float("nan")
    if interpolate:
        for pos in range(1, len(fidx) - 1):
            if pos in tr or (pos - 1) not in tr or (pos + 1) not in tr:
                continue
            a = parsed[pos - 1][0][tr[pos - 1]]
            b = parsed[pos + 1][0][tr[pos + 1]]
            span = fidx[pos + 1] - fidx[pos - 1]
            t = (fidx[pos] - fidx[pos - 1]) / span if span else 0.5
            box = (1 - t) * a + t * b
            faces.append(
                TrackedFace(
                    frame_index=fidx[pos],
                    track=tid,
                    box=tuple(float(v) for v in box),  # type: ignore[arg-type]
                    score=float("nan"),
                    interpolated=True,
                )
            )
        faces.sort(key=lambda f: f.frame_index)
    return Track(track=tid, faces=faces, detected=detected, mean_score=mean_score)


def _per_frame_faces(
    fidx: list[int],
    parsed: list[tuple[np.ndarray, np.ndarray, list[Any]]],
    max_jump: float,
    max_size_ratio: float,
    max_faces: int,
) -> TrackingResult:
    dropped: dict[int, str] = {}
    boxes_kept: list[np.ndarray] = []
    for f, (boxes, _, _) in zip(fidx, parsed, strict=True):
        if len(boxes) == 0:
            dropped[f] = "no_face"
            boxes_kept.append(np.zeros((0, 4)))
        elif len(boxes) > max_faces:
            dropped[f] = f"too_many_faces: {len(boxes)}"
            boxes_kept.append(np.zeros((0, 4)))
        else:
            boxes_kept.append(boxes)
    links = link(boxes_kept, max_jump, max_size_ratio)
    links.sort(key=lambda tr: (-len(tr), min(tr)))
    tracks = [_build_track(tid, tr, fidx, parsed, False) for tid, tr in enumerate(links)]
    complete = len(dropped) < len(fidx)
    if complete:
        code = None
    elif all(r == "no_face" for r in dropped.values()):
        code = ReasonCode.NO_FACE
    else:
        code = ReasonCode.NO_FRAME_WITH_ONE_OR_TWO_FACES
    return TrackingResult(
        frame_indices=fidx,
        tracks=tracks,
        complete=complete,
        needs_resample=False,
        reason=reason_text(code, None),
        missing_frames=sorted(dropped),
        dropped_frames=dropped,
        reason_code=code,
    )
