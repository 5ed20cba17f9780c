"""Checking that the crop and mask files the catalog names are there and decode, at any scale.

Decoding every file on every run cost 85-90% of `build_dataset` at 100k-300k faces and more than
18 minutes at 1M. The check is split in three, so it costs little more than one `stat` per file:

- every file its writer verified (media/written_files.py: read back byte for byte and decoded
  right after the rename, its key recorded by the faces and fake_groups stages) and unchanged
  since: one `stat` that finds the recorded key, like a file an earlier run of this check decoded;

- every file new or changed since the last run: it exists, is a non-empty regular file, starts
  with the PNG signature and a well-formed IHDR chunk (length 13, CRC right, width and height
  > 0) and ends with the IEND chunk. Two small reads per file: zero-length, truncated,
  half-written, missing files and files overwritten by something that is not a PNG are caught
  every time. A file that passed before (structure, or a decode) costs one `stat` per run: while
  its key is unchanged it is the file that passed; once the key changes (or it is gone) it gets
  the structure check again, and a decode;
- full decodes, at most `max_decodes` per run: every file whose key (path, size, mtime in ns,
  inode) has no "decodes" verdict in the cache is decoded, all of them when they are at most
  `max_decodes`, else a seeded random sample of that many. A file that decodes is recorded in the
  cache under its key; a file that fails is never cached, so it fails again next run. Because
  each run decodes files not yet verified, repeated runs decode every file once, and a file that
  is changed (rewritten, replaced, its size or mtime changed) gets a new key and is decoded again.

What it does not promise: damage inside the compressed data of a file not yet decoded (it passes
the structure check until a run samples it), and a file rewritten in place with the same size and
its old mtime restored (its key looks unchanged; nothing short of reading every byte sees that).
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import write_parquet_atomic
from deepfake_assets.media.images import ImageIOError, read_png
from deepfake_assets.media.written_files import WRITTEN_SCHEMA

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_HEAD = len(PNG_SIGNATURE) + 8 + 13 + 4  # signature, IHDR length + type, IHDR data, CRC
CACHE_SCHEMA = {
    "path": pl.Utf8,
    "size": pl.Int64,
    "mtime_ns": pl.Int64,
    "ino": pl.Int64,
    "decoded": pl.Boolean,  # False: its structure passed, not decoded yet
}
_CHUNK = 4096  # files per task handed to a thread: few futures, even at millions of files


@dataclass(frozen=True)
class FileCheckParams:
    """How much full decoding one run may do, and the sample's seed."""

    max_decodes: int = 20_000
    seed: int = 0
    threads: int = 8


@dataclass(frozen=True)
class FileCheckResult:
    """Problems (`path: reason`) and what was done to how many files."""

    problems: list[str]
    num_files: int
    num_decoded: int  # decoded in this run
    num_cached: int  # decoded in an earlier run, unchanged since
    num_structure_only: int  # structure checked, not decoded yet (over max_decodes)
    num_structure_read: int = 0  # files whose head and tail were read now (new or changed)
    num_verified_when_written: int = 0  # of num_cached: vouched for by their writer's record

    def metadata(self) -> dict[str, int]:
        return {
            "num_files": self.num_files,
            "num_decoded_now": self.num_decoded,
            "num_verified_before": self.num_cached,
            "num_structure_checked_only": self.num_structure_only,
            "num_structure_read_now": self.num_structure_read,
            "num_verified_when_written": self.num_verified_when_written,
            "num_problems": len(self.problems),
        }


