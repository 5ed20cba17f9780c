"""Seed 000's video test subset: the test split's whole source videos, for video-level tests.

Seed 000 shipped, beside the face images, a set of whole videos to test models at video level.
Here it is the test split's source videos, linked into ``test_videos/<source>/<rel_path>`` (a
hard link where the filesystem allows, else a symbolic link: never a copy) with
``test_videos.csv`` (path relative to the export, label, source, method, actor, fake level).
A fake travels with its original: videos are taken in (source, original) groups, in a fixed
order, while the total stays under ``max_bytes`` and ``max_videos``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

from deepfake_assets.media.images import write_bytes_atomic

VIDEO_COLUMNS = ["path", "label", "source", "video_id", "method", "actor_id", "fake_level"]


@dataclass
class VideoSubsetSummary:
    videos: int
    bytes: int
    left_out: int  # test videos over the caps
    links: dict[str, int]  # "hardlink" / "symlink" -> count
    missing: list[str] = field(default_factory=list)  # chosen videos no longer on disk


def plan_subset(
    info: pl.DataFrame, videos: pl.DataFrame, max_bytes: int, max_videos: int
) -> tuple[pl.DataFrame, int]:
    """The test videos to ship (one row each) and how many were left out by the caps."""
    test = info.filter(pl.col("split") == "test")
    if test.is_empty():
        return pl.DataFrame(schema={**{c: pl.Utf8 for c in VIDEO_COLUMNS}}), 0
    per_video = (
        test.sort("track", "frame_index")
        .group_by("source", "video_id", maintain_order=True)
        .agg(
            pl.col("label").first(),
            pl.col("method").first(),
            pl.col("original_video_id").first(),
            # the main track's actor: track 0 sorts first
            pl.col("actor_id").first(),
            pl.col("fake_level").drop_nulls().mode().sort().first().alias("fake_level"),
        )
    )
    files = videos.filter(pl.col("status") == "ok").select(
        "source", "video_id", "rel_path", "abs_path", "size_bytes"
    )
    plan = (
        per_video.join(files, on=["source", "video_id"], how="inner")
        .with_columns(
            pl.when(pl.col("label") == "FAKE")
            .then(pl.col("original_video_id").fill_null(pl.col("video_id")))
            .otherwise(pl.col("video_id"))
            .alias("group")
        )
        .sort("source", "group", "label", "video_id", descending=[False, False, True, False])
    )
    chosen, total, count = [], 0, 0
    for _, group in plan.group_by("source", "group", maintain_order=True):
        size = int(group["size_bytes"].fill_null(0).sum())
        if total + size > max_bytes or count + group.height > max_videos:
            continue
        chosen.append(group)
        total += size
        count += group.height
    if not chosen:
        return plan.head(0), plan.height
    picked = pl.concat(chosen)
    return picked, plan.height - picked.height


def _link(src: Path, dst: Path) -> str:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.link(src, dst)
        return "hardlink"
    except OSError:
        os.symlink(src, dst)
        return "symlink"


def write_video_subset(
    info: pl.DataFrame,
    videos: pl.DataFrame,
    export_dir: Path,
    max_bytes: int,
    max_videos: int,
) -> VideoSubsetSummary:
    """Link the chosen test videos under ``export_dir/test_videos`` and write the CSV."""
    plan, left_out = plan_subset(info, videos, max_bytes, max_videos)
    links: dict[str, int] = {}
    rows = []
    missing: list[str] = []
    for r in plan.iter_rows(named=True):
        if not Path(r["abs_path"]).is_file():  # moved since it was probed: say so, go on
            missing.append(f"{r['source']}/{r['video_id']}: {r['abs_path']} is gone")
            continue
        rel = PurePosixPath(r["rel_path"])
        if rel.is_absolute() or ".." in rel.parts:  # never outside the export
            rel = PurePosixPath(rel.name)
        path = PurePosixPath("test_videos") / r["source"] / rel
        kind = _link(Path(r["abs_path"]), export_dir / path)
        links[kind] = links.get(kind, 0) + 1
        rows.append({**{c: r.get(c) for c in VIDEO_COLUMNS}, "path": str(path)})
    table = pl.DataFrame(
        rows,
        schema={
            "path": pl.Utf8,
            "label": pl.Utf8,
            "source": pl.Utf8,
            "video_id": pl.Utf8,
            "method": pl.Utf8,
            "actor_id": pl.Utf8,
            "fake_level": pl.Int8,
        },
    )
    write_bytes_atomic(export_dir / "test_videos.csv", table.write_csv().encode())
    shipped = plan.join(table.select("source", "video_id"), on=["source", "video_id"])
    total = int(shipped["size_bytes"].sum()) if shipped.height else 0
    return VideoSubsetSummary(
        videos=table.height, bytes=total, left_out=left_out, links=links, missing=missing
    )
