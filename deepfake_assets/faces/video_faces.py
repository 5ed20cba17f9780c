"""The per-video face pipeline: planned frames -> detections -> tracks -> crops -> rows.

One call handles one video and never raises: every failure (unreadable file, no face, a
track that stays incomplete, a fake shorter than its original) becomes ``status`` +
``reason`` on the returned ``VideoFaces``, so one bad file cannot stop a source.

Real videos (seed 001): decode the planned frames (one ``FrameReader`` per video: one packet
scan for all tries, one decode pass per try), detect with the ensemble, track. The first frame
of a try is decoded and detected alone first (``probe_first_frame``): with no face there the try
cannot be complete (a first frame has no neighbour to interpolate from), so the rest of it is
skipped. If the main face is not in every sampled frame after filling gaps of one, the plan is
shifted by ``resample_offset`` (20) frames per try (``sampling.shift_indices``: the original
plan + 20 k, wrapping past the end) and tried again, at most ``max_resamples`` (5) times; then
the video is discarded. A shift that lands on exactly the frames of an earlier try (short videos
wrap around) is skipped, not decoded again: the verdict would be the same. Only the final try's
crops are written.

Still images (``media/still_images.py``) are items with one frame, index 0, read by an
``ImageReader`` behind the same interface: detected with the same ensemble under seed 000's
rule (no face or more than two: discarded), never tracked over time or re-sampled.

Fake replicates are never detected on: the fake's frames at the original's final indices are
decoded once and cropped at the original's boxes ("the same face bounding box coordinates and
video frames were sampled from the fake replicates"). A fake whose original is missing from
the dataset (``process_orphan_fake``) goes through the real pipeline and is flagged.

Crops go to ``out_dir/<slug>-<hash>/<frame:06d>_<track>_{160,299,raw}.png`` (``safe_video_dir``:
one folder per video id, never shared), written atomically;
rows name them relative to ``cfg.relative_to`` (default ``out_dir``).

Many videos run through the ``compute`` executor (``faces/families.py``: an original and its
fakes are one task, one ``FaceEnsemble`` per worker process), which yields results as they
finish, so callers can persist each video at once and a rerun can skip what is done.

Statuses: ``ok`` (``reason`` may carry notes such as ``orphan_fake`` or
``fake_shorter_than_original: ...``), ``discarded`` (the data is unusable: ``no_face``,
``incomplete_track_after_5_resamples``, ``decode_error: ...``, ``too_few_frames...``,
``geometry_mismatch: ...``, ``original_not_ok: ...``), and ``failed`` (the machinery broke:
a worker process died, the detector raised, a crop could not be written, the original failed;
worth retrying, unlike ``discarded``).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from deepfake_assets.faces.crops import CropError, CropSpec, make_crops, scale_box
from deepfake_assets.faces.reasons import ReasonCode, reason_text
from deepfake_assets.faces.sampling import shift_indices
from deepfake_assets.faces.tracking import (
    Rule,
    TrackedFace,
    TrackingResult,
    resolve_rule,
    track_faces,
)
from deepfake_assets.identity.hashing import phash, phash_batch, to_int64
from deepfake_assets.media.frames import DecodedFrames, FrameReader, VideoDecodeError
from deepfake_assets.media.reasons import relative_reason
from deepfake_assets.media.still_images import (
    ImageReader,
    is_image_path,
    open_reader,
    read_item_frames,
)
from deepfake_assets.media.written_files import WrittenFile, write_png_verified

if TYPE_CHECKING:
    from deepfake_assets.faces.ensemble import FaceEnsemble

Role = Literal["real", "fake", "orphan_fake"]
Status = Literal["ok", "discarded", "failed"]

FACES_SCHEMA = pl.Schema(
    {
        "video_id": pl.Utf8,
        "frame_index": pl.Int64,
        "track": pl.Int32,
        "x1": pl.Float64,
        "y1": pl.Float64,
        "x2": pl.Float64,
        "y2": pl.Float64,
        "score": pl.Float64,  # null when interpolated
        "agreement": pl.Int32,  # detectors that agreed on the box; 0 when interpolated
        "detectors": pl.List(pl.Utf8),
        "interpolated": pl.Boolean,
        "box_source": pl.Utf8,  # video whose detections gave the box (the original for fakes)
        "crop_160": pl.Utf8,
        "crop_299": pl.Utf8,
        "crop_raw": pl.Utf8,
        "phash_160": pl.Int64,  # pHash of the 160x160 crop, taken while it is in memory
    }
)

CROP_KINDS = ("160", "299", "raw")
_CROP_NAME = re.compile(r"^\d{6}_\d+_(160|299|raw)\.png$")


@dataclass(frozen=True)
class VideoFacesConfig:
    """How one video is processed (seed 001 defaults)."""

    resample_offset: int = 20
    max_resamples: int = 5
    rule: Rule = "complete_tracks"  # or per_frame_faces; the old seed001/seed000 are aliases
    # complete_tracks: detect a try's first frame alone first; with no face there the try can
    # never be complete (a first frame has no neighbour to interpolate from), so the rest of
    # the try is neither decoded nor detected and the next try starts. Same status, frames and
    # faces, far less work on faceless videos; a discarded video's reason reads ``no_face`` when
    # no frame examined had one (faces only in skipped frames would otherwise have made it
    # ``incomplete_track_after_5_resamples``). False: every planned frame of every try is
    # examined.
    probe_first_frame: bool = True
    max_jump: float = 1.0
    max_size_ratio: float = 2.0
    min_track_fraction: float = 0.5
    max_tracks: int = 3
    max_faces: int = 2  # per_frame_faces rule only
    min_frames: int = 1  # fewer decoded frames than this: discarded too_few_frames
    crops: CropSpec = field(default_factory=CropSpec)
    write_crops: bool = True
    relative_to: Path | None = None  # crop paths in rows are relative to this (default out_dir)
    png_compression: int = 3
    aspect_tolerance: float = 0.02  # a fake at another size but this aspect gets scaled boxes

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", resolve_rule(self.rule))


@dataclass
class Attempt:
    """One try of a video's frame plan (``offset`` frames after the first plan)."""

    offset: int
    requested: int = 0  # frames planned
    decoded: int = 0
    missing: list[int] = field(default_factory=list)  # planned frames that did not decode
    skipped: str | None = None  # why the try was not decoded at all (same frames as before)
    stopped_early: bool = False  # no face in the first frame: the rest was not examined
    frames_with_face: int | None = None
    tracks: int | None = None
    verdict: str | None = None  # "complete", the tracker's reason, or why it stopped


