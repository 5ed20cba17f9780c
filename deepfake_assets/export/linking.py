"""Hard-linking an export's images into its folder, in chunks, at millions of files.

A list of (Path, Path) pairs and one future per file cost ~2 KB per image: 7-8 GB at a million
faces (3-4 million crops and masks). Here the relative paths stay in a polars Series, and each
thread task links a chunk of them, so memory stays at the Series and a chunk of strings.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

CHUNK = 4096


def link_file(src: Path, dst: Path) -> None:
    """A hard link (no copy) where the filesystem allows, else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def link_tree(src_root: Path, dst_root: Path, rel_paths: pl.Series, threads: int = 8) -> int:
    """Link every `src_root/rel` to `dst_root/rel` (folders made once each); returns how many."""
    paths = rel_paths.drop_nulls().unique(maintain_order=True)
    for folder in paths.str.replace(r"/[^/]*$", "").unique().to_list():
        (dst_root / folder).mkdir(parents=True, exist_ok=True)

    def link_chunk(lo: int) -> int:
        part = paths.slice(lo, CHUNK).to_list()
        for rel in part:
            link_file(src_root / rel, dst_root / rel)
        return len(part)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(link_chunk, range(0, paths.len(), CHUNK)))