def png_structure_problem(path: Path | str) -> tuple[str | None, tuple[int, int, int]]:
    """What is wrong with the file's PNG frame (None: nothing), and its (size, mtime_ns, ino)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        return f"cannot open: {exc.strerror or exc}", (0, 0, 0)
    try:
        st = os.fstat(fd)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file", key
        if st.st_size < _HEAD + len(IEND_CHUNK):
            return f"too short for a PNG ({st.st_size} bytes)", key
        head = os.pread(fd, _HEAD, 0)
        tail = os.pread(fd, len(IEND_CHUNK), st.st_size - len(IEND_CHUNK))
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}", (0, 0, 0)
    finally:
        os.close(fd)
    if head[:8] != PNG_SIGNATURE:
        return "not a PNG (bad signature)", key
    length, kind = struct.unpack(">I4s", head[8:16])
    if length != 13 or kind != b"IHDR":
        return "no IHDR chunk first", key
    width, height = struct.unpack(">II", head[16:24])
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        return "IHDR CRC mismatch", key
    if width == 0 or height == 0:
        return f"empty image ({width}x{height})", key
    if tail != IEND_CHUNK:
        return "truncated (no IEND chunk at the end)", key
    return None, key


def decode_problem(path: Path) -> str | None:
    """Why the file does not decode as an image (None: it does)."""
    try:
        read_png(path)
    except (ImageIOError, OSError) as exc:
        return f"does not decode: {exc}"
    return None


FILE_COLUMNS = {"faces": ("crop_160", "crop_299", "crop_raw"), "fake_groups": ("mask_path",)}


def catalog_file_paths(catalog) -> pl.Series:
    """Every crop and mask path of the catalog, read column by column from the Parquet files
    (never the whole `faces` table in memory)."""
    parts = []
    for table, columns in FILE_COLUMNS.items():
        for partition in catalog.partitions(table):
            path = catalog.partition_path(table, partition)
            present = pl.read_parquet_schema(path)
            for column in columns:
                if column in present:
                    parts.append(pl.read_parquet(path, columns=[column])[column].alias("path"))
    if not parts:
        return pl.Series("path", [], pl.Utf8)
    return pl.concat(parts).drop_nulls()


def cache_path(data_dir: Path) -> Path:
    """Where the verdicts live: the data folder's shared cache, outside the catalog and outside
    every source's folders (removing a source never removes it)."""
    return config.cache_dir(data_dir) / "file_checks" / "decoded.parquet"


def read_cache(cache_path: Path) -> pl.DataFrame:
    """Keys and verdicts of files that passed in earlier runs (empty when there is no cache or
    it is bad; a cache written before `decoded` existed held decoded files only)."""
    if cache_path.exists():
        try:
            cache = pl.read_parquet(cache_path)
            if "decoded" not in cache.columns:
                cache = cache.with_columns(decoded=pl.lit(True))
            return cache.select(list(CACHE_SCHEMA)).cast(CACHE_SCHEMA)
        except Exception:  # noqa: BLE001 - an unreadable cache only costs re-decoding
            pass
    return pl.DataFrame(schema=CACHE_SCHEMA)


def known_keys(cache: pl.DataFrame, written: pl.DataFrame | None) -> pl.DataFrame:
    """One key per path: the cache's verdicts and the writers' records (`decoded`: True), the
    newest (largest mtime; a tie: the writer's) where both name a path, and `writer` marking the
    writers' keys. Preferring a stale key only costs a re-read: a key is trusted only when the
    file's `stat` still shows it."""
    cache = cache.with_columns(writer=pl.lit(False))
    if written is not None and written.height:
        by_writer = written.select(list(WRITTEN_SCHEMA)).cast(WRITTEN_SCHEMA)
        cache = pl.concat(
            [cache, by_writer.with_columns(decoded=pl.lit(True), writer=pl.lit(True))]
        )
    return cache.sort(["mtime_ns", "writer"], descending=[True, True]).unique("path", keep="first")


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]


