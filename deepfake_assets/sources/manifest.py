"""Any folder with a ``manifest.csv`` at its root.

Columns: ``path,label`` (required) and optionally ``original,actor,donor,method,gender,age,race,
split,variant,notes`` (header names are case-insensitive). ``actor`` names the person a video
shows (a fake's target); ``donor`` names, for a face-swap fake, the person whose face it shows,
in the same id space as ``actor`` (a donor on a REAL row is ignored, with a note). ``path`` is
relative to the folder and kept verbatim; ``video_id`` is the path without its extension;
``original`` may name the original's path or its video id; labels accept REAL/FAKE/real/fake/0/1
(1 = FAKE).

A bad row never stops the dataset: one with an unknown or empty label, or more fields than the
header, is a rejected row with the reason; a path listed twice with different values is one
rejected row naming both (identical rows are one row); rows without a path are a problem of the
file. Only a file that cannot be read as a CSV with a ``path,label`` header raises.
"""

from __future__ import annotations

import csv
import posixpath
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from deepfake_assets.sources.common import (
    assign_unique_ids,
    normalise_gender,
    normalise_label,
    normalise_split,
)
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import MetadataProblem, SourceListing, build_video_table

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


@dataclass(frozen=True)
class _Record:
    """One data row of the CSV: its fields, or why it cannot be taken as it is."""

    line: int
    fields: dict[str, str | None]
    label: str | None = None  # REAL/FAKE; None when rejected
    reject: str | None = None
    conflict: bool = False  # rejected because two lines list the path differently


def read(root: Path) -> pl.DataFrame:
    """The video table; rows without a path raise (see ``list_videos``)."""
    return list_videos(root).videos_or_raise(root)


def list_videos(root: Path) -> SourceListing:
    """Every row of ``manifest.csv``: a row with a bad label or too many fields is a rejected
    row, a path listed twice with different values is one rejected row naming both (identical
    rows are one row), rows without a path are a problem of the file. A bad header raises."""
    path = root / MANIFEST_NAME
    records, unnamed = _read_csv(path)

    by_path: dict[str, _Record] = {}
    for record in records:
        rel = str(record.fields["path"])
        previous = by_path.get(rel)
        by_path[rel] = record if previous is None else _merge(previous, record)
    unique = list(by_path.values())
    ids = assign_unique_ids([[_without_ext(r.fields["path"]), r.fields["path"]] for r in unique])
    id_of = {r.fields["path"]: vid for vid, r in zip(ids, unique, strict=True)}
    known_ids = set(ids)

    rows = []
    for vid, record in zip(ids, unique, strict=True):
        fields = record.fields
        if record.reject is not None:
            rows.append(
                {"video_id": vid, "rel_path": fields["path"], "reject_reason": record.reject}
            )
            continue
        split, split_note = normalise_split(fields.get("split"))
        original = fields.get("original")
        donor = fields.get("donor")
        donor_note = (
            f"donor={donor} ignored on a REAL row" if donor and record.label == "REAL" else None
        )
        rows.append(
            {
                "video_id": vid,
                "rel_path": fields["path"],
                "label": record.label,
                "original_video_id": _original_id(original, id_of, known_ids) if original else None,
                "method": fields.get("method"),
                "actor_hint": fields.get("actor"),
                "donor_hint": donor if record.label == "FAKE" else None,
                "gender": normalise_gender(fields.get("gender")),
                "age": fields.get("age"),
                "race": fields.get("race"),
                "official_split": split,
                "variant": fields.get("variant"),
                "notes": "; ".join(n for n in (fields.get("notes"), split_note, donor_note) if n)
                or None,
            }
        )
    problems = ()
    if unnamed:
        lines = ", ".join(str(n) for n in unnamed[:10]) + (", ..." if len(unnamed) > 10 else "")
        problems = (
            MetadataProblem(
                MANIFEST_NAME, f"{len(unnamed)} row(s) without a path skipped (line {lines})"
            ),
        )
    return SourceListing(build_video_table(rows), problems)


def _checked(line: int, fields: dict[str, str | None]) -> _Record:
    """A row whose label parses is accepted; else it is rejected with the reason."""
    try:
        label = normalise_label(fields.get("label"), f"{MANIFEST_NAME} line {line}")
    except SourceFormatError as exc:
        return _Record(line, fields, reject=str(exc))
    return _Record(line, fields, label=label)


def _comparable(record: _Record) -> dict[str, str | None]:
    """The row's values as they are read: the label normalised when it parses."""
    return record.fields | ({"label": record.label} if record.label else {})


def _merge(previous: _Record, record: _Record) -> _Record:
    """One path on two lines: one row when the values agree, else rejected naming both."""
    if previous.conflict:  # the first disagreement is the one reported
        return previous
    a, b = _comparable(previous), _comparable(record)
    if a == b and (previous.reject is None) == (record.reject is None):
        return previous  # identical rows (a bad label twice stays one rejected row)
    differ = [
        f"{k} {previous.fields.get(k)!r} vs {record.fields.get(k)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]
    if not differ:  # same values, one line unreadable (too many fields)
        differ = [str(record.reject or previous.reject)]
    reason = (
        f"{MANIFEST_NAME}: path {previous.fields['path']!r} listed on lines {previous.line} and "
        f"{record.line} with different values: {', '.join(differ)}"
    )
    return _Record(previous.line, previous.fields, reject=reason, conflict=True)


def _read_csv(path: Path) -> tuple[list[_Record], list[int]]:
    """The data rows (stripped values, None when empty) and the lines without a path.

    A row with more fields than the header is kept as rejected (an unquoted comma shifts its
    values, so none of them can be trusted); a file that cannot be read as CSV with a usable
    header raises with a clear error.
    """
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
            records: list[_Record] = []
            unnamed: list[int] = []
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue  # blank line
                fields = {c: (v.strip() or None) for c, v in zip(columns, values, strict=False)}
                if not fields.get("path"):
                    unnamed.append(line)
                    continue
                if len(values) > len(columns):
                    records.append(
                        _Record(
                            line,
                            fields,
                            reject=f"{MANIFEST_NAME} line {line}: {len(values)} fields but the "
                            f"header has {len(columns)} (an unquoted comma?)",
                        )
                    )
                    continue
                records.append(_checked(line, fields))
        except UnicodeDecodeError as exc:
            raise SourceFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        except csv.Error as exc:
            raise SourceFormatError(f"{path} line {reader.line_num}: bad CSV ({exc})") from exc
    return records, unnamed


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