@dataclass
class VideoFaces:
    """What one video produced: status, the frames finally used, and its ``faces`` rows."""

    video_id: str
    role: Role
    status: Status
    reason: str | None  # what a person reads; ``reason_code`` and ``reason_detail`` to filter
    frame_indices: list[int] = field(default_factory=list)  # final frames (decoded, used)
    tries: int = 0  # tries decoded (a try that wraps onto an earlier one's frames is not)
    faces: list[dict[str, Any]] = field(default_factory=list)  # FACES_SCHEMA rows
    frame_size: tuple[int, int] | None = None  # (width, height) of the decoded frames
    frame_count: int | None = None  # as the decoder reported it
    original_video_id: str | None = None
    attempts: list[Attempt] = field(default_factory=list)  # one entry per try
    # pHash (stored int64) of each final frame, computed while the frame is decoded so the
    # dedup stage never decodes a video again
    frame_hashes: list[int] = field(default_factory=list)
    reason_code: ReasonCode | None = None  # why it is not ok (or ``orphan_fake``); None: ok
    reason_detail: str | None = None  # the rest of ``reason``: the numbers, notes, errors
    # the crops of ``faces`` as their writer verified them (see media/written_files.py); empty
    # in results staged before it existed: those crops are checked again by the export
    written: list[WrittenFile] = field(default_factory=list)

    @classmethod
    def broken(
        cls, video_id: str, role: Role, code: ReasonCode, detail: str | None = None, **kw: Any
    ) -> VideoFaces:
        """A ``failed`` result: the machinery broke before or while this video was processed."""
        res = cls(video_id, role, "failed", None, **kw)
        return res.because(code, detail)

    def because(
        self, code: ReasonCode | None, detail: str | None = None, *, text: str | None = None
    ) -> VideoFaces:
        """Set the reason: the code, the detail, and the text (default ``code: detail``)."""
        self.reason_code, self.reason_detail = code, detail or None
        self.reason = text if text is not None else reason_text(code, detail)
        return self

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def faces_frame(self) -> pl.DataFrame:
        """The ``faces`` rows as a table with ``FACES_SCHEMA`` (zero rows when none)."""
        return pl.DataFrame(self.faces, schema=FACES_SCHEMA, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable; ``from_dict`` restores it (resumed runs rebuild originals)."""
        d = asdict(self)
        d["frame_size"] = list(self.frame_size) if self.frame_size else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoFaces:
        d = dict(d)
        if d.get("frame_size") is not None:
            d["frame_size"] = tuple(d["frame_size"])
        d["attempts"] = [Attempt(**a) for a in d.get("attempts", ())]
        d["written"] = [WrittenFile(**w) for w in d.get("written", ())]
        if d.get("reason_code") is not None:
            d["reason_code"] = ReasonCode(d["reason_code"])
        return cls(**d)


# --------------------------------------------------------------------------- helpers


def safe_video_dir(video_id: str) -> str:
    """The crop folder of a video: a readable slug of its id, then a hash of the whole id.

    Slugs alone collide (``a b`` and ``a_b``, ``vidé`` and ``vidè`` give one slug), and two
    videos sharing a folder overwrite and delete each other's crops; the hash (64 bits of the
    SHA-1 of the exact id) keeps them apart. Video ids are unique within a source and every
    source has its own folder (``faces/<source>/``), so the folder is unique per video.
    """
    ascii_id = unicodedata.normalize("NFKD", video_id).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_id).strip("._-")[:80].rstrip("._-")
    digest = hashlib.sha1(video_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{slug or 'video'}-{digest}"


def video_dirs(video_ids: Iterable[str]) -> dict[str, str]:
    """``safe_video_dir`` of every id; raises ``ValueError`` naming any two that share one
    (a 64-bit hash collision: never expected, but crops must not be mixed up silently)."""
    owner: dict[str, str] = {}
    for video_id in video_ids:
        folder = safe_video_dir(video_id)
        other = owner.setdefault(folder, video_id)
        if other != video_id:
            raise ValueError(f"videos {other!r} and {video_id!r} map to one crop folder {folder}")
    return {video_id: folder for folder, video_id in owner.items()}


def remove_orphan_crop_folders(out_dir: Path, video_ids: Iterable[str]) -> int:
    """Delete the crops of folders under ``out_dir`` that belong to none of ``video_ids``
    (videos no longer usable, or folders of an older naming); returns how many were removed.

    Only crop files are deleted, and a folder only once it is empty.
    """
    keep = set(video_dirs(video_ids).values())
    removed = 0
    for folder in Path(out_dir).iterdir() if Path(out_dir).is_dir() else ():
        if folder.name in keep or not folder.is_dir() or folder.is_symlink():
            continue
        for p in folder.iterdir():
            if _CROP_NAME.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)
        try:
            folder.rmdir()
            removed += 1
        except OSError:
            pass  # something else lives there: leave it
    return removed


def crop_path(out_dir: Path, video_id: str, frame_index: int, track: int, kind: str) -> Path:
    return Path(out_dir) / safe_video_dir(video_id) / f"{frame_index:06d}_{track}_{kind}.png"


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


def _frame_hashes(frames: dict[int, np.ndarray], indices: list[int]) -> list[int]:
    if not indices:
        return []
    return [int(h) for h in to_int64(phash_batch([frames[i] for i in indices]))]


def _err(e: BaseException) -> str:
    msg = str(e).strip().replace("\n", " ")
    return f"{type(e).__name__}: {msg}"[:500] if msg else type(e).__name__


def _write_crops(
    frame: np.ndarray,
    box: Sequence[float],
    video_id: str,
    frame_index: int,
    track: int,
    out_dir: Path,
    cfg: VideoFacesConfig,
    written: list[WrittenFile],
) -> dict[str, str | int | None]:
    """Write one face's crops (each verified, appended to `written`); the row's path columns."""
    root = Path(cfg.relative_to) if cfg.relative_to is not None else Path(out_dir)
    if not cfg.write_crops:
        return {**{f"crop_{k}": None for k in CROP_KINDS}, "phash_160": None}
    crops = make_crops(frame, box, cfg.crops)
    out: dict[str, str | int | None] = {"phash_160": int(to_int64(phash(crops.small)))}
    for kind, img in zip(CROP_KINDS, (crops.small, crops.large, crops.raw), strict=True):
        path = crop_path(out_dir, video_id, frame_index, track, kind)
        rel = Path(os.path.relpath(path, root)).as_posix()
        written.append(write_png_verified(path, img, rel, cfg.png_compression))
        out[f"crop_{kind}"] = rel
    return out


def _written_of(written: list[WrittenFile], rows: list[dict[str, Any]]) -> list[WrittenFile]:
    """The last verified write of each crop the final rows name (a path written twice, by two
    tracks of one frame, keeps its last key)."""
    names = {r[f"crop_{k}"] for r in rows for k in CROP_KINDS if r[f"crop_{k}"]}
    return list({w.path: w for w in written if w.path in names}.values())


def _remove_stale_crops(out_dir: Path, video_id: str, keep: set[str]) -> None:
    """Delete this video's crops from an earlier run that the new result does not name."""
    folder = Path(out_dir) / safe_video_dir(video_id)
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if _CROP_NAME.match(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)


