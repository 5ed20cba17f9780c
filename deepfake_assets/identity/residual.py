"""The donor's face rebuilt from a fake and its original: what a blend hides, the pixels keep.

A face swap blends the donor's (warped, colour-matched) face into the target's frame:
``fake = (1 - a m) orig + a m donor`` with ``m`` the feathered face mask and ``a`` the blend
strength. Fakes reuse their original's frames and boxes (``face_crops``), so the 160x160 crops
of a fake and of its original at the same frame are pixel-aligned, and
``orig + g (fake - orig)`` with ``g = 1 / a`` is the donor's face again where the mask is
full. A weak blend (``a = 0.35``) that still looks like its target to the embedder thus shows
its donor after the rebuild.

``a`` is not known, so it is estimated from the data: a gain larger than ``1 / a`` overshoots
past the donor (``donor + (g a - 1)(donor - orig)``) and pushes pixels out of [0, 255], a gain
up to ``1 / a`` stays physically valid. The estimate is the largest gain of :data:`GAINS` that
keeps all but ``MAX_OUT_OF_RANGE`` of the changed pixels in range (``OUT_SLACK`` levels of
codec noise allowed). On the demo (blend 0.35 / 0.6 / 0.9, so 1 / a = 2.86 / 1.67 / 1.11) it
picked 2.75-3.5, 1.6-2.0 and 1.1-1.4.

The rebuilt crops are embedded with the model of ``face_embeddings`` and their track mean is
matched like the fake's own face (``identity/donors.py``), under the same acceptance rule, so
the rebuild can only add donors where the match is clear; a fake whose changed region is tiny
(``MIN_CHANGED_SHARE``: not a swap this can undo, or no alteration) gets none. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.sources.methods import synthesis_rows

__all__ = [
    "GAINS",
    "RESIDUAL_SCHEMA",
    "ResidualTrack",
    "estimate_gain",
    "rebuild",
    "residual_means",
    "residual_pairs",
    "fakes_to_rebuild",
    "rebuild_all",
    "residual_table",
    "residual_tracks_task",
]

GAINS = (1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0)  # 1 / a >= 0.25
CHANGED_LEVEL = 6.0  # a pixel changed when a channel moved more than this (H.264 noise below)
OUT_SLACK = 8.0  # levels past [0, 255] still counted in range (codec noise times the gain)
MAX_OUT_OF_RANGE = 0.01  # share of changed pixels a valid gain may push out of range
MIN_CHANGED_SHARE = 0.02  # of the crops' pixels: below it there is no face to rebuild

RESIDUAL_SCHEMA = pl.Schema(
    {
        "source": pl.Utf8,
        "video_id": pl.Utf8,
        "track": pl.Int64,
        "n_faces": pl.Int64,  # crop pairs used
        "changed_share": pl.Float64,  # of the crops' pixels
        "gain": pl.Float64,  # estimated 1 / blend strength (null: not rebuilt)
        "reason": pl.Utf8,  # ok | unchanged | unreadable
        "model": pl.Utf8,
    }
)


def estimate_gain(fake: np.ndarray, orig: np.ndarray) -> tuple[float | None, float]:
    """(the largest physically valid gain, the share of changed pixels) of aligned crops.

    ``fake``, ``orig``: ``(N, H, W, 3)`` arrays in 0..255. None when too little changed.
    """
    diff = np.asarray(fake, np.float32) - np.asarray(orig, np.float32)
    changed = np.abs(diff).max(axis=-1) > CHANGED_LEVEL
    share = float(changed.mean()) if changed.size else 0.0
    if share < MIN_CHANGED_SHARE:
        return None, share
    o, d = np.asarray(orig, np.float32)[changed], diff[changed]  # (pixels, 3)
    best = GAINS[0]
    for gain in GAINS:
        r = o + gain * d
        out = ((r < -OUT_SLACK) | (r > 255.0 + OUT_SLACK)).any(axis=-1).mean()
        if out > MAX_OUT_OF_RANGE:
            break
        best = gain
    return float(best), share


def rebuild(fake: np.ndarray, orig: np.ndarray, gain: float) -> np.ndarray:
    """``orig + gain (fake - orig)``, clipped to uint8: the donor's face where the mask is full."""
    o = np.asarray(orig, np.float32)
    return np.clip(o + gain * (np.asarray(fake, np.float32) - o) + 0.5, 0, 255).astype(np.uint8)


