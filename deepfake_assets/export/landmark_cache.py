"""DeepfakeBench landmarks, computed once per crop file and kept, in parallel workers.

dlib's frontal detector plus its 68-point predictor cost tens of milliseconds per 299 crop
(README's scale section; `benchmarks/scale_bench.py` with landmarks on): at a million faces,
hours in one process. So each crop's landmarks are
computed once, by the `compute` executor's workers (this machine's cores, or a Dask cluster),
saved as the `.npy` file DeepfakeBench reads under `cache/landmarks/<options>/`, and recorded in
an index keyed by the crop file's (path, size, mtime in ns, inode). An export links those files;
a re-export computes landmarks only for crops that are new or changed since (a rewritten crop
gets a new key).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import write_parquet_atomic

INDEX_SCHEMA = {
    "path": pl.Utf8,
    "size": pl.Int64,
    "mtime_ns": pl.Int64,
    "ino": pl.Int64,
    "box_source": pl.Utf8,
    "clamped": pl.Boolean,
}
CHUNK = 256  # crops per task: a few hundred tasks at a million crops


@dataclass(frozen=True)
class LandmarkOptions:
    """What the saved points depend on: the loader's image side and the crop's margin."""

    resolution: int = 256
    margin: float = 0.15

    def folder(self, data_dir: Path) -> Path:
        return config.cache_dir(data_dir) / "landmarks" / f"r{self.resolution}_m{self.margin:g}"


@dataclass
class LandmarkResult:
    """Per crop (input order): the saved `.npy` (null: no landmarks, see `failures`)."""

    npy: pl.Series
    computed: int = 0
    reused: int = 0
    box_sources: dict[str, int] = field(default_factory=dict)
    clamped: int = 0
    failures: list[str] = field(default_factory=list)


def npy_path(folder: Path, rel: str) -> str:
    return f"{folder}/{rel.removesuffix('.png')}.npy"


def landmark_chunk(
    crops: list[str], targets: list[str], options: LandmarkOptions
) -> list[tuple[str | None, bool, str | None]]:
    """In a worker: each crop's 68 points in a `resolution`-sided image, clamped onto it (the
    loader's albumentations rejects points outside), saved to its target; per crop
    (box source, clamped, failure)."""
    from deepfake_assets.faces.landmarks import landmarks_68
    from deepfake_assets.media.images import ImageIOError, read_png, write_bytes_atomic

    out: list[tuple[str | None, bool, str | None]] = []
    for crop, target in zip(crops, targets, strict=True):
        try:
            rgb = read_png(Path(crop))
        except (ImageIOError, OSError) as exc:
            out.append((None, False, str(exc)))
            continue
        marks = landmarks_68(rgb, options.margin)
        scaled = marks.points * (options.resolution / rgb.shape[1])
        inside = np.clip(scaled, 0, options.resolution - 1).astype(np.float32)
        buf = io.BytesIO()
        np.save(buf, inside)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_bytes_atomic(Path(target), buf.getvalue())
        out.append((marks.box_source.value, bool(np.any(inside != scaled)), None))
    return out


def _read_index(path: Path) -> pl.DataFrame:
    if path.exists():
        try:
            return pl.read_parquet(path).select(list(INDEX_SCHEMA)).cast(INDEX_SCHEMA)
        except Exception:  # noqa: BLE001 - an unreadable index only costs recomputing
            pass
    return pl.DataFrame(schema=INDEX_SCHEMA)


def _keys(root: Path, rels: list[str]) -> Iterator[tuple[int, int, int]]:
    prefix = f"{root}/"
    for rel in rels:
        try:
            st = os.stat(prefix + rel)
            yield st.st_size, st.st_mtime_ns, st.st_ino
        except OSError:
            yield -1, -1, -1


def crop_landmarks(
    crop_root: Path, rels: pl.Series, data_dir: Path, options: LandmarkOptions, executor
) -> LandmarkResult:
    """Landmarks of every crop `crop_root/rel` (distinct rels), from the index where the crop is
    unchanged, else computed through `executor` (compute/: `map` over Tasks)."""
    from deepfake_assets.compute import Task

    folder = options.folder(data_dir)
    index_path = folder / "index.parquet"
    rels = rels.cast(pl.Utf8).alias("path")
    key = pl.DataFrame(
        list(_keys(crop_root, rels.to_list())),
        schema={"size": pl.Int64, "mtime_ns": pl.Int64, "ino": pl.Int64},
        orient="row",
    )
    now = pl.concat([rels.to_frame(), key], how="horizontal").with_row_index("i")
    known = _read_index(index_path).unique("path", keep="last")
    joined = now.join(known, on=["path", "size", "mtime_ns", "ino"], how="left")
    fresh = joined.filter(pl.col("box_source").is_not_null())
    todo = joined.filter(pl.col("box_source").is_null() & (pl.col("size") >= 0))
    result = LandmarkResult(npy=pl.Series("npy", [], pl.Utf8), reused=fresh.height)
    crops, rows = todo["path"].to_list(), todo["i"].to_list()
    tasks = (
        Task(
            f"landmarks:{lo}",
            landmark_chunk,
            (
                [f"{crop_root}/{r}" for r in crops[lo : lo + CHUNK]],
                [npy_path(folder, r) for r in crops[lo : lo + CHUNK]],
                options,
            ),
        )
        for lo in range(0, len(crops), CHUNK)
    )
    computed: list[tuple] = []
    for outcome in executor.map(tasks):
        lo = int(outcome.key.split(":")[1])
        part = crops[lo : lo + CHUNK]
        verdicts = outcome.value if outcome.ok else [(None, False, outcome.error)] * len(part)
        for j, (rel, (source, clamped, failure)) in enumerate(zip(part, verdicts, strict=True)):
            if failure is not None:
                result.failures.append(f"{rel}: {failure}")
                continue
            computed.append((rows[lo + j], source, clamped))
    result.failures += [f"{r}: missing" for r in joined.filter(pl.col("size") < 0)["path"]]
    done = pl.DataFrame(
        computed,
        schema={"i": pl.UInt32, "box_source": pl.Utf8, "clamped": pl.Boolean},
        orient="row",
    )
    new = now.join(done, on="i").sort("i")
    result.computed = new.height
    kept = pl.concat([fresh.select(new.columns), new]).sort("i")
    npy = (pl.lit(f"{folder}/") + pl.col("path").str.replace(r"\.png$", "") + ".npy").alias("npy")
    result.npy = now.select("i").join(kept.select("i", npy), on="i", how="left").sort("i")["npy"]
    result.clamped = int(kept["clamped"].sum())
    result.box_sources = dict(kept.group_by("box_source").len().sort("box_source").iter_rows())
    # the index keeps every crop ever computed that is still unchanged or not asked about now
    others = known.join(now.select("path"), on="path", how="anti")
    write_parquet_atomic(
        pl.concat([others, kept.select(list(INDEX_SCHEMA))]).cast(INDEX_SCHEMA), index_path
    )
    return result