def _rows_from_tracking(
    tr: TrackingResult,
    frames: dict[int, np.ndarray],
    video_id: str,
    out_dir: Path,
    cfg: VideoFacesConfig,
) -> tuple[list[dict[str, Any]], list[str], list[WrittenFile]]:
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    written: list[WrittenFile] = []
    for f in tr.faces:
        try:
            paths = _write_crops(
                frames[f.frame_index],
                f.box,
                video_id,
                f.frame_index,
                f.track,
                out_dir,
                cfg,
                written,
            )
        except CropError as e:
            problems.append(f"crop_error at frame {f.frame_index}: {e}")
            continue
        rows.append(_face_row(video_id, f, video_id, paths))
    return rows, problems, _written_of(written, rows)


def _face_row(
    video_id: str,
    f: TrackedFace,
    box_source: str,
    paths: dict[str, str | None],
) -> dict[str, Any]:
    det = f.detection
    x1, y1, x2, y2 = (float(v) for v in f.box)
    score = None if f.interpolated or not np.isfinite(f.score) else float(f.score)
    return {
        "video_id": video_id,
        "frame_index": int(f.frame_index),
        "track": int(f.track),
        "x1": x1,
        "y1": y1,
        "x2": x2,
        "y2": y2,
        "score": score,
        "agreement": int(getattr(det, "agreement", 0 if f.interpolated else 1)),
        "detectors": [str(d) for d in getattr(det, "detectors", ())],
        "interpolated": bool(f.interpolated),
        "box_source": box_source,
        **paths,
    }


