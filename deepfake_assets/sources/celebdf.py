"""Celeb-DF (v1/v2)::

    Celeb-real/id<X>_<NNNN>.mp4            REAL, celebrity idX
    Celeb-synthesis/id<X>_id<Y>_<NNNN>.mp4 FAKE, idY's face on idX's video id<X>_<NNNN>
    YouTube-real/<NNNNN>.mp4                REAL, no identity given
    List_of_testing_videos.txt              "<label> <folder>/<file>" per line

Listed videos are the official test set; every other video is train (only when the list exists).
File stems are unique across the folders, so the stem is the video id.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import polars as pl

from deepfake_assets.sources.common import (
    assign_unique_ids,
    iter_videos,
    read_text_lines,
    strip_video_ext,
)
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import build_video_table

REAL_DIR = "Celeb-real"
FAKE_DIR = "Celeb-synthesis"
YOUTUBE_DIR = "YouTube-real"
TEST_LIST = "List_of_testing_videos.txt"
METHOD = "celeb-synthesis"

_REAL = re.compile(r"^(?P<actor>id\d+)_(?P<clip>\d+)$")
_FAKE = re.compile(r"^(?P<target>id\d+)_(?P<source>id\d+)_(?P<clip>\d+)$")


def detect(root: Path) -> bool:
    return (root / REAL_DIR).is_dir() or (root / FAKE_DIR).is_dir()


def read(root: Path) -> pl.DataFrame:
    test_rels = _read_test_list(root)
    entries = []  # (rel, top folder, stem)
    for folder in (REAL_DIR, FAKE_DIR, YOUTUBE_DIR):
        if (root / folder).is_dir():
            for rel in iter_videos(root / folder, root):
                entries.append((rel, folder, posixpath.splitext(posixpath.basename(rel))[0]))
    ids = assign_unique_ids([[stem, strip_video_ext(rel), rel] for rel, _, stem in entries])
    real_ids = {
        stem: vid for vid, (_, folder, stem) in zip(ids, entries, strict=True) if folder == REAL_DIR
    }

    rows = []
    for vid, (rel, folder, stem) in zip(ids, entries, strict=True):
        row: dict[str, str | None] = {"video_id": vid, "rel_path": rel}
        if folder == FAKE_DIR:
            row.update(label="FAKE", method=METHOD)
            match = _FAKE.match(stem)
            if match:
                original = f"{match['target']}_{match['clip']}"
                row["original_video_id"] = real_ids.get(original, original)
                row["actor_hint"] = match["target"]
                row["donor_hint"] = match["source"]  # idY's face on idX's clip
                row["notes"] = f"source={match['source']}"
            else:
                row["notes"] = "file name does not follow id<X>_id<Y>_<NNNN>; original unknown"
        else:
            row["label"] = "REAL"
            match = _REAL.match(stem) if folder == REAL_DIR else None
            row["actor_hint"] = match["actor"] if match else None
        if test_rels is not None:
            listed = rel in test_rels or f"{folder}/{posixpath.basename(rel)}" in test_rels
            row["official_split"] = "test" if listed else "train"
        rows.append(row)
    return build_video_table(rows)


def _read_test_list(root: Path) -> set[str] | None:
    """Paths named by ``List_of_testing_videos.txt`` (None when the file is absent).

    The leading number is Celeb-DF's own label (1 = real); the folder decides the label here.
    """
    path = root / TEST_LIST
    if not path.is_file():
        return None
    listed = set()
    for number, line in read_text_lines(path):
        parts = line.split()
        if len(parts) > 2:
            raise SourceFormatError(
                f"{path} line {number}: expected '<label> <path>', got {line!r}"
            )
        rel = parts[-1].replace("\\", "/")
        listed.add(rel[2:] if rel.startswith("./") else rel)
    return listed
