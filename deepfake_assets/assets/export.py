"""The exported dataset: info.csv / Parquet, a data card, and the consumers' formats.

The export folder is self-contained: crops and masks are hard-linked into it (copied where the
filesystem cannot link), and every path in `info.csv` is relative to the folder. Each consumer
format lives in its own core module (export/deepfakebench.py, hf.py, webdataset.py,
video_subset.py); this asset only chooses them from `ExportConfig.formats`.
"""

import os
import shutil
import uuid
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.catalog import pid_alive
from deepfake_assets.export import file_checks
from deepfake_assets.export.data_card import counts_figure, data_card
from deepfake_assets.export.deepfakebench import DeepfakeBenchOptions, write_deepfakebench
from deepfake_assets.export.formats import FORMATS, ExportFormat
from deepfake_assets.export.funnel import funnel_table
from deepfake_assets.export.hf import write_imagefolder
from deepfake_assets.export.info import (
    NO_CROP,
    NOT_REGISTERED,
    info_csv,
    info_table,
    unresolved_rows,
)
from deepfake_assets.export.linking import link_tree, remove_abandoned_trash, remove_in_background
from deepfake_assets.export.video_subset import write_video_subset
from deepfake_assets.export.webdataset import write_shards
from deepfake_assets.jobs import DATASET
from deepfake_assets.media.written_files import read_written
from deepfake_assets.resources import ComputeResource, DataDirResource


def _remove_abandoned_builds(data_dir: Path) -> int:
    """Delete `.export.<pid>.building` folders whose process is gone (a run killed while it
    exported). A `.previous` one is kept: it may be the last export left."""
    removed = 0
    for folder in data_dir.glob(".export.*.building"):
        pid = folder.name.split(".")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed + remove_abandoned_trash(data_dir, pid_alive)


def _build(
    context: dg.AssetExecutionContext,
    config: "ExportConfig",
    data: DataDirResource,
    compute: ComputeResource,
    info: pl.DataFrame,
    building: Path,
) -> tuple[str, dict, pl.DataFrame]:
    """Images, tables, consumer formats and data card into `building`: (data card, format
    metadata, funnel)."""
    # each file once (link_tree drops repeats: a crop shared by two rows must not fail the link),
    # in chunks from a Series: no Python object and no future per file at millions of files
    catalog, data_dir = data.catalog(), data.path()
    columns = ("path", "path_299", "path_raw", "mask_path")
    linked = link_tree(data_dir, building, pl.concat([info[c].cast(pl.Utf8) for c in columns]))
    context.log.info(f"linked {linked} images into the new export")
    # spreadsheet formulas neutralised in the CSV only; Parquet and JSON keep the true values
    (building / "info.csv").write_text(info_csv(info), encoding="utf-8")
    info.write_parquet(building / "info.parquet")
    formats, files = _write_formats(context, config, data, compute, info, building)
    funnel = funnel_table(
        catalog.read("videos"),
        catalog.read("face_videos"),
        catalog.read("faces"),
        catalog.read("duplicates"),
        catalog.read("splits"),
        info,
        catalog.read("split_drops"),
    )
    funnel.write_csv(building / "funnel.csv")
    figure_name = "data_card_counts.png"
    counts_figure(info).savefig(building / figure_name, dpi=90, bbox_inches="tight")
    card = data_card(info, figure_name, funnel=funnel, files=files)
    (building / "DATA_CARD.md").write_text(card)
    return card, formats, funnel


IMAGE_COLUMNS = {"160": "path", "299": "path_299", "raw": "path_raw"}


class ExportConfig(dg.Config):
    """Which consumer formats to write beside info.csv, and their options (README "Export")."""

    formats: list[ExportFormat] = list(FORMATS)  # checked by Dagster before the run starts
    # DeepfakeBench: <name>.json / <name>_val.json, ./datasets/<name>/... paths
    deepfakebench_name: str = "deepfake_assets"
    deepfakebench_per_method_labels: bool = False
    deepfakebench_landmarks: bool = True
    deepfakebench_resolution: int = 256
    # the crop the Hugging Face folder and the WebDataset shards carry: 160, 299 or raw
    image: Literal["160", "299", "raw"] = "299"
    webdataset_shard_size: int = 10_000
    webdataset_seed: int = 0
    test_videos_max_gb: float = 5.0
    test_videos_max_count: int = 10_000