# --------------------------------------------------------------------------- real videos


def _detect_video(
    path: Path,
    video_id: str,
    plan_indices: Iterable[int],
    ensemble: FaceEnsemble,
    out_dir: Path,
    cfg: VideoFacesConfig,
    role: Role,
) -> VideoFaces:
    res = VideoFaces(video_id=video_id, role=role, status="discarded", reason=None)
    base = sorted({int(i) for i in plan_indices if int(i) >= 0})
    if not base:
        res.because(ReasonCode.TOO_FEW_FRAMES, "empty plan")
        return res
    if is_image_path(path):
        # a still image is one frame: nothing to track or re-sample; the per_frame_faces rule
        # (seed 000's) drops it when it shows no face or more than two
        cfg = replace(cfg, rule="per_frame_faces", max_resamples=0)
        base = [0]
    max_tries = 1 + (max(cfg.max_resamples, 0) if cfg.rule == "complete_tracks" else 0)
    with open_reader(path) as reader:  # videos: one packet scan for all tries
        return _try_plans(reader, res, base, max_tries, video_id, ensemble, out_dir, cfg)


def _read_and_detect(
    reader: FrameReader | ImageReader, indices: list[int], ensemble: FaceEnsemble, probe: bool
) -> tuple[DecodedFrames, list[Any] | None, bool]:
    """Decode and detect one try's frames: ``(frames, detections, stopped_early)``.

    With ``probe``, the first frame is decoded and detected alone; no face there stops the try
    (``detections`` holds that frame's only). ``detections`` is ``None`` when nothing decoded.
    Detector errors propagate as ``_DetectError``.
    """
    first = None
    if probe and len(indices) > 1:
        try:
            first = reader.read(indices[:1], upcoming=indices[1:])
        except VideoDecodeError:
            first = None  # the first frame itself is unreadable: read the whole try, which says why
    if first is None or not first.frames:
        decoded = reader.read(indices)
        return decoded, (_detect(ensemble, decoded.frames) if decoded.frames else None), False
    dets = _detect(ensemble, first.frames)
    if not dets[0]:
        return first, dets, True
    try:
        rest = reader.read(indices[1:])
    except VideoDecodeError as e:  # nothing after the first frame decodes
        rest = DecodedFrames([], [], list(indices[1:]), first.frame_count, errors=[str(e)])
    return first.followed_by(rest), dets + _detect(ensemble, rest.frames), False


