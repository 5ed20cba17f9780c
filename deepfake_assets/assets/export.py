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
from deepfake_assets.export.data_card import counts_figure, data_card
from deepfake_assets.export.info import (
    NO_CROP,
    NOT_REGISTERED,
    deepfakebench_json,
    info_csv,
    info_table,
    unresolved_rows,
)
from deepfake_assets.jobs import DATASET
from deepfake_assets.media.images import ImageIOError, read_png
from deepfake_assets.resources import DataDirResource


def _link(src: Path, dst: Path) -> None:
    """A hard link (no copy) where the filesystem allows, else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _remove_abandoned_builds(data_dir: Path) -> int:
    """Delete `.export.<pid>.building` folders whose process is gone (a run killed while it
    exported). A `.previous` one is kept: it may be the last export left."""
    removed = 0
    for folder in data_dir.glob(".export.*.building"):
        pid = folder.name.split(".")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _build(context: dg.AssetExecutionContext, info: pl.DataFrame, data_dir: Path, building: Path):
    """Images, tables, JSON and data card into `building`; returns the data card's text."""
    # each file once: a path listed twice (a crop shared by two rows) must not fail the link
    rels = sorted(
        {rel for c in ("path", "path_299", "path_raw", "mask_path") for rel in info[c].drop_nulls()}
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda rel: _link(data_dir / rel, building / rel), rels))
    context.log.info(f"linked {len(rels)} images into the new export")
    # spreadsheet formulas neutralised in the CSV only; Parquet and JSON keep the true values
    (building / "info.csv").write_text(info_csv(info), encoding="utf-8")
    info.write_parquet(building / "info.parquet")
    (building / "deepfakebench.json").write_text(
        json.dumps(deepfakebench_json(info, "deepfake_assets"))
    )
    figure_name = "data_card_counts.png"
    counts_figure(info).savefig(building / figure_name, dpi=90, bbox_inches="tight")
    card = data_card(info, figure_name)
    (building / "DATA_CARD.md").write_text(card)
    return card


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
        card = _build(context, info, data_dir, building)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
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
            "sources": ", ".join(sorted(info["source"].unique().to_list())),
            "by_split": md.counts(info, "split"),
            "by_label": md.counts(info, "label"),
            "counts": md.table(summary, limit=100),
            "data_card": dg.MetadataValue.md(card.split("![", 1)[0]),
        }
    )


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