def residual_pairs(faces: pl.DataFrame, originals: pl.DataFrame, per_track: int) -> pl.DataFrame:
    """Up to ``per_track`` faces of each fake track (evenly spread, detected-like first, as
    ``fake_embeddings`` picks them), each beside its original's face at the same frame.

    ``faces``: the source's ``faces`` table; ``originals``: video_id, original_video_id of the
    fakes to rebuild. Returns video_id, track, frame_index, fake_crop, original_crop.
    """
    from deepfake_assets.identity.donors import pick_fake_faces

    if faces.is_empty() or originals.is_empty():
        return pl.DataFrame(
            schema={"video_id": pl.Utf8, "track": pl.Int64, "frame_index": pl.Int64,
                    "fake_crop": pl.Utf8, "original_crop": pl.Utf8}
        )  # fmt: skip
    faces = faces.with_columns(pl.col("track").cast(pl.Int64))
    crops = faces.select("video_id", "frame_index", "track", "crop_160")
    # only frames the original has a face at can be paired: pick among those
    paired = faces.join(originals.select("video_id", "original_video_id"), on="video_id").join(
        crops.select(pl.col("video_id").alias("original_video_id"), "frame_index", "track"),
        on=["original_video_id", "frame_index", "track"],
    )
    fake_faces = pick_fake_faces(paired.drop("original_video_id"), per_track)
    return (
        fake_faces.select("video_id", "frame_index", pl.col("track").cast(pl.Int64))
        .join(originals.select("video_id", "original_video_id"), on="video_id")
        .join(crops.rename({"crop_160": "fake_crop"}), on=["video_id", "frame_index", "track"])
        .join(
            crops.rename({"video_id": "original_video_id", "crop_160": "original_crop"}),
            on=["original_video_id", "frame_index", "track"],
        )
        .select("video_id", "track", "frame_index", "fake_crop", "original_crop")
        .sort("video_id", "track", "frame_index")
    )


@dataclass(frozen=True)
class ResidualTrack:
    """One fake track's rebuild: its gain, the share that changed, and the embedding."""

    video_id: str
    track: int
    n_faces: int
    changed_share: float
    gain: float | None
    reason: str
    vector: np.ndarray | None


def residual_tracks_task(
    spec, data_dir: str, tracks: list[tuple[str, int, list[str], list[str]]]
) -> list[ResidualTrack]:
    """In a worker: rebuild and embed each (video_id, track, fake crops, original crops)."""
    from deepfake_assets.identity.embed_tasks import worker_embedder
    from deepfake_assets.media.images import ImageIOError, read_png

    embedder = worker_embedder(spec)
    if embedder.name != spec.name:
        raise RuntimeError(f"this worker's model is {embedder.name}, the stage uses {spec.name}")
    root = Path(data_dir)
    out = []
    for video_id, track, fake_paths, orig_paths in tracks:
        n = len(fake_paths)
        try:
            fake = np.stack([read_png(root / p) for p in fake_paths])
            orig = np.stack([read_png(root / p) for p in orig_paths])
        except (ImageIOError, ValueError):
            out.append(ResidualTrack(video_id, track, n, 0.0, None, "unreadable", None))
            continue
        if fake.shape != orig.shape:
            out.append(ResidualTrack(video_id, track, n, 0.0, None, "unreadable", None))
            continue
        gain, share = estimate_gain(fake, orig)
        if gain is None:
            out.append(ResidualTrack(video_id, track, n, share, None, "unchanged", None))
            continue
        vectors = np.asarray(embedder.embed(rebuild(fake, orig, gain)), np.float32)
        mean = vectors.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        out.append(ResidualTrack(video_id, track, n, share, gain, "ok", mean))
    return out