def _detect(ensemble: FaceEnsemble, frames: list[np.ndarray]) -> list[Any]:
    try:
        return list(ensemble.detect(frames)) if frames else []
    except Exception as e:  # noqa: BLE001 - whatever the detector raises, it is not the video
        raise _DetectError(e) from e


class _DetectError(Exception):
    """The detector broke (not the video): the video is ``failed``, worth retrying."""


def _try_plans(
    reader: FrameReader | ImageReader,
    res: VideoFaces,
    base: list[int],
    max_tries: int,
    video_id: str,
    ensemble: FaceEnsemble,
    out_dir: Path,
    cfg: VideoFacesConfig,
) -> VideoFaces:
    any_face = False
    # min_frames > 1 wants every try's decode count checked before detection: no probe then
    probe = cfg.probe_first_frame and cfg.rule == "complete_tracks" and cfg.min_frames <= 1
    tried: set[tuple[int, ...]] = set()
    for k in range(max_tries):
        offset = k * cfg.resample_offset
        indices = base if k == 0 else shift_indices(base, offset, res.frame_count)
        if tuple(indices) in tried:
            # a short video wraps back onto frames already tried: same frames, same verdict
            res.attempts.append(Attempt(offset, skipped="same frames as an earlier try"))
            continue
        tried.add(tuple(indices))
        res.tries += 1
        try:
            decoded, dets, stopped = _read_and_detect(reader, indices, ensemble, probe)
        except _DetectError as e:  # the detector broke, not the video: retryable
            res.status = "failed"
            return res.because(ReasonCode.DETECT_ERROR, _err(e.__cause__ or e))
        except VideoDecodeError as e:
            return res.because(ReasonCode.DECODE_ERROR, str(e))
        except Exception as e:  # noqa: BLE001 - any reader failure is this video's problem
            return res.because(ReasonCode.DECODE_ERROR, _err(e))
        if decoded.frame_count is not None:
            res.frame_count = int(decoded.frame_count)
        attempt = Attempt(offset, len(indices), len(decoded.frames), list(decoded.missing))
        res.attempts.append(attempt)
        if decoded.frames:
            res.frame_size = (int(decoded.frames[0].shape[1]), int(decoded.frames[0].shape[0]))
        if stopped:
            attempt.stopped_early, attempt.frames_with_face, attempt.tracks = True, 0, 0
            attempt.verdict = f"no face in the first sampled frame ({indices[0]}): stopped"
            continue
        if len(decoded.frames) < max(cfg.min_frames, 1) or dets is None:
            return res.because(
                ReasonCode.TOO_FEW_FRAMES,
                f"decoded {len(decoded.frames)} of {len(indices)} planned"
                + (f" (video has {res.frame_count})" if res.frame_count is not None else ""),
            )
        tr = track_faces(
            decoded.indices,
            dets,
            rule=cfg.rule,
            max_jump=cfg.max_jump,
            max_size_ratio=cfg.max_size_ratio,
            min_track_fraction=cfg.min_track_fraction,
            max_tracks=cfg.max_tracks,
            max_faces=cfg.max_faces,
        )
        any_face = any_face or bool(tr.tracks)
        attempt.frames_with_face = sum(1 for d in dets if len(d))
        attempt.tracks, attempt.verdict = len(tr.tracks), tr.reason or "complete"
        if tr.complete:
            frames = dict(zip(decoded.indices, decoded.frames, strict=True))
            try:
                rows, problems, written = _rows_from_tracking(tr, frames, video_id, out_dir, cfg)
            except Exception as e:  # noqa: BLE001 - disk full, permissions, ...
                res.status = "failed"
                return res.because(ReasonCode.WRITE_ERROR, _err(e))
            used = sorted({r["frame_index"] for r in rows})
            if not rows:
                detail = _join(*problems)
                return res.because(ReasonCode.NO_FACE, detail, text=_join("no_face", detail))
            res.status = "ok"
            res.faces, res.written = rows, written
            res.frame_indices = used
            res.frame_hashes = _frame_hashes(frames, used)
            notes = _join(
                f"resampled with offset {offset}" if k else None,
                f"missing frames {list(decoded.missing)}" if decoded.missing else None,
                f"dropped frames {sorted(tr.dropped_frames)}" if tr.dropped_frames else None,
                *problems,
            )
            res.because(None, notes)
            if cfg.write_crops:
                keep = {
                    Path(r[f"crop_{kind}"]).name
                    for r in rows
                    for kind in CROP_KINDS
                    if r[f"crop_{kind}"]
                }
                _remove_stale_crops(out_dir, video_id, keep)
            return res
        if not tr.needs_resample:
            return res.because(tr.reason_code, tr.reason_detail, text=tr.reason)
    if not any_face:
        return res.because(ReasonCode.NO_FACE)
    n = cfg.max_resamples
    return res.because(
        ReasonCode.INCOMPLETE_TRACK,
        f"after {n} resamples",
        text=f"incomplete_track_after_{n}_resamples",
    )