def verify_files(
    data_dir: Path,
    rel_paths: pl.Series,
    cache_path: Path,
    params: FileCheckParams = FileCheckParams(),
    written: pl.DataFrame | None = None,
) -> FileCheckResult:
    """Check every file under `data_dir` named by `rel_paths` (see the module docstring);
    `written`: the writers' records (`media.written_files.read_written`)."""
    paths = rel_paths.drop_nulls().unique(maintain_order=True).alias("path")
    n = paths.len()
    # the known key and verdict of each path (null: never checked), in the order of `paths`
    known = pl.DataFrame({"path": paths}).join(
        known_keys(read_cache(cache_path), written), on="path", how="left", maintain_order="left"
    )
    by_writer = known["writer"].fill_null(False)
    problems: list[str] = []
    full = (pl.lit(f"{os.fspath(data_dir).rstrip('/')}/") + pl.col("path")).alias("full")
    columns = known.select(full, "size", "mtime_ns", "ino", pl.col("decoded").fill_null(False))
    # per file: size, mtime, ino, structure ok, key unchanged since the cache, decoded before
    SIZE, MTIME, INO, OK, SAME, DECODED = range(6)  # noqa: N806 - column numbers

    def check_chunk(lo: int) -> tuple[int, np.ndarray, list[tuple[int, str]]]:
        part = columns.slice(lo, _CHUNK)
        out = np.zeros((part.height, 6), np.int64)
        bad: list[tuple[int, str]] = []
        for i, (full, size, mtime, ino, decoded) in enumerate(part.iter_rows()):
            if size is not None:
                # checked before: one stat says whether it is still the file that passed
                try:
                    st = os.stat(full)
                    if (st.st_size, st.st_mtime_ns, st.st_ino) == (size, mtime, ino) and (
                        stat.S_ISREG(st.st_mode)
                    ):
                        out[i] = (size, mtime, ino, 1, 1, decoded)
                        continue
                except OSError:
                    pass
            problem, key = png_structure_problem(full)
            out[i, :3] = key
            if problem is None:
                out[i, OK] = 1
            else:
                bad.append((lo + i, problem))
        return lo, out, bad

    found = np.zeros((n, 6), np.int64)
    with ThreadPoolExecutor(max_workers=params.threads) as pool:
        for lo, out, bad in pool.map(check_chunk, range(0, n, _CHUNK)):
            found[lo : lo + len(out)] = out
            problems += [f"{paths[i]}: {problem}" for i, problem in bad]
    keys = pl.DataFrame(
        {
            "path": paths,
            "size": found[:, SIZE],
            "mtime_ns": found[:, MTIME],
            "ino": found[:, INO],
            "ok": found[:, OK].astype(bool),
            "same": found[:, SAME].astype(bool),
            "decoded": found[:, DECODED].astype(bool),
        }
    ).with_row_index("i")
    todo = keys.filter(pl.col("ok") & ~pl.col("decoded"))
    if todo.height > params.max_decodes:
        todo = todo.sample(params.max_decodes, seed=params.seed, shuffle=False).sort("i")
    todo_paths = todo["path"].to_list()

    def decode_chunk(part: list[str]) -> list[str | None]:
        return [decode_problem(data_dir / rel) for rel in part]

    failed = np.zeros(n, bool)
    decoded = keys["decoded"].to_numpy().copy()
    with ThreadPoolExecutor(max_workers=params.threads) as pool:
        rows = todo["i"].to_list()
        verdicts = pool.map(decode_chunk, _chunks(todo_paths, 256))
        for lo, part in zip(range(0, len(rows), 256), verdicts, strict=True):
            for i, problem in zip(rows[lo : lo + 256], part, strict=True):
                if problem is None:
                    decoded[i] = True
                else:
                    failed[i] = True
                    problems.append(f"{paths[i]}: {problem}")
    # every file that passed (structure, and the decode where it was decoded) under its key;
    # a failure is never cached; paths no longer named are dropped
    passed = keys.with_columns(decoded=pl.Series(decoded)).filter(pl.col("ok") & ~pl.Series(failed))
    write_parquet_atomic(passed.select(list(CACHE_SCHEMA)), cache_path)
    vouched_mask = keys["same"] & keys["decoded"]
    vouched = int(vouched_mask.sum())
    return FileCheckResult(
        problems=problems,
        num_files=n,
        num_decoded=len(todo_paths),
        num_cached=vouched,
        num_structure_only=int(keys["ok"].sum()) - vouched - len(todo_paths),
        num_structure_read=n - int(keys["same"].sum()),
        num_verified_when_written=int((vouched_mask & by_writer).sum()),
    )
