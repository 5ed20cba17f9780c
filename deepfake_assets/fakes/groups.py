"""The `fake_groups` table: every fake face beside its original's, its SSIM, mask and level.

`fake_pairs` finds each fake face's original face (same frame, same track: the fake was cropped
at its original's box), `ssim_pairs` scores the pairs in batches on an executor, and
`group_fakes` adds the per-video statistics and alteration levels (`levels.assign_levels`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.compute import Executor
from deepfake_assets.compute.batches import run_batches
from deepfake_assets.fakes.levels import LevelResult, assign_levels
from deepfake_assets.fakes.ssim import video_stats
from deepfake_assets.fakes.ssim_tasks import SsimBatch, ssim_crop_files
from deepfake_assets.media.written_files import WrittenFile

FAKE_GROUPS_SCHEMA = {
    "face_id": pl.Utf8,
    "original_face_id": pl.Utf8,
    "source": pl.Utf8,
    "video_id": pl.Utf8,
    "original_video_id": pl.Utf8,
    "frame_index": pl.Int64,
    "track": pl.Int32,
    "ssim": pl.Float64,
    "mask_area": pl.Float64,
    "mask_path": pl.Utf8,
    # per video, joined onto every face
    "video_ssim_mean": pl.Float64,
    "fake_level": pl.Int8,
    "unaltered": pl.Boolean,
}


def empty_fake_groups() -> pl.DataFrame:
    return pl.DataFrame(schema=FAKE_GROUPS_SCHEMA)


def fake_pairs(faces: pl.DataFrame) -> pl.DataFrame:
    """Each fake face with its original's face at the same frame and track."""
    fakes = faces.filter((pl.col("label") == "FAKE") & (pl.col("box_source") != pl.col("video_id")))
    originals = faces.select(
        pl.col("video_id").alias("box_source"),
        "frame_index",
        "track",
        pl.col("face_id").alias("original_face_id"),
        pl.col("crop_160").alias("original_crop_160"),
    )
    return fakes.join(originals, on=["box_source", "frame_index", "track"], how="inner")


@dataclass(frozen=True)
class ScoredPairs:
    """The pairs' per-face rows (SSIM, mask area and path) and each batch's (videos, seconds)."""

    table: pl.DataFrame
    timings: list[tuple[list[str], float]]
    written: list[WrittenFile]  # the masks, as their writers verified them


def scored_table(pairs: pl.DataFrame, batches: list[SsimBatch]) -> pl.DataFrame:
    """The pairs' identifying columns with the scores of `batches` (in pair order)."""
    return pairs.select(
        "face_id",
        "original_face_id",
        "source",
        "video_id",
        pl.col("box_source").alias("original_video_id"),
        "frame_index",
        "track",
    ).with_columns(
        pl.Series("ssim", np.concatenate([b.ssim for b in batches]), dtype=pl.Float64),
        pl.Series("mask_area", np.concatenate([b.mask_area for b in batches]), dtype=pl.Float64),
        pl.Series("mask_path", [p for b in batches for p in b.mask_paths], dtype=pl.Utf8),
    )


def ssim_pairs(
    executor: Executor,
    pairs: pl.DataFrame,
    data_dir: Path,
    batch_size: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ScoredPairs:
    """SSIM and difference masks of every (fake crop, original crop) pair, `batch_size` pairs
    per executor task. Raises `compute.batches.BatchFailed` when a batch fails."""
    crops = list(zip(pairs["crop_160"], pairs["original_crop_160"], strict=True))
    run = run_batches(
        executor,
        ssim_crop_files,
        (str(data_dir),),
        crops,
        batch_size,
        pairs["video_id"].to_list(),
        progress,
    )
    written = [w for batch in run.values for w in batch.written]
    return ScoredPairs(scored_table(pairs, run.values), run.timings, written)


@dataclass(frozen=True)
class FakeGroups:
    """The catalog rows, per-video statistics, the level grouping and its warnings."""

    table: pl.DataFrame
    stats: pl.DataFrame
    levels: LevelResult
    warnings: list[str]


def group_fakes(
    scored: pl.DataFrame, *, method: str, n_levels: int, unaltered_ssim: float
) -> FakeGroups:
    """Per-video SSIM statistics and levels, joined onto every face (`FAKE_GROUPS_SCHEMA`)."""
    stats = video_stats(scored, by="video_id")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        levels = assign_levels(
            stats, method=method, n_levels=n_levels, unaltered_threshold=unaltered_ssim
        )
    per_video = levels.table.select(
        "video_id",
        pl.col("ssim_mean").alias("video_ssim_mean"),
        pl.col("level").alias("fake_level"),
        "unaltered",
    )
    table = scored.join(per_video, on="video_id", how="left").cast(FAKE_GROUPS_SCHEMA)
    return FakeGroups(table, stats, levels, [str(w.message) for w in caught])