def process_real_video(
    path: str | os.PathLike[str],
    video_id: str,
    plan_indices: Iterable[int],
    ensemble: FaceEnsemble,
    out_dir: str | os.PathLike[str],
    cfg: VideoFacesConfig | None = None,
    *,
    rel_path: str | None = None,
) -> VideoFaces:
    """Detect, track, resample if needed, crop one real video. Never raises.

    Reasons name the file by ``rel_path`` (its path in the dataset; default its file name).
    """
    cfg = cfg or VideoFacesConfig()
    try:
        res = _detect_video(
            Path(path), video_id, plan_indices, ensemble, Path(out_dir), cfg, "real"
        )
    except Exception as e:  # noqa: BLE001 - the last guard: a bug must not stop the source
        res = VideoFaces.broken(video_id, "real", ReasonCode.ERROR, _err(e))
    return _named(res, path, rel_path)


def _named(res: VideoFaces, path: str | os.PathLike[str], rel_path: str | None) -> VideoFaces:
    """The machine's path of the video out of the reason (catalog rows travel)."""
    res.reason = relative_reason(res.reason, path, rel_path)
    res.reason_detail = relative_reason(res.reason_detail, path, rel_path)
    return res


def process_orphan_fake(
    path: str | os.PathLike[str],
    video_id: str,
    plan_indices: Iterable[int],
    ensemble: FaceEnsemble,
    out_dir: str | os.PathLike[str],
    cfg: VideoFacesConfig | None = None,
    original_video_id: str | None = None,
    *,
    rel_path: str | None = None,
) -> VideoFaces:
    """A fake whose original is not in the dataset: detected on directly, flagged."""
    cfg = cfg or VideoFacesConfig()
    try:
        res = _detect_video(
            Path(path), video_id, plan_indices, ensemble, Path(out_dir), cfg, "orphan_fake"
        )
    except Exception as e:  # noqa: BLE001
        res = VideoFaces.broken(video_id, "orphan_fake", ReasonCode.ERROR, _err(e))
    res.original_video_id = original_video_id
    # the flag leads the text; the code stays the cause when there is one
    res.because(
        res.reason_code or ReasonCode.ORPHAN_FAKE,
        res.reason_detail if res.reason_code else res.reason,
        text=_join("orphan_fake", res.reason),
    )
    return _named(res, path, rel_path)


