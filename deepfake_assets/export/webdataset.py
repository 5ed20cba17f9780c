"""WebDataset tar shards per split: ``<key>.png`` + ``<key>.json``, for streaming training.

Keys follow the webdataset convention (a member's key is its name up to the first dot, and
consecutive members with one key form a sample), so keys hold no dots. Rows are shuffled with a
fixed seed before sharding: shards in source/video order would give a streaming reader whole
videos, one identity at a time. Each split gets ``<split>.txt``, its shard list (paths relative
to the ``wds`` folder), and ``shards.json`` gives brace patterns for ``webdataset.WebDataset``.
"""

from __future__ import annotations

import json
import os
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from deepfake_assets.export.info import IMAGE_METADATA_COLUMNS
from deepfake_assets.media.images import write_bytes_atomic

JSON_COLUMNS = list(IMAGE_METADATA_COLUMNS)


@dataclass
class WdsSummary:
    folder: str
    shards: dict[str, list[str]]
    samples: dict[str, int]


def sample_key(source: str, video_id: str, frame_index: int, track: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{source}__{video_id}")
    return f"{safe}__{frame_index:06d}_{track}"


def _tarinfo_header(name: str, size: int) -> bytes:
    member = tarfile.TarInfo(name)
    member.size = size
    member.mode = 0o644
    member.mtime = 0  # the same rows give the same bytes
    return member.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


_TEMPLATE = _tarinfo_header("x", 0)


def member_header(name: str, size: int) -> bytes:
    """The ustar header `tarfile` writes for a regular file (mode 644, mtime 0), made from a
    template: `TarInfo.tobuf` costs ~70 us in Python, most of the shards' CPU time at 1M
    images. Names over 100 bytes (ustar splits them into a prefix) or not ASCII go to tarfile."""
    raw = name.encode("ascii", "ignore")
    if len(raw) != len(name) or len(raw) > 100:
        return _tarinfo_header(name, size)
    buf = bytearray(_TEMPLATE)
    buf[0:100] = raw.ljust(100, b"\0")
    buf[124:136] = b"%011o\0" % size
    buf[148:156] = b" " * 8
    buf[148:156] = b"%06o\0 " % sum(buf)
    return bytes(buf)


def _write_shard(path: Path, samples: list[tuple[str, Path, dict]]) -> None:
    """One tar, byte for byte what `tarfile` (ustar) writes for these members."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as out:
            written = 0
            for key, image, meta in samples:
                for name, data in (
                    (f"{key}.png", image.read_bytes()),
                    (f"{key}.json", json.dumps(meta).encode()),
                ):
                    pad = -len(data) % tarfile.BLOCKSIZE
                    out.write(member_header(name, len(data)) + data + b"\0" * pad)
                    written += tarfile.BLOCKSIZE + len(data) + pad
            # two zero blocks end the archive, padded to a whole record as tarfile does
            end = written + 2 * tarfile.BLOCKSIZE
            out.write(b"\0" * (2 * tarfile.BLOCKSIZE + (-end % tarfile.RECORDSIZE)))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_shards(
    info: pl.DataFrame,
    export_dir: Path,
    shard_size: int = 10_000,
    seed: int = 0,
    image_column: str = "path_299",
    out: Path | None = None,
) -> WdsSummary:
    """``export_dir/wds/<split>/<split>-NNNNNN.tar`` of at most ``shard_size`` samples each
    (``out`` instead of ``export_dir/wds`` when given)."""
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    root = out if out is not None else export_dir / "wds"
    root.mkdir(parents=True, exist_ok=True)
    shards: dict[str, list[str]] = {}
    samples: dict[str, int] = {}
    patterns: dict[str, dict] = {}
    for split in sorted(info["split"].unique().to_list()):
        part = (
            info.filter(pl.col("split") == split)
            .sort("source", "video_id", "frame_index", "track")
            .sample(fraction=1.0, shuffle=True, seed=seed)
        )
        table = part.select(image_column, *JSON_COLUMNS)
        (root / split).mkdir(parents=True, exist_ok=True)
        names = []
        # one shard's rows as Python objects at a time, not the whole split's
        for n, start in enumerate(range(0, table.height, shard_size)):
            name = f"{split}/{split}-{n:06d}.tar"
            batch = [
                (
                    sample_key(r["source"], r["video_id"], r["frame_index"], r["track"]),
                    export_dir / r[image_column],
                    {c: r[c] for c in JSON_COLUMNS},
                )
                for r in table.slice(start, shard_size).iter_rows(named=True)
            ]
            _write_shard(root / name, batch)
            names.append(name)
        write_bytes_atomic(root / f"{split}.txt", ("\n".join(names) + "\n").encode())
        shards[split] = names
        samples[split] = table.height
        last = len(names) - 1
        patterns[split] = {
            "pattern": f"{split}/{split}-{{000000..{last:06d}}}.tar",
            "shards": len(names),
            "samples": table.height,
        }
    write_bytes_atomic(root / "shards.json", json.dumps(patterns, indent=1).encode())
    return WdsSummary(folder="wds", shards=shards, samples=samples)
