"""Fakes: how far each fake face is from its original (SSIM, difference masks, levels 0-4)."""

import time
from typing import Literal

import dagster as dg

from deepfake_assets.assets import metadata as md
from deepfake_assets.compute import seconds_per_item, summarise_seconds
from deepfake_assets.compute.batches import BatchFailed, sparse_progress
from deepfake_assets.fakes.figures import level_examples, ssim_histogram
from deepfake_assets.fakes.groups import (
    FakeGroups,
    empty_fake_groups,
    fake_pairs,
    group_fakes,
    ssim_pairs,
)
from deepfake_assets.jobs import PER_SOURCE
from deepfake_assets.media.written_files import record_written
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import ComputeResource, DataDirResource


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
    catalog, data_dir = data.catalog(), data.path()
    faces = data.require("faces", source_name, writer="face_crops")
    pairs = fake_pairs(faces)
    if pairs.is_empty():
        catalog.write("fake_groups", empty_fake_groups(), source_name)
        return dg.MaterializeResult(metadata={"num_fake_faces": 0, "note": "no fake faces"})
    start = time.perf_counter()
    executor = compute.executor(0, compute.threads_per_worker)

    def progress(n: int, total: int) -> None:
        if sparse_progress(n, total):
            context.log.info(f"SSIM: {n}/{total} batches on {executor.backend}")

    try:
        ran_on = executor.workers()
        scored = ssim_pairs(executor, pairs, data_dir, config.batch_size, progress)
    except BatchFailed as exc:
        first = pairs["crop_160"][exc.start]
        raise dg.Failure(
            f"SSIM of the batch of fake crops from {first} on failed: {exc.error}"
        ) from exc
    finally:
        executor.close()
    elapsed = time.perf_counter() - start
    groups = group_fakes(
        scored.table,
        method=config.method,
        n_levels=config.n_levels,
        unaltered_ssim=config.unaltered_ssim,
    )
    for message in groups.warnings:
        context.log.warning(message)
    catalog.write("fake_groups", groups.table, source_name)
    record_written(data.work_dir(source_name), "fake_groups", scored.written)
    metadata = {
        **_level_counts(groups, config),
        "faces_per_second": round(groups.table.height / elapsed, 1) if elapsed > 0 else None,
        "backend": executor.backend,
        "workers": ran_on,
        **summarise_seconds(seconds_per_item(scored.timings), elapsed).to_metadata("video"),
        **_level_views(groups, config),
    }
    examples = level_examples(groups.table, pairs, data_dir)
    if examples is not None:
        metadata["examples_per_level"] = dg.MetadataValue.md(
            "Per level (0 = closest to the original): real / fake / difference mask.\n\n"
            + md.png_markdown(examples, "levels")
        )
    return dg.MaterializeResult(metadata=metadata)


def _level_counts(groups: FakeGroups, config: FakeGroupsConfig) -> dict:
    """How many fakes, and how the levels cut them."""
    levels = groups.levels
    return {
        "num_fake_faces": groups.table.height,
        "num_fake_videos": groups.stats.height,
        "method": config.method,
        "cut_points_on_1_minus_ssim": [md.round_sig(c) for c in levels.cut_points],
        "levels_used": levels.n_levels_used,
        "videos_per_level": {str(k): v for k, v in levels.level_counts.items()},
        "num_unaltered_videos": levels.n_unaltered,
        "ssim_mean": md.round_sig(float(groups.table["ssim"].mean())),
    }


def _level_views(groups: FakeGroups, config: FakeGroupsConfig) -> dict:
    """The videos by level (a table) and the histogram of 1 - SSIM with the cut points."""
    levels = groups.levels
    return {
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
