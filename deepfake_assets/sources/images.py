"""A folder of face images (real photos and generated or edited faces)::

    manifest.csv                      path,label[,method,actor,original,donor,split,...]
or
    real/**/<name>.<jpg|png|...>      REAL
    fake/<method>/**/<name>.<...>     FAKE made by <method> (StyleGAN, FaceApp, ...)

Each image is a one-frame item. With a ``manifest.csv`` the rows are read exactly as the
``manifest`` format reads them (the same parser, the same rejected rows), so ``original`` names
the image an edit was made from (SSIM groups then compare the two) and ``actor`` names a person;
a generated image that names neither gets a pseudo-actor of its own later on. Without a
manifest, the folder names give labels and methods; image files directly under ``fake/`` have
no method (a note says so) and files that are not images are skipped.
"""

from __future__ import annotations

import csv
import posixpath
from pathlib import Path

import polars as pl

from deepfake_assets.media.still_images import is_image_path
from deepfake_assets.sources import manifest
from deepfake_assets.sources.common import assign_unique_ids, walk_files
from deepfake_assets.sources.schema import SourceListing, build_video_table

REAL_DIR = "real"
FAKE_DIR = "fake"


def _manifest_lists_images(root: Path) -> bool:
    """Whether ``manifest.csv``'s first listed path is an image (else it is a video manifest)."""
    try:
        with (root / manifest.MANIFEST_NAME).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if "path" not in header:
                return False
            column = header.index("path")
            for values in reader:
                if len(values) > column and values[column].strip():
                    return is_image_path(values[column].strip())
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return False


def _folder_has_images(folder: Path) -> bool:
    return folder.is_dir() and any(is_image_path(p.name) for p in walk_files(folder))


def detect(root: Path) -> bool:
    if (root / manifest.MANIFEST_NAME).is_file():
        return _manifest_lists_images(root)
    return _folder_has_images(root / REAL_DIR) or _folder_has_images(root / FAKE_DIR)


def list_images(root: Path) -> SourceListing:
    """The item table of an image folder (see the module docstring)."""
    if (root / manifest.MANIFEST_NAME).is_file():
        return manifest.list_videos(root)
    entries: list[tuple[str, str, str | None]] = []  # (rel, label, method)
    for folder, label in ((REAL_DIR, "REAL"), (FAKE_DIR, "FAKE")):
        top = root / folder
        if not top.is_dir():
            continue
        for path in walk_files(top):
            rel = path.relative_to(root).as_posix()
            if not is_image_path(path.name):
                continue  # as video adapters skip files that are not videos
            parts = rel.split("/")
            method = parts[1] if label == "FAKE" and len(parts) > 2 else None
            entries.append((rel, label, method))
    ids = assign_unique_ids([[_stem(rel), rel] for rel, _, _ in entries])
    rows = []
    for vid, (rel, label, method) in zip(ids, entries, strict=True):
        note = None
        if label == "FAKE" and method is None:
            note = "directly under fake/: no method folder"
        rows.append(
            {"video_id": vid, "rel_path": rel, "label": label, "method": method, "notes": note}
        )
    return SourceListing(build_video_table(rows))


def read(root: Path) -> pl.DataFrame:
    return list_images(root).videos


def _stem(rel: str) -> str:
    """``real/a/x.png`` -> ``real/a/x``: unique unless two images differ only by extension."""
    stem, _ = posixpath.splitext(rel)
    return stem
