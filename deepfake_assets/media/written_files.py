"""Crops and masks verified once, by the worker that writes them, and the key that vouches for them.

Decoding every file again at export time cost most of `build_dataset` at a million faces
(3.7M files: 393 s just to read each file's head and tail). The worker that writes a file has it
in hand: it writes to a temporary name, renames, reads the file back (byte for byte what the
encoder produced) and decodes those bytes (the pixels it encoded). It then records the file's key
(size, mtime in ns, inode) in the source's work folder, one table per stage
(`work/<source>/written_files/<table>.parquet`), removed with the source. The export's file
check (`export/file_checks.py`) treats a recorded file whose key is unchanged like one it
decoded itself: one `stat`, no read. A file changed since (rewritten, replaced, truncated, its
mtime touched) has another key and is checked from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from deepfake_assets.catalog import write_parquet_atomic
from deepfake_assets.media.images import ImageIOError, encode_png, write_bytes_atomic

WRITTEN_SCHEMA = {"path": pl.Utf8, "size": pl.Int64, "mtime_ns": pl.Int64, "ino": pl.Int64}


@dataclass(frozen=True)
class WrittenFile:
    """A file as it was when its writer verified it (`path` relative to the data folder)."""

    path: str
    size: int
    mtime_ns: int
    ino: int


def write_png_verified(
    path: Path, rgb: np.ndarray, rel_path: str, compression: int = 3
) -> WrittenFile:
    """Write `rgb` as a PNG atomically, then `verify_written` it; its key as it was then."""
    data = encode_png(rgb, compression)
    write_bytes_atomic(path, data)
    return verify_written(path, data, np.asarray(rgb).shape[:2], rel_path)


def verify_written(path: Path, data: bytes, shape: tuple[int, ...], rel_path: str) -> WrittenFile:
    """Read `path` back and decode it; its key as it was read.

    Raises `ImageIOError` when what is on disk is not `data` (a full disk, a file system that
    dropped the write) or does not decode to an image of `shape` (height, width).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        back = os.pread(fd, st.st_size + 1, 0)
    finally:
        os.close(fd)
    if back != data:
        raise ImageIOError(f"{path}: read back {len(back)} bytes, not the {len(data)} written")
    img = cv2.imdecode(np.frombuffer(back, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.shape[:2] != tuple(shape[:2]):
        raise ImageIOError(f"{path}: written, but does not decode to the image written")
    return WrittenFile(rel_path, st.st_size, st.st_mtime_ns, st.st_ino)


def written_table(files: Iterable[WrittenFile]) -> pl.DataFrame:
    rows = [(f.path, f.size, f.mtime_ns, f.ino) for f in files]
    return pl.DataFrame(rows, schema=WRITTEN_SCHEMA, orient="row")


def written_files_path(work_dir: Path, table: str) -> Path:
    """Where one source's stage `table` records the files it wrote (`work_dir`: the source's)."""
    return Path(work_dir) / "written_files" / f"{table}.parquet"


def record_written(work_dir: Path, table: str, files: Iterable[WrittenFile]) -> Path:
    """Replace what `table`'s stage of one source recorded with `files` (atomically)."""
    return write_parquet_atomic(written_table(files), written_files_path(work_dir, table))


def read_written(data_dir: Path) -> pl.DataFrame:
    """Every file any source's stages recorded (a bad or foreign table is skipped: its files are
    then checked from scratch, which costs time, never a wrong verdict)."""
    tables = []
    for path in sorted((Path(data_dir) / "work").glob("*/written_files/*.parquet")):
        try:
            tables.append(pl.read_parquet(path).select(list(WRITTEN_SCHEMA)).cast(WRITTEN_SCHEMA))
        except Exception:  # noqa: BLE001 - see the docstring
            continue
    if not tables:
        return pl.DataFrame(schema=WRITTEN_SCHEMA)
    return pl.concat(tables)
