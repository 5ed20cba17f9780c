"""The export as a Hugging Face ``imagefolder``: ``datasets.load_dataset("imagefolder", ...)``.

One folder per split (``train/``, ``val/``, ``test/``; ``datasets`` names ``val`` "validation"),
each with its images (hard links of the exported crops, no copy) and a ``metadata.parquet``
whose ``file_name`` is relative to that folder (Parquet, not CSV: a column with no value in a
split, such as ``method`` on the demo, would be inferred as float from CSV), so
``load_dataset("imagefolder", data_dir=...)`` gives one row per image, the image decoded and
our columns beside it. Image paths inside a Parquet table would be resolved against the
reader's working directory, and embedding the bytes would copy every image; folders avoid both.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from deepfake_assets.export.info import IMAGE_METADATA_COLUMNS
from deepfake_assets.export.linking import absolute, link_pairs
from deepfake_assets.media.images import write_bytes_atomic

# Columns carried next to each image (the split is the dataset's split, not a column).
HF_COLUMNS = [c for c in IMAGE_METADATA_COLUMNS if c != "split"]


@dataclass
class HfSummary:
    folder: str
    rows: dict[str, int]


def image_name(source: str, video_id: str, frame_index: int, track: int) -> str:
    """A flat, collision-free file name of one face image (no separators, one dot)."""
    return f"{_safe(source, video_id)}__{frame_index:06d}_{track}.png"


def _safe(source: str, video_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{source}__{video_id}")


def image_names(part: pl.DataFrame) -> pl.Series:
    """`image_name` of every row, the per-video part computed once per video (not per row)."""
    videos = part.select("source", "video_id").unique()
    safe = [_safe(s, v) for s, v in videos.iter_rows()]
    videos = videos.with_columns(pl.Series("safe", safe, pl.Utf8))
    named = part.select("source", "video_id", "frame_index", "track").join(
        videos, on=["source", "video_id"], how="left", maintain_order="left"
    )
    return (
        named.select(
            pl.col("safe")
            + "__"
            + pl.col("frame_index").cast(pl.Utf8).str.zfill(6)
            + "_"
            + pl.col("track").cast(pl.Utf8)
            + ".png"
        )
        .to_series()
        .alias("file_name")
    )


def write_imagefolder(
    info: pl.DataFrame, export_dir: Path, image_column: str = "path_299"
) -> HfSummary:
    """``export_dir/hf/<split>/`` images and ``metadata.parquet`` (``image_column`` relative to
    ``export_dir``)."""
    root = export_dir / "hf"
    rows: dict[str, int] = {}
    for split in sorted(info["split"].unique().to_list()):
        part = info.filter(pl.col("split") == split).sort("source", "video_id", "frame_index")
        names = image_names(part)
        link_pairs(absolute(export_dir, part[image_column]), absolute(root / split, names))
        meta = part.select(HF_COLUMNS).insert_column(0, names)
        buf = io.BytesIO()
        meta.write_parquet(buf)
        write_bytes_atomic(root / split / "metadata.parquet", buf.getvalue())
        rows[split] = part.height
    return HfSummary(folder="hf", rows=rows)
