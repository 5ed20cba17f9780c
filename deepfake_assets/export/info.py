"""`info.csv`: one row per kept face image (consumer formats: deepfakebench.py, hf.py, ...)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

INFO_COLUMNS = [
    "path",
    "path_299",
    "path_raw",
    "mask_path",
    "label",
    "source",
    "video_id",
    "original_video_id",
    "frame_index",
    "track",
    "actor_id",
    "split",
    "level",
    "fold",
    "fake_level",
    "ssim",
    "method",
    "item_kind",  # image (a still: frame_index 0) or video
]


# A cell starting with one of these runs as a formula in Excel, LibreOffice or Google Sheets
# (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(table: pl.DataFrame) -> pl.DataFrame:
    """String cells that a spreadsheet would evaluate, prefixed with ``'`` (shown, not run).

    Only string columns: numbers (a negative ``frame_index`` or ``level``) are written by the CSV
    writer as numbers and no spreadsheet evaluates them. For the CSV only: Parquet and JSON
    readers never evaluate, and there the value stays exactly what the source said.
    """
    starts = "^[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "]"
    return table.with_columns(
        pl.when(pl.col(name).str.contains(starts))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in table.schema.items()
        if dtype == pl.Utf8
    )


def info_csv(info: pl.DataFrame) -> str:
    """The text of `info.csv`: the table with formula-like cells neutralised."""
    return neutralise_formulas(info).write_csv()


def info_table(
    splits: pl.DataFrame,
    folds: pl.DataFrame,
    faces: pl.DataFrame,
    fake_groups: pl.DataFrame,
    videos: pl.DataFrame,
) -> pl.DataFrame:
    """Join splits, folds, crops, SSIM groups and the manifest (the catalog tables of those
    names) into the export's rows.

    Paths are the catalog's, relative to the data directory (`faces/...`, `masks/...`); the
    export mirrors that layout, so they are relative to the export folder as well.
    """
    if splits.is_empty():
        return pl.DataFrame(schema={c: pl.Utf8 for c in INFO_COLUMNS})
    folds = folds.select("face_id", "level", "fold")
    faces = faces.select(
        "face_id",
        pl.col("crop_160").alias("path"),
        pl.col("crop_299").alias("path_299"),
        pl.col("crop_raw").alias("path_raw"),
    )
    fakes = fake_groups
    if fakes.is_empty():
        fakes = pl.DataFrame(
            schema={
                "face_id": pl.Utf8,
                "ssim": pl.Float64,
                "fake_level": pl.Int8,
                "mask_path": pl.Utf8,
            }
        )
    fakes = fakes.select("face_id", "ssim", "fake_level", "mask_path")
    kind = pl.col("item_kind") if "item_kind" in videos.columns else pl.lit(None, pl.Utf8)
    # partitions written before images existed have no item_kind: they are videos
    videos = videos.select(
        "source", "video_id", "method", kind.fill_null("video").alias("item_kind")
    )
    return (
        splits.join(folds, on="face_id", how="left")
        .join(faces, on="face_id", how="left")
        .join(fakes, on="face_id", how="left")
        .join(videos, on=["source", "video_id"], how="left")
        .select(INFO_COLUMNS)
        .sort("source", "video_id", "frame_index", "track")
    )


FILE_COLUMNS = ("path", "path_299", "path_raw", "mask_path")
NOT_REGISTERED = "source not registered (removed after fold_splits was built)"
NO_CROP = "no crop in the catalog (its source's faces re-materialised after fold_splits)"


def unresolved_rows(
    info: pl.DataFrame, registered: frozenset[str] | None, files_root: Path | None = None
) -> pl.DataFrame:
    """Export rows that do not stand for a face of the dataset: source, problem, n_rows, example.

    A row's source must be registered and it must have a crop `path`; with `files_root` (an
    export folder) every file the row lists must exist under it. Grouped by source and problem
    (a missing file is its own problem), so a removed source is one line, not thousands.
    """
    schema = {"source": pl.Utf8, "problem": pl.Utf8, "n_rows": pl.UInt32, "example": pl.Utf8}
    if info.is_empty():
        return pl.DataFrame(schema=schema)
    keyed = info.with_columns(
        pl.concat_str(
            [pl.col("video_id"), pl.col("frame_index"), pl.col("track")],
            separator="/",
            ignore_nulls=True,
        ).alias("example")
    )
    problems = []
    if registered is not None:
        problems.append(
            keyed.filter(~pl.col("source").is_in(sorted(registered))).with_columns(
                pl.lit(NOT_REGISTERED).alias("problem")
            )
        )
    problems.append(
        keyed.filter(pl.col("path").is_null() | (pl.col("path") == "")).with_columns(
            pl.lit(NO_CROP).alias("problem")
        )
    )
    if files_root is not None:
        for column in FILE_COLUMNS:
            listed = keyed.filter(pl.col(column).is_not_null() & (pl.col(column) != ""))
            # strings, not Path objects: a Path join per file was most of this at a million
            prefix, isfile = f"{os.fspath(files_root).rstrip('/')}/", os.path.isfile
            missing = [not isfile(prefix + rel) for rel in listed[column].to_list()]
            problems.append(
                listed.filter(pl.Series(missing, dtype=pl.Boolean)).with_columns(
                    ("file missing: " + pl.col(column)).alias("problem")
                )
            )
    return (
        pl.concat([p.select("source", "problem", "example") for p in problems])
        .group_by("source", "problem")
        .agg(pl.len().alias("n_rows"), pl.col("example").first())
        .cast(schema)
        .select(list(schema))
        .sort("source", "problem")
    )


# What the per-image consumer formats (Hugging Face, WebDataset, FiftyOne) carry beside each
# image, in this order.
IMAGE_METADATA_COLUMNS = (
    "split",
    "label",
    "source",
    "video_id",
    "original_video_id",
    "frame_index",
    "track",
    "actor_id",
    "level",
    "fold",
    "fake_level",
    "ssim",
    "method",
)
