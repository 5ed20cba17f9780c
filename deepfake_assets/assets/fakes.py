"""Fakes: how far each fake face is from its original (SSIM, difference masks, levels 0-4)."""

import time
import warnings
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.fakes.figures import level_examples, ssim_histogram
from deepfake_assets.fakes.levels import assign_levels
from deepfake_assets.fakes.ssim import diff_mask, mask_area, ssim_batch, video_stats
from deepfake_assets.jobs import PER_SOURCE
from deepfake_assets.media.images import read_png, write_png_atomic
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import DataDirResource

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

    method: str = "quantile"
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
    context: dg.AssetExecutionContext, config: FakeGroupsConfig, data: DataDirResource
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
    scores, areas, mask_paths = [], [], []
    rows = pairs.to_dicts()
    for lo in range(0, len(rows), config.batch_size):
        chunk = rows[lo : lo + config.batch_size]
        fake = np.stack([read_png(data_dir / r["crop_160"]) for r in chunk])
        real = np.stack([read_png(data_dir / r["original_crop_160"]) for r in chunk])
        s, maps = ssim_batch(fake, real)
        scores.append(s)
        areas.append(mask_area(maps))
        for r, m in zip(chunk, diff_mask(maps), strict=True):
            rel = Path(r["crop_160"]).with_name(Path(r["crop_160"]).stem + "_mask.png")
            rel = Path("masks") / rel.relative_to("faces")
            write_png_atomic(data_dir / rel, m)
            mask_paths.append(str(rel))
        context.log.info(f"SSIM: {min(lo + config.batch_size, len(rows))}/{len(rows)} faces")
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