@dg.asset(
    group_name="export",
    tags=DATASET,
    deps=["fold_splits"],
    kinds={"python", "csv", "parquet"},
    owners=["team:ml-research"],
    description=(
        "The training-ready dataset under $DEEPFAKE_DATA_DIR/export: one row per kept face "
        "image in info.csv and info.parquet (path, label, source, video, original, frame, "
        "track, actor, split, level and fold, fake level, SSIM, method), the crops and masks "
        "themselves, a DeepfakeBench-compatible JSON and a data card (DATA_CARD.md)."
    ),
)
def exported_dataset(
    context: dg.AssetExecutionContext,
    config: ExportConfig,
    data: DataDirResource,
    compute: ComputeResource,
):
    catalog = data.catalog()
    data_dir = data.path()
    out = data_dir / "export"
    info = info_table(*map(catalog.read, ("splits", "folds", "faces", "fake_groups", "videos")))
    if info.is_empty():
        raise dg.Failure("nothing to export: `splits` is empty")
    refuse_stale_splits(info, catalog.registered_sources())
    # Built beside the old export and swapped in at the end, so the folder never mixes two
    # exports and never keeps images the new one dropped; a failed build is removed.
    removed = _remove_abandoned_builds(data_dir)
    if removed:
        context.log.info(f"removed {removed} export folders left by runs that died")
    building = data_dir / f".export.{os.getpid()}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        card, formats, funnel = _build(context, config, data, compute, info, building)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    previous = data_dir / f".export.{os.getpid()}.{uuid.uuid4().hex[:8]}.previous"
    if out.exists():
        os.replace(out, previous)
    os.replace(building, out)
    if previous.exists():
        remove_in_background(previous)
    summary = info.group_by("source", "split", "label").len().sort("source", "split", "label")
    return dg.MaterializeResult(
        metadata={
            "export_folder": dg.MetadataValue.path(str(out)),
            "num_images": info.height,
            "num_actors": info["actor_id"].n_unique(),
            "sources": ", ".join(sorted(info["source"].unique().to_list())),
            "by_split": md.counts(info, "split"),
            "by_label": md.counts(info, "label"),
            "counts": md.table(summary, limit=100),
            "funnel": md.table(funnel, limit=200),
            **formats,
            "data_card": dg.MetadataValue.md(card.split("![", 1)[0]),
        }
    )


def _write_formats(context, config: ExportConfig, data, compute, info: pl.DataFrame, out: Path):
    """Each chosen consumer format into `out`: (metadata entries, data card file lines)."""
    meta: dict = {"formats": ", ".join(config.formats) or "none"}
    files: list[str] = []
    image = IMAGE_COLUMNS[config.image]
    if "deepfakebench" in config.formats:
        bench = _deepfakebench(context, config, data, compute, info, out)
        meta.update({f"deepfakebench_{k}": v for k, v in bench.items()})
        name = config.deepfakebench_name
        files.append(
            f"- `deepfakebench/`: `{name}/` (frames, masks, landmarks) for DeepfakeBench's "
            f"`datasets/`, `dataset_json/{name}.json` and `{name}_val.json` (its `test` slot "
            "is val), `label_dict.yaml`."
        )
    if "hf" in config.formats:
        meta["hf_rows"] = dg.MetadataValue.json(write_imagefolder(info, out, image).rows)
        files.append("- `hf/<split>/`: a Hugging Face `imagefolder` (images + `metadata.parquet`).")
    if "webdataset" in config.formats:
        wds = write_shards(info, out, config.webdataset_shard_size, config.webdataset_seed, image)
        meta["webdataset_shards"] = dg.MetadataValue.json(
            {k: len(v) for k, v in wds.shards.items()}
        )
        files.append("- `wds/<split>/*.tar`, `wds/<split>.txt`: WebDataset shards and lists.")
    if "test_videos" in config.formats:
        cap = int(config.test_videos_max_gb * 2**30)
        subset = write_video_subset(
            info, data.catalog().read("videos"), out, cap, config.test_videos_max_count
        )
        meta.update(test_videos=subset.videos, test_videos_left_out=subset.left_out)
        if subset.missing:
            context.log.warning(f"{len(subset.missing)} test videos gone: {subset.missing[:5]}")
        files.append(
            f"- `test_videos/`, `test_videos.csv`: {subset.videos} whole test-split videos "
            f"(linked; {subset.left_out} over the size cap left out)."
        )
    files.append("- `funnel.csv`: the funnel above.")
    return meta, files