# --------------------------------------------------------------------------- fakes


def process_fake_video(
    path: str | os.PathLike[str],
    video_id: str,
    original: VideoFaces,
    out_dir: str | os.PathLike[str],
    cfg: VideoFacesConfig | None = None,
    *,
    rel_path: str | None = None,
) -> VideoFaces:
    """Crop a fake at its original's final frames and boxes; no detection. Never raises."""
    cfg = cfg or VideoFacesConfig()
    try:
        res = _fake_video(Path(path), video_id, original, Path(out_dir), cfg)
    except Exception as e:  # noqa: BLE001
        res = VideoFaces.broken(
            video_id, "fake", ReasonCode.ERROR, _err(e), original_video_id=original.video_id
        )
    return _named(res, path, rel_path)


def _fake_video(
    path: Path, video_id: str, original: VideoFaces, out_dir: Path, cfg: VideoFacesConfig
) -> VideoFaces:
    res = VideoFaces(
        video_id=video_id,
        role="fake",
        status="discarded",
        reason=None,
        original_video_id=original.video_id,
    )
    if original.status != "ok":
        # a failed original (retryable) makes its fakes failed too, so a rerun retries them
        res.status = "failed" if original.status == "failed" else "discarded"
        return res.because(ReasonCode.ORIGINAL_NOT_OK, f"{original.status} ({original.reason})")
    wanted = sorted({int(r["frame_index"]) for r in original.faces})
    if not wanted:
        return res.because(ReasonCode.ORIGINAL_HAS_NO_FACES)
    res.tries = 1
    try:
        decoded = read_item_frames(path, wanted)
    except VideoDecodeError as e:
        return res.because(ReasonCode.DECODE_ERROR, str(e))
    except Exception as e:  # noqa: BLE001
        return res.because(ReasonCode.DECODE_ERROR, _err(e))
    res.frame_count = None if decoded.frame_count is None else int(decoded.frame_count)
    res.attempts.append(Attempt(0, len(wanted), len(decoded.frames), list(decoded.missing)))
    if len(decoded.frames) < max(cfg.min_frames, 1):
        return res.because(
            ReasonCode.TOO_FEW_FRAMES,
            f"decoded {len(decoded.frames)} of the original's {len(wanted)}"
            + (f" (fake has {res.frame_count})" if res.frame_count is not None else ""),
        )
    h, w = decoded.frames[0].shape[:2]
    res.frame_size = (int(w), int(h))
    notes: list[str] = []
    sx = sy = 1.0
    if original.frame_size is not None and tuple(original.frame_size) != (w, h):
        ow, oh = original.frame_size
        if abs((w / h) / (ow / oh) - 1.0) > cfg.aspect_tolerance:
            return res.because(ReasonCode.GEOMETRY_MISMATCH, f"fake {w}x{h}, original {ow}x{oh}")
        sx, sy = w / ow, h / oh
        notes.append(f"geometry_differs: boxes scaled from {ow}x{oh} to {w}x{h}")
    if decoded.missing:
        notes.append(
            f"fake_shorter_than_original: {len(decoded.missing)} of {len(wanted)} frames missing"
        )
    frames = dict(zip(decoded.indices, decoded.frames, strict=True))
    rows: list[dict[str, Any]] = []
    written: list[WrittenFile] = []
    for r in original.faces:
        fi = int(r["frame_index"])
        if fi not in frames:
            continue
        box = scale_box((r["x1"], r["y1"], r["x2"], r["y2"]), sx, sy)
        try:
            track = int(r["track"])
            paths = _write_crops(frames[fi], box, video_id, fi, track, out_dir, cfg, written)
        except CropError as e:
            notes.append(f"crop_error at frame {fi}: {e}")
            continue
        except Exception as e:  # noqa: BLE001
            res.status = "failed"
            return res.because(ReasonCode.WRITE_ERROR, _err(e))
        row = dict(r)
        row.update(video_id=video_id, x1=box[0], y1=box[1], x2=box[2], y2=box[3], **paths)
        row["box_source"] = r.get("box_source") or original.video_id
        rows.append(row)
    if not rows:
        return res.because(
            ReasonCode.TOO_FEW_FRAMES, _join("no original face could be cropped", *notes)
        )
    res.status = "ok"
    res.faces, res.written = rows, _written_of(written, rows)
    res.frame_indices = sorted({r["frame_index"] for r in rows})
    res.frame_hashes = _frame_hashes(frames, res.frame_indices)
    res.because(None, _join(*notes))
    if cfg.write_crops:
        keep = {Path(r[f"crop_{k}"]).name for r in rows for k in CROP_KINDS if r[f"crop_{k}"]}
        _remove_stale_crops(out_dir, video_id, keep)
    return res


