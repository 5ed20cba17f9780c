"""Any folder with a ``manifest.csv`` at its root.

Columns: ``path,label`` (required) and optionally ``original,actor,donor,method,gender,age,race,
split,variant,notes`` (header names are case-insensitive). ``actor`` names the person a video
shows (a fake's target); ``donor`` names, for a face-swap fake, the person whose face it shows,
in the same id space as ``actor`` (a donor on a REAL row is ignored, with a note). ``path`` is
relative to the folder and kept verbatim; ``video_id`` is the path without its extension;
``original`` may name the original's path or its video id; labels accept REAL/FAKE/real/fake/0/1
(1 = FAKE).
"""

from __future__ import annotations

import csv
import posixpath
from pathlib import Path

import polars as pl

from deepfake_assets.sources.common import (
    assign_unique_ids,
    normalise_gender,
    normalise_label,
    normalise_split,
)
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import build_video_table

MANIFEST_NAME = "manifest.csv"
REQUIRED_COLUMNS = ("path", "label")
OPTIONAL_COLUMNS = (
    "original",
    "actor",
    "donor",
    "method",
    "gender",
    "age",
    "race",
    "split",
    "variant",
    "notes",
)
_ALIASES = {
    "actor_id": "actor",
    "donor_id": "donor",
    "donor_actor": "donor",
    "identity": "actor",
    "official_split": "split",
    "original_path": "original",
}


def detect(root: Path) -> bool:
    return (root / MANIFEST_NAME).is_file()


def read(root: Path) -> pl.DataFrame:
    path = root / MANIFEST_NAME
    records = _read_csv(path)

    by_path: dict[str, int] = {}
    for index, (line, fields) in enumerate(records):
        rel = fields["path"]
        if rel in by_path:
            first = records[by_path[rel]][0]
            raise SourceFormatError(
                f"{path} line {line}: path {rel!r} already listed on line {first}"
            )
        by_path[rel] = index
    ids = assign_unique_ids([[_without_ext(f["path"]), f["path"]] for _, f in records])
    id_of = {f["path"]: vid for vid, (_, f) in zip(ids, records, strict=True)}
    known_ids = set(ids)

    rows = []
    for vid, (line, fields) in zip(ids, records, strict=True):
        where = f"{path} line {line} ({fields['path']!r})"
        split, split_note = normalise_split(fields.get("split"))
        original = fields.get("original")
        label = normalise_label(fields["label"], where)
        donor = fields.get("donor")
        donor_note = f"donor={donor} ignored on a REAL row" if donor and label == "REAL" else None
        rows.append(
            {
                "video_id": vid,
                "rel_path": fields["path"],
                "label": label,
                "original_video_id": _original_id(original, id_of, known_ids) if original else None,
                "method": fields.get("method"),
                "actor_hint": fields.get("actor"),
                "donor_hint": donor if label == "FAKE" else None,
                "gender": normalise_gender(fields.get("gender")),
                "age": fields.get("age"),
                "race": fields.get("race"),
                "official_split": split,
                "variant": fields.get("variant"),
                "notes": "; ".join(n for n in (fields.get("notes"), split_note, donor_note) if n)
                or None,
            }
        )
    return build_video_table(rows)


def _read_csv(path: Path) -> list[tuple[int, dict[str, str | None]]]:
    """(line number, {column: stripped value or None}) per data row, with clear errors."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SourceFormatError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise SourceFormatError(f"{path}: empty file (expected a header with path,label)")
            columns = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise SourceFormatError(
                    f"{path}: missing required column(s) {missing}; header is {header}"
                )
            dupes = sorted({c for c in columns if c and columns.count(c) > 1})
            if dupes:
                raise SourceFormatError(f"{path}: duplicate column(s) {dupes}")
            records = []
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue  # blank line
                if len(values) > len(columns):
                    raise SourceFormatError(
                        f"{path} line {line}: {len(values)} fields but the header has "
                        f"{len(columns)} (an unquoted comma?)"
                    )
                fields = {c: (v.strip() or None) for c, v in zip(columns, values, strict=False)}
                if not fields.get("path"):
                    raise SourceFormatError(f"{path} line {line}: empty path")
                records.append((line, fields))
        except UnicodeDecodeError as exc:
            raise SourceFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        except csv.Error as exc:
            raise SourceFormatError(f"{path} line {reader.line_num}: bad CSV ({exc})") from exc
    return records


def _without_ext(rel: str) -> str:
    stem, _ = posixpath.splitext(rel)
    return stem or rel


def _original_id(original: str, id_of: dict[str, str], known_ids: set[str]) -> str:
    """Resolve ``original`` given as a listed path, a video id, or neither (kept nominal)."""
    if original in id_of:
        return id_of[original]
    if original in known_ids:
        return original
    return _without_ext(original)
