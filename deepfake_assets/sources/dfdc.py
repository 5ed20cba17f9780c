"""DFDC (Deepfake Detection Challenge): ``metadata.json`` files next to the videos.

Each part folder (and/or the root) holds ``{"x.mp4": {"label": "FAKE", "split": "train",
"original": "y.mp4"}}``. Keys are taken verbatim (a hostile ``../x.mp4`` stays in the table so
the manifest asset can report it); the original is looked up in the same folder first.

Untrusted metadata never stops the dataset: an entry with a bad label is one rejected row, a file
listed twice with different entries is one rejected row naming both (identical listings are one
row), and a part folder whose ``metadata.json`` does not parse is a recorded problem while the
other parts are read.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from deepfake_assets.sources.common import (
    assign_unique_ids,
    normalise_label,
    normalise_split,
    strip_video_ext,
    walk_files,
)
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import MetadataProblem, SourceListing, build_video_table

METADATA_NAME = "metadata.json"
# DFDC parts sit at the root or one/two levels down (e.g. ``train/dfdc_train_part_0``); a depth
# bound keeps detection cheap on huge trees and stops symlink loops.
MAX_DEPTH = 3
_KNOWN_KEYS = {"label", "split", "original"}


def find_metadata_files(root: Path) -> list[Path]:
    """Every ``metadata.json`` at most ``MAX_DEPTH`` folders below ``root``, sorted."""
    return sorted(p for p in walk_files(root, max_depth=MAX_DEPTH) if p.name == METADATA_NAME)


def detect(root: Path) -> bool:
    """DFDC is recognised by name only, so a broken file still reaches ``read`` and its error."""
    return bool(find_metadata_files(root))


def load_json(path: Path) -> Any:
    """Parse ``path``; malformed JSON -> an error naming the file, line and problem."""
    try:
        return _parse_json(path)
    except SourceFormatError as exc:
        raise SourceFormatError(f"{path}: {exc}") from exc


class _Pairs(list):
    """A JSON object as its (key, value) pairs in file order, so a key given twice is seen
    (``json.loads`` would silently keep the last)."""


def _parse_json(path: Path, hook: Callable[[list], Any] | None = None) -> Any:
    """``path``'s JSON; errors say what is wrong (line, column) without naming the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise SourceFormatError(f"cannot read ({exc.strerror or exc})") from exc
    try:
        return json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def _plain(value: Any) -> Any:
    """JSON parsed with ``_Pairs`` back to plain dicts and lists (for messages and notes)."""
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class _Listed:
    """One file as one metadata file lists it: its fields, or why it is rejected."""

    part: str  # folder of the metadata file, relative to the root ("" = the root)
    meta: str  # the metadata file, relative to the root
    raw: Any  # the entry as written (plain JSON), to name it in a conflict
    fields: dict[str, Any] | None  # parsed entry; None when rejected
    reject: str | None = None
    conflict: bool = False  # rejected because two listings disagree


def read(root: Path) -> pl.DataFrame:
    """The video table; a metadata file that cannot be read raises (see ``list_videos``)."""
    return list_videos(root).videos_or_raise(root)


def list_videos(root: Path) -> SourceListing:
    """Every entry of every ``metadata.json``: a bad entry is one rejected row, a metadata file
    that cannot be parsed is a problem while the other part folders are read; raises only when
    no metadata file can be read at all."""
    files = find_metadata_files(root)
    if not files:
        raise SourceFormatError(f"{root}: no {METADATA_NAME} found (DFDC layout)")
    listed: dict[str, _Listed] = {}
    problems: list[MetadataProblem] = []
    readable = 0
    for meta in files:
        meta_rel = meta.relative_to(root).as_posix()
        part = posixpath.dirname(meta_rel)
        try:
            data = _parse_json(meta, _Pairs)
        except SourceFormatError as exc:
            problems.append(
                MetadataProblem(meta_rel, f"cannot be read ({exc}); its videos are not listed")
            )
            continue
        if not isinstance(data, _Pairs):
            problems.append(
                MetadataProblem(
                    meta_rel,
                    "expected a JSON object mapping file names to entries, got "
                    f"{type(data).__name__}; its videos are not listed",
                )
            )
            continue
        readable += 1
        unnamed = 0
        for key, value in data:
            if not key.strip():
                unnamed += 1
                continue
            rel = posixpath.join(part, key) if part else key  # an absolute key stays absolute
            item = _listed(value, part, meta_rel, key)
            previous = listed.get(rel)
            listed[rel] = item if previous is None else _merge(previous, item)
        if unnamed:
            problems.append(
                MetadataProblem(meta_rel, f"{unnamed} entries with an empty file name skipped")
            )
    if not readable:
        raise SourceFormatError("; ".join(f"{root / p.path}: {p.reason}" for p in problems))

    rels = sorted(listed)
    ids = assign_unique_ids([_id_candidates(rel) for rel in rels])
    id_of = dict(zip(rels, ids, strict=True))
    by_name: dict[str, list[str]] = {}
    for rel in rels:
        by_name.setdefault(posixpath.basename(rel), []).append(rel)

    rows = []
    for rel in rels:
        item = listed[rel]
        if item.fields is None:
            rows.append({"video_id": id_of[rel], "rel_path": rel, "reject_reason": item.reject})
            continue
        original = item.fields["original"]
        rows.append(
            {
                "video_id": id_of[rel],
                "rel_path": rel,
                "label": item.fields["label"],
                "original_video_id": (
                    _original_id(original, rel, item.part, id_of, by_name) if original else None
                ),
                "official_split": item.fields["split"],
                "notes": item.fields["notes"],
            }
        )
    return SourceListing(build_video_table(rows), tuple(problems))


def _listed(value: Any, part: str, meta: str, key: str) -> _Listed:
    where = f"{meta}: entry {key!r}"
    raw = _plain(value)
    try:
        fields = _parse_entry(_as_entry(value, where), where)
    except SourceFormatError as exc:
        return _Listed(part, meta, raw, None, str(exc))
    return _Listed(part, meta, raw, fields)


def _as_entry(value: Any, where: str) -> dict[str, Any]:
    """An entry object as a dict; a key given twice with two values is an error, not a choice."""
    if not isinstance(value, _Pairs):
        raise SourceFormatError(f"{where}: expected an object, got {type(_plain(value)).__name__}")
    entry: dict[str, Any] = {}
    for k, v in value:
        v = _plain(v)
        if k in entry and entry[k] != v:
            raise SourceFormatError(f"{where}: key {k!r} given twice: {entry[k]!r} and {v!r}")
        entry[k] = v
    return entry


def _merge(previous: _Listed, item: _Listed) -> _Listed:
    """One file listed twice. Listings that agree are one row: within one metadata file every
    field must agree; across files (the root's and a part's) label and original must, and the
    description nearest the file is kept. Otherwise the file is rejected, naming both."""
    if previous.conflict:
        return previous
    same_file = previous.meta == item.meta
    if previous.fields is not None and item.fields is not None:
        keys = ("label", "split", "original", "notes") if same_file else ("label", "original")
        if all(previous.fields[k] == item.fields[k] for k in keys):
            return item if len(item.part) > len(previous.part) else previous
    elif previous.fields is None and item.fields is None and previous.raw == item.raw:
        return previous
    where = f"in {item.meta}" if same_file else f"in {previous.meta} and {item.meta}"
    reason = (
        f"listed twice {where} with different entries: {_show(previous.raw)} and {_show(item.raw)}"
    )
    part = max(previous.part, item.part, key=len)
    return _Listed(part, previous.meta, None, None, reason, conflict=True)


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