# --------------------------------------------------------------------------- many videos


@dataclass(frozen=True)
class VideoJob:
    """One video to process. ``plan_indices`` for real and orphan fakes; fakes name an original."""

    video_id: str
    path: str
    role: Role = "real"
    plan_indices: tuple[int, ...] = ()
    original_video_id: str | None = None
    rel_path: str | None = None  # the file as its dataset lists it: how reasons name it


def run_job(
    job: VideoJob,
    ensemble: FaceEnsemble | None,
    out_dir: str | os.PathLike[str],
    cfg: VideoFacesConfig,
    original: VideoFaces | None = None,
) -> VideoFaces:
    """Dispatch one job to the right ``process_*`` function."""
    if job.role == "fake":
        if original is None:
            return VideoFaces.broken(
                job.video_id,
                "fake",
                ReasonCode.ORIGINAL_NOT_PROCESSED,
                original_video_id=job.original_video_id,
            )
        return process_fake_video(
            job.path, job.video_id, original, out_dir, cfg, rel_path=job.rel_path
        )
    if ensemble is None:
        return VideoFaces.broken(job.video_id, job.role, ReasonCode.NO_ENSEMBLE)
    if job.role == "orphan_fake":
        return process_orphan_fake(
            job.path,
            job.video_id,
            job.plan_indices,
            ensemble,
            out_dir,
            cfg,
            original_video_id=job.original_video_id,
            rel_path=job.rel_path,
        )
    return process_real_video(
        job.path, job.video_id, job.plan_indices, ensemble, out_dir, cfg, rel_path=job.rel_path
    )
