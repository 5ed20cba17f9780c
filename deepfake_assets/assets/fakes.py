"""Fakes: how far each fake face is from its original (SSIM, difference masks, levels 0-4)."""

import time
import warnings
from typing import Literal

import dagster as dg
import numpy as np
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.compute import Task, seconds_per_item, summarise_seconds
from deepfake_assets.fakes.figures import level_examples, ssim_histogram
from deepfake_assets.fakes.levels import assign_levels
from deepfake_assets.fakes.ssim import video_stats
from deepfake_assets.fakes.ssim_tasks import SsimBatch, ssim_crop_files
from deepfake_assets.jobs import PER_SOURCE
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import ComputeResource, DataDirResource

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


class FakeGroupsConfig(dg.Config):
    """Level grouping: `quantile` (balanced levels) or `kmeans` (natural gaps)."""

    method: Literal["quantile", "kmeans"] = "quantile"
    n_levels: int = 5
    unaltered_ssim: float = 0.995
    batch_size: int = 256


@dg.asset(
    partitions_def=source_partitions,
    group_name="fakes",
    tags=PER_SOURCE,
    deps=["face_crops"],
    kinds={"python", "parquet", "png"},
    owners=["team:ml-research"],
    description=(
        "SSIM of every fake face crop against its original's crop (same frame, same box), a "
        "difference mask (1 - SSIM map, 8-bit PNG) beside the crops, per-video statistics and "
        "alteration levels 0-4 (0 = closest to the original). Fakes with no visible change "
        "are flagged unaltered, not grouped. Catalog table `fake_groups`."
    ),
)
def fake_groups(
    context: dg.AssetExecutionContext,
    config: FakeGroupsConfig,
    data: DataDirResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    source_name = context.partition_key
    catalog = data.catalog()
    data_dir = data.path()
    faces = data.require("faces", source_name, writer="face_crops")
    pairs = fake_pairs(faces)
    if pairs.is_empty():
        catalog.write("fake_groups", pl.DataFrame(schema=FAKE_GROUPS_SCHEMA), source_name)
        return dg.MaterializeResult(metadata={"num_fake_faces": 0, "note": "no fake faces"})
    start = time.perf_counter()
    rows = pairs.select("crop_160", "original_crop_160", "video_id").rows()
    starts = list(range(0, len(rows), config.batch_size))
    tasks = (
        Task(
            str(lo),
            ssim_crop_files,
            (str(data_dir), [(f, o) for f, o, _ in rows[lo : lo + config.batch_size]]),
        )
        for lo in starts
    )
    batches: dict[int, SsimBatch] = {}
    timings: list = []
    executor = compute.executor(0, compute.threads_per_worker)
    try:
        ran_on = executor.workers()
        for n, outcome in enumerate(executor.map(tasks), start=1):
            lo = int(outcome.key)
            if not outcome.ok:
                raise dg.Failure(
                    f"SSIM of the batch of fake crops from {rows[lo][0]} on failed: {outcome.error}"
                )
            batches[lo] = outcome.value
            timings.append(([r[2] for r in rows[lo : lo + config.batch_size]], outcome.seconds))
            if n == len(starts) or n % 10 == 1:
                context.log.info(f"SSIM: {n}/{len(starts)} batches on {executor.backend}")
    finally:
        executor.close()
    scores = [batches[lo].ssim for lo in starts]
    areas = [batches[lo].mask_area for lo in starts]
    mask_paths = [p for lo in starts for p in batches[lo].mask_paths]
    elapsed = time.perf_counter() - start
    table = pairs.select(
        "face_id",
        "original_face_id",
        "source",
        "video_id",
        pl.col("box_source").alias("original_video_id"),
        "frame_index",
        "track",
    ).with_columns(
        pl.Series("ssim", np.concatenate(scores), dtype=pl.Float64),
        pl.Series("mask_area", np.concatenate(areas), dtype=pl.Float64),
        pl.Series("mask_path", mask_paths, dtype=pl.Utf8),
    )
    stats = video_stats(table, by="video_id")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        levels = assign_levels(
            stats,
            method=config.method,
            n_levels=config.n_levels,
            unaltered_threshold=config.unaltered_ssim,
        )
    for w in caught:
        context.log.warning(str(w.message))
    per_video = levels.table.select(
        "video_id",
        pl.col("ssim_mean").alias("video_ssim_mean"),
        pl.col("level").alias("fake_level"),
        "unaltered",
    )
    table = table.join(per_video, on="video_id", how="left").cast(FAKE_GROUPS_SCHEMA)
    catalog.write("fake_groups", table, source_name)

    metadata = {
        "num_fake_faces": table.height,
        "num_fake_videos": stats.height,
        "method": config.method,
        "cut_points_on_1_minus_ssim": [md.round_sig(c) for c in levels.cut_points],
        "levels_used": levels.n_levels_used,
        "videos_per_level": {str(k): v for k, v in levels.level_counts.items()},
        "num_unaltered_videos": levels.n_unaltered,
        "ssim_mean": md.round_sig(float(table["ssim"].mean())),
        "faces_per_second": round(table.height / elapsed, 1) if elapsed > 0 else None,
        "backend": executor.backend,
        "workers": ran_on,
        **summarise_seconds(seconds_per_item(timings), elapsed).to_metadata("video"),
        "per_video": md.table(
            # unaltered first, then level 0 (closest to the original) up
            levels.table.sort("level", "difference", nulls_last=False),
            limit=30,
            first=("video_id", "level", "difference", "unaltered"),
            where="catalog table fake_groups",
        ),
        "ssim_histogram": dg.MetadataValue.md(
            md.figure_markdown(
                ssim_histogram(
                    levels.table["difference"].fill_null(float("nan")).to_numpy(),
                    levels.table["level"].fill_null(-1).to_numpy(),
                    levels.cut_points,
                    config.unaltered_ssim,
                ),
                "fake videos by 1 - SSIM",
            )
        ),
    }
    examples = level_examples(table, pairs, data_dir)
    if examples is not None:
        metadata["examples_per_level"] = dg.MetadataValue.md(
            "Per level (0 = closest to the original): real / fake / difference mask.\n\n"
            + md.png_markdown(examples, "levels")
        )
    return dg.MaterializeResult(metadata=metadata)
