"""Hard-linking an export's images into its folder, at millions of files.

Measured at 100k faces (380k files): per file, a `Path` join and `Path.parent.mkdir` cost more
than the `link` system call itself, and a list of (Path, Path) pairs with one future per file
cost ~2 KB per image (7-8 GB at 3-4 million crops and masks). Here the absolute source and
destination paths are built as whole polars string columns, every destination folder is made
once (sorted, so a parent exists before its children), and threads link chunks of plain
strings with `os.link` in a tight loop (the call releases the GIL).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

CHUNK = 8192
THREADS = 4
# ext4 allows 65,000 links to one inode; a file linked more often (an all-zero mask shared by
# every real) is copied once per MAX_LINKS links (see `link_many`).
MAX_LINKS = 60_000


def link_file(src: Path | str, dst: Path | str) -> None:
    """A hard link (no copy) where the filesystem allows, else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _mkdir_all(folders: list[str]) -> None:
    for folder in folders:
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:  # a parent not listed itself
            os.makedirs(folder, exist_ok=True)


def make_folders(dst: pl.Series, threads: int = THREADS) -> int:
    """Every parent folder of the absolute paths in `dst`, each made once, shallower ones
    first, in threads (a mkdir costs 50-300 us on ext4, more than a link); returns how many."""
    folders = dst.str.replace(r"/[^/]*$", "").unique().to_frame("folder")
    folders = folders.with_columns(depth=pl.col("folder").str.count_matches("/")).sort("depth")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for (_depth,), level in folders.group_by("depth", maintain_order=True):
            names = level["folder"].to_list()
            list(pool.map(_mkdir_all, [names[i : i + 1024] for i in range(0, len(names), 1024)]))
    return folders.height


def link_pairs(src: pl.Series, dst: pl.Series, threads: int = THREADS) -> int:
    """Link `src[i]` to `dst[i]` (absolute path strings, destinations distinct and not there
    yet); returns how many."""
    if src.len() != dst.len():
        raise ValueError("src and dst differ in length")
    make_folders(dst)

    def link_chunk(lo: int) -> int:
        sources = src.slice(lo, CHUNK).to_list()
        targets = dst.slice(lo, CHUNK).to_list()
        link = os.link
        for a, b in zip(sources, targets, strict=True):
            try:
                link(a, b)
            except OSError:  # another filesystem, too many links: a copy
                shutil.copyfile(a, b)
        return len(sources)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(link_chunk, range(0, src.len(), CHUNK)))


def absolute(root: Path, rel_paths: pl.Series) -> pl.Series:
    """`root/rel` for every relative path of `rel_paths`, as strings."""
    prefix = f"{os.fspath(root).rstrip('/')}/"
    return pl.select(pl.lit(prefix) + rel_paths.cast(pl.Utf8)).to_series().alias("path")


def link_tree(src_root: Path, dst_root: Path, rel_paths: pl.Series, threads: int = THREADS) -> int:
    """Link every `src_root/rel` to `dst_root/rel` once (repeats and nulls dropped)."""
    paths = rel_paths.drop_nulls().unique(maintain_order=True)
    return link_pairs(absolute(src_root, paths), absolute(dst_root, paths), threads)


def link_many(src: Path, dst: pl.Series, threads: int = THREADS, max_links: int = MAX_LINKS) -> int:
    """Link one file to every path of `dst`, a fresh copy of it every `max_links` links."""
    copies = []
    for k in range(0, dst.len(), max_links):
        copy = src.with_name(f"{src.name}.{k // max_links}")
        shutil.copyfile(src, copy)
        copies.append(str(copy))
    which = pl.int_range(dst.len(), eager=True) // max_links
    sources = pl.Series(copies, dtype=pl.Utf8).gather(which)
    try:
        return link_pairs(sources, dst, threads)
    finally:
        for copy in copies:
            os.unlink(copy)


TRASH_PREFIX = ".trash.export."
_DELETER = (
    "import os, shutil, sys\n"
    "trash = os.path.join(os.path.dirname(sys.argv[1]), f'{sys.argv[2]}{os.getpid()}')\n"
    "os.replace(sys.argv[1], trash)\n"
    "shutil.rmtree(trash, ignore_errors=True)\n"
)


def remove_in_background(folder: Path) -> int:
    """Delete a replaced export in a process of its own; returns its pid.

    Unlinking an old export's millions of links costs more than building the new one (README's
    scale section, `benchmarks/scale_bench.py`), and nothing waits for that space. The deleter
    first renames the folder to `.trash.export.<its pid>`, so `remove_abandoned_trash` can tell
    a live deletion from one whose process died.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _DELETER, str(folder), TRASH_PREFIX],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the run's process group: a finished run leaves it be
    )
    return proc.pid


def remove_abandoned_trash(data_dir: Path, alive) -> int:
    """Delete `.trash.export.<pid>` folders whose deleter is gone (`alive(pid)` False)."""
    removed = 0
    for folder in data_dir.glob(f"{TRASH_PREFIX}*"):
        pid = folder.name.removeprefix(TRASH_PREFIX)
        if pid.isdigit() and alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed
