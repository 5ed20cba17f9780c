"""The exported dataset: info.csv / Parquet, DeepfakeBench JSON and a data card.

The export folder is self-contained: crops and masks are hard-linked into it (copied where the
filesystem cannot link), and every path in `info.csv` is relative to the folder.
"""

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.catalog import write_parquet_atomic
from deepfake_assets.export.data_card import counts_figure, data_card
from deepfake_assets.export.info import deepfakebench_json, info_table
from deepfake_assets.jobs import DATASET
from deepfake_assets.media.images import ImageIOError, read_png, write_bytes_atomic
from deepfake_assets.resources import DataDirResource


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


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
    out.mkdir(parents=True, exist_ok=True)
    info = info_table(catalog)
    if info.is_empty():
        raise dg.Failure("nothing to export: `splits` is empty")
    files = [
        (data_dir / rel, out / rel)
        for column in ("path", "path_299", "path_raw", "mask_path")
        for rel in info[column].drop_nulls().to_list()
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda pair: _link(*pair), files))
    context.log.info(f"linked {len(files)} images into {out}")
    _write_text_atomic(out / "info.csv", info.write_csv())
    write_parquet_atomic(info, out / "info.parquet")
    _write_text_atomic(
        out / "deepfakebench.json", json.dumps(deepfakebench_json(info, "deepfake_assets"))
    )
    figure_path = out / "data_card_counts.png"
    counts_figure(info).savefig(figure_path, dpi=90, bbox_inches="tight")
    card = data_card(info, figure_path.name)
    _write_text_atomic(out / "DATA_CARD.md", card)
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


@dg.asset_check(
    asset=exported_dataset,
    blocking=True,
    description="Every crop and mask path in the catalog exists and decodes.",
)
def crop_and_mask_files_decode(data: DataDirResource) -> dg.AssetCheckResult:
    catalog = data.catalog()
    data_dir = data.path()
    faces = catalog.read("faces")
    masks = catalog.read("fake_groups")
    paths = []
    for column in ("crop_160", "crop_299", "crop_raw"):
        if column in faces.columns:
            paths += faces[column].drop_nulls().to_list()
    if "mask_path" in masks.columns:
        paths += masks["mask_path"].drop_nulls().to_list()

    def broken(rel: str) -> str | None:
        try:
            read_png(data_dir / rel)
        except (ImageIOError, OSError) as exc:
            return f"{rel}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = [p for p in pool.map(broken, paths) if p]
    offenders = pl.DataFrame({"problem": problems}, schema={"problem": pl.Utf8})
    return md.rows_check(
        not problems,
        offenders,
        f"crop and mask files missing or undecodable (of {len(paths)})",
        num_files=len(paths),
    )