def residual_table(source: str, model: str | None, results: list[ResidualTrack]) -> pl.DataFrame:
    """The ``fake_residuals`` rows of one source (``embedding`` null where not rebuilt; a list
    column, not an array, so a source with no rebuilt face has the same schema)."""
    table = pl.DataFrame(
        {
            "source": [source] * len(results),
            "video_id": [r.video_id for r in results],
            "track": [r.track for r in results],
            "n_faces": [r.n_faces for r in results],
            "changed_share": [r.changed_share for r in results],
            "gain": [r.gain for r in results],
            "reason": [r.reason for r in results],
            "model": [model] * len(results),
        },
        schema=RESIDUAL_SCHEMA,
    )
    vectors = [None if r.vector is None else r.vector.tolist() for r in results]
    return table.with_columns(pl.Series("embedding", vectors, dtype=pl.List(pl.Float32)))


def fakes_to_rebuild(videos: pl.DataFrame) -> pl.DataFrame:
    """video_id, original_video_id of the usable fakes with an original whose dataset does not
    name the donor (where it does, the name is the donor and nothing needs rebuilding) and
    that are not entire-face synthesis (a generated face shows nobody: never donor-matched)."""
    hint = pl.col("donor_hint") if "donor_hint" in videos.columns else pl.lit(None, pl.Utf8)
    orphan = pl.col("orphan_fake").fill_null(False) if "orphan_fake" in videos.columns else False
    return videos.filter(
        (pl.col("label") == "FAKE")
        & (pl.col("status") == "ok")
        & pl.col("original_video_id").is_not_null()
        & ~orphan
        & (hint.is_null() | (hint == ""))
        & ~synthesis_rows(videos)
    ).select("video_id", "original_video_id")


def rebuild_all(
    executor,
    source: str,
    model: str | None,
    weights_path: str | None,
    data_dir: Path,
    pairs: pl.DataFrame,
    tracks_per_task: int,
    log=lambda _msg: None,
) -> pl.DataFrame:
    """Rebuild and embed every fake track of ``pairs`` (:func:`residual_pairs`) through the
    executor, ``tracks_per_task`` tracks per task; the ``fake_residuals`` table."""
    from deepfake_assets.compute import Task
    from deepfake_assets.identity.embed_tasks import EmbedderSpec

    if model is None or pairs.is_empty():
        return residual_table(source, model, [])
    spec = EmbedderSpec("dlib" if model.startswith("dlib") else "facenet", model, weights_path)
    tracks = [
        (video_id, int(track), fakes, origs)
        for video_id, track, fakes, origs in pairs.group_by(
            "video_id", "track", maintain_order=True
        )
        .agg("fake_crop", "original_crop")
        .iter_rows()
    ]
    step = max(1, tracks_per_task)
    tasks = [
        Task(str(lo), residual_tracks_task, (spec, str(data_dir), tracks[lo : lo + step]))
        for lo in range(0, len(tracks), step)
    ]
    results: dict[int, list[ResidualTrack]] = {}
    for n, outcome in enumerate(executor.map(iter(tasks)), start=1):
        if not outcome.ok:
            raise RuntimeError(f"rebuilding donor faces, task {outcome.key}: {outcome.error}")
        results[int(outcome.key)] = outcome.value
        if n == len(tasks) or n % 20 == 1:
            log(f"rebuilt donor faces: {n}/{len(tasks)} tasks of {source}")
    ordered = [r for lo in sorted(results) for r in results[lo]]
    return residual_table(source, model, ordered)


def residual_means(table: pl.DataFrame):
    """The rebuilt tracks as ``TrackMeans`` (with their ``gain``) for ``fake_identities``."""
    from deepfake_assets.identity.donors import TrackMeans, _unit_rows, embedding_matrix

    if table.is_empty() or "embedding" not in table.columns:
        return TrackMeans.empty()
    ok = table.filter(pl.col("embedding").is_not_null())
    if ok.is_empty():
        return TrackMeans.empty()
    keys = ok.select(
        "source", "video_id", pl.col("track").cast(pl.Int64), pl.col("n_faces").cast(pl.Int64),
        "gain", pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
    )  # fmt: skip
    return TrackMeans(keys, _unit_rows(embedding_matrix(ok)))
