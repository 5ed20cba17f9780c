"""Ingest: the video manifest of one source dataset (a partition)."""

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.compute.batches import progress_due
from deepfake_assets.jobs import PER_SOURCE
from deepfake_assets.partitions import source_partitions
from deepfake_assets.registry import RegistryError
from deepfake_assets.resources import DataDirResource
from deepfake_assets.sources import SourceFormatError, list_source
from deepfake_assets.sources.fingerprint import folder_fingerprint
from deepfake_assets.sources.schema import MetadataProblem
from deepfake_assets.video_manifest import build_manifest, manifest_problems


@dg.asset(
    partitions_def=source_partitions,
    group_name="ingest",
    tags=PER_SOURCE,
    kinds={"python", "duckdb", "parquet"},
    owners=["team:data-engineering"],
    description=(
        "Every video a source dataset lists, read by its format adapter and probed with PyAV "
        "(codec, fps, frame count, size, rotation, content fingerprint). Missing, corrupt and "
        "empty files, paths outside the dataset, entries with a bad label or listed twice "
        "with different values, and metadata files that do not parse become rows with a "
        "status and a reason; fakes whose original is unusable are flagged. Catalog table "
        "`videos`."
    ),
)
def videos(context: dg.AssetExecutionContext, data: DataDirResource) -> dg.MaterializeResult:
    source_name = context.partition_key
    try:
        source = data.registry().get(source_name)
    except RegistryError as exc:
        raise dg.Failure(str(exc)) from exc
    root = source.root
    if not root.is_dir():
        raise dg.Failure(
            f"source {source_name!r}: folder {root} does not exist any more "
            "(moved or unmounted?); re-register it with `deepfake-assets sources add`"
        )
    fingerprint = folder_fingerprint(root)
    try:
        listing = list_source(root, source.format, source.adapter_options)
    except SourceFormatError as exc:
        raise dg.Failure(f"source {source_name!r} ({root}): {exc}") from exc
    listed = listing.videos
    rejected = listed.get_column("reject_reason").drop_nulls().len()
    context.log.info(
        f"{source_name}: {listed.height} videos listed by the {source.format} adapter"
        + (f" ({rejected} entries rejected)" if rejected else "")
    )
    for problem in listing.problems:
        context.log.warning(f"{source_name}: {problem.path}: {problem.reason}")

    def progress(done: int, total: int) -> None:
        if progress_due(done, total, steps=10):
            context.log.info(f"probed {done}/{total} videos")

    table = build_manifest(
        source_name, root, listed, problems=listing.problems, progress=progress
    ).with_columns(pl.lit(source.test_only).alias("test_only"))
    if folder_fingerprint(root) != fingerprint:
        context.log.warning(
            f"source folder {root} changed while it was being read; the schedule will pick "
            "the change up on its next tick"
        )
    path = data.catalog().write("videos", table, source_name)
    return dg.MaterializeResult(
        metadata={
            "source_fingerprint": fingerprint,
            "format": source.format,
            **_manifest_metadata(table, listing.problems),
            "catalog_file": dg.MetadataValue.path(str(path)),
        }
    )


def _manifest_metadata(table: pl.DataFrame, problems: list[MetadataProblem]) -> dict:
    """Counts by status and label, the rows with a problem, and a preview of the table."""
    return {
        "num_videos": table.height,
        "num_ok": int((table.get_column("status") == "ok").sum()),
        "num_orphan_fakes": int(table.get_column("orphan_fake").sum()),
        "num_rejected": int((table.get_column("status") == "rejected").sum()),
        # metadata files (or parts of them) that list nothing: each is also a rejected row
        "metadata_problems": dg.MetadataValue.json(
            [{"path": p.path, "reason": p.reason} for p in problems]
        ),
        "by_status": md.counts(table, "status"),
        "by_label": md.counts(table.filter(pl.col("status") == "ok"), "label"),
        "problems": md.table(
            manifest_problems(table).select(
                "video_id", "rel_path", "label", "status", "reason", "orphan_reason"
            ),
            where="catalog table videos",
        ),
        "preview": md.table(
            table.select(
                "video_id",
                "label",
                "original_video_id",
                "width",
                "height",
                "fps",
                "frame_count",
                "status",
            ),
            where="catalog table videos",
        ),
    }
