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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from deepfake_assets.export.info import IMAGE_METADATA_COLUMNS
from deepfake_assets.media.images import write_bytes_atomic

# Columns carried next to each image (the split is the dataset's split, not a column).
HF_COLUMNS = [c for c in IMAGE_METADATA_COLUMNS if c != "split"]


@dataclass
class HfSummary:
    folder: str
    rows: dict[str, int]


def image_name(source: str, video_id: str, frame_index: int, track: int) -> str:
    """A flat, collision-free file name of one face image (no separators, one dot)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{source}__{video_id}")
    return f"{safe}__{frame_index:06d}_{track}.png"


def write_imagefolder(
    info: pl.DataFrame,
    export_dir: Path,
    link: Callable[[Path, Path], None],
    image_column: str = "path_299",
) -> HfSummary:
    """``export_dir/hf/<split>/`` images and ``metadata.parquet`` (``image_column`` relative to
    ``export_dir``)."""
    root = export_dir / "hf"
    rows: dict[str, int] = {}
    for split in sorted(info["split"].unique().to_list()):
        part = info.filter(pl.col("split") == split).sort("source", "video_id", "frame_index")
        names = [
            image_name(r["source"], r["video_id"], r["frame_index"], r["track"])
            for r in part.select("source", "video_id", "frame_index", "track").iter_rows(named=True)
        ]
        for rel, name in zip(part[image_column].to_list(), names, strict=True):
            link(export_dir / rel, root / split / name)
        meta = part.select(HF_COLUMNS).insert_column(0, pl.Series("file_name", names))
        buf = io.BytesIO()
        meta.write_parquet(buf)
        write_bytes_atomic(root / split / "metadata.parquet", buf.getvalue())
        rows[split] = part.height
    return HfSummary(folder="hf", rows=rows)
