"""The exported dataset: info.csv / Parquet, DeepfakeBench JSON and a data card.

The export folder is self-contained: crops and masks are hard-linked into it (copied where the
filesystem cannot link), and every path in `info.csv` is relative to the folder.
"""

import json
import os
import shutil

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.export import file_checks
from deepfake_assets.export.data_card import counts_figure, data_card
from deepfake_assets.export.info import deepfakebench_json, info_table
from deepfake_assets.export.linking import link_tree
from deepfake_assets.jobs import DATASET
from deepfake_assets.resources import DataDirResource


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
def exported_dataset(context: dg.AssetExecutionContext, data: DataDirResource):
    catalog = data.catalog()
    data_dir = data.path()
    out = data_dir / "export"
    info = info_table(catalog)
    if info.is_empty():
        raise dg.Failure("nothing to export: `splits` is empty")
    # Built beside the old export and swapped in at the end, so the folder never mixes two
    # exports and never keeps images the new one dropped.
    building = data_dir / f".export.{os.getpid()}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    columns = ("path", "path_299", "path_raw", "mask_path")
    linked = link_tree(data_dir, building, pl.concat([info[c].cast(pl.Utf8) for c in columns]))
    context.log.info(f"linked {linked} images into the new export")
    (building / "info.csv").write_text(info.write_csv())
    info.write_parquet(building / "info.parquet")
    (building / "deepfakebench.json").write_text(
        json.dumps(deepfakebench_json(info, "deepfake_assets"))
    )
    figure_name = "data_card_counts.png"
    counts_figure(info).savefig(building / figure_name, dpi=90, bbox_inches="tight")
    card = data_card(info, figure_name)
    (building / "DATA_CARD.md").write_text(card)
    previous = data_dir / f".export.{os.getpid()}.previous"
    if out.exists():
        os.replace(out, previous)
    os.replace(building, out)
    shutil.rmtree(previous, ignore_errors=True)
    summary = info.group_by("source", "split", "label").len().sort("source", "split", "label")
    return dg.MaterializeResult(
        metadata={
            "export_folder": dg.MetadataValue.path(str(out)),
            "num_images": info.height,
            "num_actors": info["actor_id"].n_unique(),
            "by_split": md.counts(info, "split"),
            "by_label": md.counts(info, "label"),
            "counts": md.table(summary, limit=100),
            "data_card": dg.MetadataValue.md(card.split("![", 1)[0]),
        }
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
        "IEND: every file, every run); files not yet verified are decoded (up to max_decodes "
        "per run, a seeded sample beyond), and a decoded file is not decoded again until its "
        "size, mtime or inode changes."
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
    )
    offenders = pl.DataFrame({"problem": result.problems}, schema={"problem": pl.Utf8})
    return md.rows_check(
        not result.problems,
        offenders,
        f"crop and mask files missing, cut short or undecodable (of {result.num_files})",
        **result.metadata(),
    )
