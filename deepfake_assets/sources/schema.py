"""The normalised video table every adapter returns.

One row per video file the dataset describes. Adapters never open videos; they only read names
and metadata, so a row may point at a file that is missing or outside the dataset. Those rows
are kept on purpose: the manifest asset reports them instead of silently losing them.

An entry the adapter cannot take as it is (an unknown or empty label, one file listed twice with
different fields) is kept too, as a row with a ``reject_reason`` and no label: the manifest asset
turns it into a ``rejected`` row, so one bad entry never stops the rest of a dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from deepfake_assets.sources.errors import SourceFormatError

VIDEO_TABLE_SCHEMA = pl.Schema(
    {
        "video_id": pl.Utf8,  # unique within the source, stable across runs
        "rel_path": pl.Utf8,  # posix path relative to the dataset root, as the metadata gives it
        "label": pl.Utf8,  # "REAL" or "FAKE"
        "original_video_id": pl.Utf8,  # a fake's original (may be absent from the table)
        "method": pl.Utf8,  # manipulation method (Deepfakes, celeb-synthesis, DF-VAE, ...)
        "actor_hint": pl.Utf8,  # dataset-given identity of the person shown (target for fakes)
        # a face-swap fake's donor: the person whose face it shows, in actor_hint's id space
        "donor_hint": pl.Utf8,
        "gender": pl.Utf8,
        "age": pl.Utf8,
        "race": pl.Utf8,
        "official_split": pl.Utf8,  # "train" / "val" / "test" where the dataset says
        "variant": pl.Utf8,  # compression (c23, c40, raw), distortion variant, ...
        "notes": pl.Utf8,
        "reject_reason": pl.Utf8,  # set: the entry is rejected (label then null), with why
    }
)
VIDEO_TABLE_COLUMNS: tuple[str, ...] = tuple(VIDEO_TABLE_SCHEMA.names())
LABELS = ("REAL", "FAKE")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class MetadataProblem:
    """A metadata file (or part of one) that lists no rows: unparseable, wrong shape, rows
    without a path. ``path`` is relative to the dataset folder."""

    path: str
    reason: str


@dataclass(frozen=True)
class SourceListing:
    """What an adapter read: the video table, and the metadata it could not read at all."""

    videos: pl.DataFrame
    problems: tuple[MetadataProblem, ...] = ()

    def videos_or_raise(self, root: Path) -> pl.DataFrame:
        """The table, or ``SourceFormatError`` naming every unreadable metadata file under
        ``root`` (the strict ``read`` of the adapters that can list around a bad file)."""
        if self.problems:
            raise SourceFormatError(
                "; ".join(f"{root / p.path}: {p.reason}" for p in self.problems)
            )
        return self.videos


def empty_video_table() -> pl.DataFrame:
    """A zero-row table with the exact schema (what an empty dataset maps to)."""
    return pl.DataFrame(schema=VIDEO_TABLE_SCHEMA)


def build_video_table(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Rows (dicts, missing keys = null) -> a validated table sorted by ``video_id``.

    Sorting makes the output of every adapter independent of directory listing order, so a
    re-read of an unchanged folder yields an identical table.
    """
    records = []
    for row in rows:
        unknown = set(row) - set(VIDEO_TABLE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown video table columns: {sorted(unknown)}")
        records.append({c: _as_str(row.get(c)) for c in VIDEO_TABLE_COLUMNS})
    if not records:
        return empty_video_table()
    table = pl.DataFrame(records, schema=VIDEO_TABLE_SCHEMA).sort("video_id")
    validate_video_table(table)
    return table


def validate_video_table(table: pl.DataFrame) -> None:
    """Raise ``SourceFormatError`` unless ``table`` honours the contract above."""
    if table.schema != VIDEO_TABLE_SCHEMA:
        raise SourceFormatError(
            f"video table schema {dict(table.schema)} != expected {dict(VIDEO_TABLE_SCHEMA)}"
        )
    for col in ("video_id", "rel_path"):
        if table[col].null_count():
            raise SourceFormatError(f"video table has null {col!r} values")
    accepted = table.filter(pl.col("reject_reason").is_null())
    if accepted["label"].null_count():
        raise SourceFormatError("video table has null 'label' values on rows not rejected")
    dupes = table.filter(pl.col("video_id").is_duplicated())["video_id"].unique().sort()
    if len(dupes):
        raise SourceFormatError(f"duplicate video_id values: {dupes.head(5).to_list()}")
    bad = accepted.filter(~pl.col("label").is_in(LABELS))
    if len(bad):
        raise SourceFormatError(
            f"labels must be REAL or FAKE, got {bad['label'].unique().head(5).to_list()}"
        )
    bad_split = table.filter(
        pl.col("official_split").is_not_null() & ~pl.col("official_split").is_in(SPLITS)
    )
    if len(bad_split):
        raise SourceFormatError(
            f"official_split must be one of {SPLITS}, got "
            f"{bad_split['official_split'].unique().head(5).to_list()}"
        )


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None
