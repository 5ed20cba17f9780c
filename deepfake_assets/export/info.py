"""`info.csv`: one row per kept face image (consumer formats: deepfakebench.py, hf.py, ...)."""

from __future__ import annotations

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
]


def info_table(catalog) -> pl.DataFrame:
    """Join splits, folds, crops, SSIM groups and the manifest into the export's rows.

    Paths are the catalog's, relative to the data directory (`faces/...`, `masks/...`); the
    export mirrors that layout, so they are relative to the export folder as well.
    """
    splits = catalog.read("splits")
    if splits.is_empty():
        return pl.DataFrame(schema={c: pl.Utf8 for c in INFO_COLUMNS})
    folds = catalog.read("folds").select("face_id", "level", "fold")
    faces = catalog.read("faces").select(
        "face_id",
        pl.col("crop_160").alias("path"),
        pl.col("crop_299").alias("path_299"),
        pl.col("crop_raw").alias("path_raw"),
    )
    fakes = catalog.read("fake_groups")
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
    videos = catalog.read("videos").select("source", "video_id", "method")
    return (
        splits.join(folds, on="face_id", how="left")
        .join(faces, on="face_id", how="left")
        .join(fakes, on="face_id", how="left")
        .join(videos, on=["source", "video_id"], how="left")
        .select(INFO_COLUMNS)
        .sort("source", "video_id", "frame_index", "track")
    )
