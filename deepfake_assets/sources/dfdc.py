"""DFDC (Deepfake Detection Challenge): ``metadata.json`` files next to the videos.

Each part folder (and/or the root) holds ``{"x.mp4": {"label": "FAKE", "split": "train",
"original": "y.mp4"}}``. Keys are taken verbatim (a hostile ``../x.mp4`` stays in the table so
the manifest asset can report it); the original is looked up in the same folder first.
"""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path
from typing import Any

import polars as pl

from deepfake_assets.sources.common import (
    assign_unique_ids,
    normalise_label,
    normalise_split,
    strip_video_ext,
)
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import build_video_table

METADATA_NAME = "metadata.json"
# DFDC parts sit at the root or one/two levels down (e.g. ``train/dfdc_train_part_0``); a depth
# bound keeps detection cheap on huge trees and stops symlink loops.
MAX_DEPTH = 3
_KNOWN_KEYS = {"label", "split", "original"}


def find_metadata_files(root: Path) -> list[Path]:
    """Every ``metadata.json`` at most ``MAX_DEPTH`` folders below ``root``, sorted."""
    found: list[Path] = []

    def _walk(directory: str, depth: int) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    if depth < MAX_DEPTH:
                        _walk(entry.path, depth + 1)
                elif entry.name == METADATA_NAME:
                    found.append(Path(entry.path))
            except OSError:
                continue

    _walk(str(root), 0)
    return sorted(found)


def detect(root: Path) -> bool:
    """DFDC is recognised by name only, so a broken file still reaches ``read`` and its error."""
    return bool(find_metadata_files(root))


def load_json(path: Path) -> Any:
    """Parse ``path``; malformed JSON -> an error naming the file, line and problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise SourceFormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            f"{path}: invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def read(root: Path) -> pl.DataFrame:
    files = find_metadata_files(root)
    if not files:
        raise SourceFormatError(f"{root}: no {METADATA_NAME} found (DFDC layout)")
    # rel_path -> (entry fields, part folder, metadata file)
    entries: dict[str, tuple[dict[str, Any], str, Path]] = {}
    for meta in files:
        part = meta.parent.relative_to(root).as_posix()
        part = "" if part == "." else part
        data = load_json(meta)
        if not isinstance(data, dict):
            raise SourceFormatError(
                f"{meta}: expected a JSON object mapping file names to entries, "
                f"got {type(data).__name__}"
            )
        for key, entry in data.items():
            where = f"{meta}: entry {key!r}"
            if not isinstance(entry, dict):
                raise SourceFormatError(f"{where}: expected an object, got {type(entry).__name__}")
            if not key.strip():
                raise SourceFormatError(f"{where}: empty file name")
            rel = posixpath.join(part, key) if part else key  # an absolute key stays absolute
            fields = _parse_entry(entry, where)
            if rel in entries:
                other, other_part, other_meta = entries[rel]
                if (other["label"], other["original"]) != (fields["label"], fields["original"]):
                    raise SourceFormatError(
                        f"{rel!r} is described differently by {other_meta} and {meta}"
                    )
                if len(other_part) >= len(part):  # keep the description nearest the file
                    continue
            entries[rel] = (fields, part, meta)

    rels = sorted(entries)
    ids = assign_unique_ids([_id_candidates(rel) for rel in rels])
    id_of = dict(zip(rels, ids, strict=True))
    by_name: dict[str, list[str]] = {}
    for rel in rels:
        by_name.setdefault(posixpath.basename(rel), []).append(rel)

    rows = []
    for rel in rels:
        fields, part, _ = entries[rel]
        original = fields["original"]
        rows.append(
            {
                "video_id": id_of[rel],
                "rel_path": rel,
                "label": fields["label"],
                "original_video_id": (
                    _original_id(original, rel, part, id_of, by_name) if original else None
                ),
                "official_split": fields["split"],
                "notes": fields["notes"],
            }
        )
    return build_video_table(rows)


def _parse_entry(entry: dict[str, Any], where: str) -> dict[str, Any]:
    label = normalise_label(entry.get("label"), where)
    split, split_note = normalise_split(entry.get("split"))
    original = entry.get("original")
    if original is not None and not isinstance(original, str):
        raise SourceFormatError(f"{where}: 'original' must be a file name, got {original!r}")
    extras = [
        f"{k}={json.dumps(entry[k], sort_keys=True)}" for k in sorted(entry) if k not in _KNOWN_KEYS
    ]
    notes = "; ".join(n for n in [split_note, *extras] if n) or None
    return {"label": label, "split": split, "original": original or None, "notes": notes}


def _id_candidates(rel: str) -> list[str]:
    without_ext = strip_video_ext(rel)
    stem = posixpath.splitext(posixpath.basename(rel))[0] or posixpath.basename(rel)
    return [stem, without_ext, rel]


def _original_id(
    original: str, rel: str, part: str, id_of: dict[str, str], by_name: dict[str, list[str]]
) -> str:
    """The original's video_id: same folder as the fake, then the metadata's folder, then a
    unique file name anywhere; else the stem the metadata names (the original is missing)."""
    for candidate in (
        posixpath.join(posixpath.dirname(rel), original),
        posixpath.join(part, original),
    ):
        if candidate in id_of:
            return id_of[candidate]
    same_name = by_name.get(posixpath.basename(original), [])
    if len(same_name) == 1:
        return id_of[same_name[0]]
    return _id_candidates(original)[0]