def _deepfakebench(context, config: ExportConfig, data, compute, info, out: Path) -> dict:
    """The DeepfakeBench layout; landmarks on the `compute` executor, kept per crop file."""
    options = DeepfakeBenchOptions(
        name=config.deepfakebench_name,
        per_method_labels=config.deepfakebench_per_method_labels,
        landmarks=config.deepfakebench_landmarks,
        resolution=config.deepfakebench_resolution,
    )
    executor = compute.executor(os.cpu_count() or 1 if info.height > 2_000 else 0)
    try:
        bench = write_deepfakebench(info, out, options, data.path(), executor)
    except ValueError as exc:
        raise dg.Failure(f"DeepfakeBench export: {exc}") from exc
    finally:
        executor.close()
    context.log.info(
        f"DeepfakeBench: {bench.entries} entries, landmarks from {bench.landmark_box_sources} "
        f"({bench.landmarks_computed} computed, {bench.landmarks_reused} kept from before)"
    )
    if bench.landmark_failures:
        context.log.warning(
            f"{len(bench.landmark_failures)} crops without landmarks: "
            + "; ".join(bench.landmark_failures[:5])
        )
    return {
        "entries": dg.MetadataValue.json(bench.entries),
        "landmark_boxes": dg.MetadataValue.json(bench.landmark_box_sources),
        "landmarks_clamped": bench.landmarks_clamped,
        "landmarks_computed": bench.landmarks_computed,
        "landmarks_reused": bench.landmarks_reused,
        "fakes_without_mask": bench.fakes_without_mask,
    }


def refuse_stale_splits(info: pl.DataFrame, registered: frozenset[str] | None) -> None:
    """Fail, naming them, when the splits hold rows of sources no longer registered or faces
    whose crop is gone: exporting them would ship a removed dataset or rows without a path."""
    stale = unresolved_rows(info, registered)
    if stale.is_empty():
        return
    reasons = []
    gone = stale.filter(pl.col("problem") == NOT_REGISTERED)
    if not gone.is_empty():
        names = ", ".join(
            f"{r['source']!r} ({r['n_rows']} rows)" for r in gone.iter_rows(named=True)
        )
        reasons.append(f"fold_splits was built with sources no longer registered: {names}")
    lost = stale.filter(pl.col("problem") == NO_CROP)
    if not lost.is_empty():
        examples = ", ".join(f"{r['source']}/{r['example']}" for r in lost.iter_rows(named=True))
        reasons.append(f"{lost['n_rows'].sum()} split rows have {NO_CROP} (e.g. {examples})")
    raise dg.Failure(
        description="; ".join(reasons)
        + ". Re-materialise fold_splits (`deepfake-assets materialize`, or select fold_splits "
        "and exported_dataset in the UI), then export",
        metadata={"stale_rows": md.table(stale)},
    )


@dg.asset_check(
    asset=exported_dataset,
    blocking=True,
    description="Every row of the export folder's info.parquet stands for a face of the "
    "dataset: its source is registered, it has a crop path, and every file it lists exists "
    "in the export folder. Fails when a source is removed after the export was built.",
)
def export_rows_resolve(data: DataDirResource) -> dg.AssetCheckResult:
    catalog = data.catalog()
    folder = data.path() / "export"
    info_path = folder / "info.parquet"
    if not info_path.exists():
        return dg.AssetCheckResult(passed=True, description="no export folder yet")
    info = pl.read_parquet(info_path)
    offenders = unresolved_rows(info, catalog.registered_sources(), folder)
    return md.rows_check(
        offenders.is_empty(),
        offenders,
        f"export rows whose source is gone or whose files are missing (of {info.height})",
        num_rows=info.height,
        sources=", ".join(sorted(info["source"].unique().to_list())),
    )


class FileCheckConfig(dg.Config):
    """Full decodes per run (the rest get the structure check; see export/file_checks.py)."""

    max_decodes: int = 20_000
    seed: int = 0


@dg.asset_check(
    asset=exported_dataset,
    blocking=True,
    description=(
        "Every crop and mask path in the catalog exists and is a whole PNG (signature, IHDR, "
        "IEND), files not yet verified are decoded (up to max_decodes per run, a seeded sample "
        "beyond), and a decoded file costs one stat until its size, mtime or inode changes."
    ),
)
def crop_and_mask_files_decode(
    config: FileCheckConfig, data: DataDirResource
) -> dg.AssetCheckResult:
    data_dir = data.path()
    paths = file_checks.catalog_file_paths(data.catalog())
    result = file_checks.verify_files(
        data_dir,
        paths,
        file_checks.cache_path(data_dir),
        file_checks.FileCheckParams(max_decodes=config.max_decodes, seed=config.seed),
        written=read_written(data_dir),
    )
    offenders = pl.DataFrame({"problem": result.problems}, schema={"problem": pl.Utf8})
    return md.rows_check(
        not result.problems,
        offenders,
        f"crop and mask files missing, cut short or undecodable (of {result.num_files})",
        **result.metadata(),
    )
