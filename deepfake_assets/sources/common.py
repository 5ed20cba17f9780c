"""Helpers shared by the adapters: label/split normalisation, walking folders, unique ids."""

from __future__ import annotations

import os
import posixpath
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

from deepfake_assets.sources.errors import SourceFormatError

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"}
)

_REAL = {"real", "0", "original", "pristine", "genuine"}
_FAKE = {"fake", "1", "manipulated", "deepfake", "synthetic"}
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
_GENDER_ALIASES = {
    "m": "male",
    "male": "male",
    "man": "male",
    "f": "female",
    "w": "female",
    "female": "female",
    "woman": "female",
}


def normalise_label(value: object, where: str) -> str:
    """``real/fake/0/1`` (any case; 1 = FAKE) -> ``REAL``/``FAKE``; else a clear error.

    ``where`` names the row (file and key or line) so the message points at the culprit.
    """
    text = "" if value is None else str(value).strip().lower()
    if text.endswith(".0") and text[:-2] in {"0", "1"}:  # CSV readers turn 1 into 1.0
        text = text[:-2]
    if text in _REAL:
        return "REAL"
    if text in _FAKE:
        return "FAKE"
    raise SourceFormatError(f"{where}: unknown label {value!r} (expected REAL/FAKE or 0/1)")


def normalise_split(value: object) -> tuple[str | None, str | None]:
    """A dataset split name -> (``train``/``val``/``test`` or None, a note for unknown names)."""
    if value is None:
        return None, None
    text = str(value).strip()
    if not text:
        return None, None
    split = _SPLIT_ALIASES.get(text.lower())
    return (split, None) if split else (None, f"split={text}")


def normalise_gender(value: object) -> str | None:
    """Map the usual spellings to ``male``/``female``; keep anything else as written."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return _GENDER_ALIASES.get(text.lower(), text)


def is_video_name(name: str) -> bool:
    return not name.startswith(".") and posixpath.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def strip_video_ext(path: str) -> str:
    """``a/b.mp4`` -> ``a/b``; names without a video extension are returned unchanged."""
    stem, ext = posixpath.splitext(path)
    return stem if ext.lower() in VIDEO_EXTENSIONS else path


def walk_files(
    top: Path, skip_dirs: frozenset[str] = frozenset(), max_depth: int | None = None
) -> Iterator[Path]:
    """Every non-hidden file under ``top`` (sorted, following symlinked dirs without looping),
    at most ``max_depth`` folders down (None: any depth; 0: ``top``'s own files).

    Hidden names (``.DS_Store``, macOS ``._x.mp4`` resource forks, ``.git``) are never data.
    The project's one directory walker: adapters, fingerprints and DFDC's metadata search.
    """
    seen: set[str] = set()

    def _walk(directory: Path, depth: int) -> Iterator[Path]:
        try:
            real = os.path.realpath(directory)
            if real in seen:
                return
            seen.add(real)
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if entry.name not in skip_dirs and (max_depth is None or depth < max_depth):
                    yield from _walk(Path(entry.path), depth + 1)
            else:
                yield Path(entry.path)

    yield from _walk(top, 0)


def iter_videos(top: Path, root: Path, skip_dirs: frozenset[str] = frozenset()) -> Iterator[str]:
    """Posix paths relative to ``root`` of the video files under ``top``, sorted."""
    for path in walk_files(top, skip_dirs):
        if is_video_name(path.name):
            yield path.relative_to(root).as_posix()


def read_text_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank, non-comment lines with their 1-based numbers; undecodable -> clear error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((number, stripped))
    return out


def assign_unique_ids(candidates: Sequence[Sequence[str]]) -> list[str]:
    """Pick, per row, the first candidate id that no other row also wants.

    Each row lists ids from short to specific (e.g. ``stem``, ``part/stem``, ``rel_path``).
    Rows start at their shortest; rows that collide move on to their next candidate until no
    collisions remain. Ids therefore depend only on the set of rows, never on listing order.
    """
    level = [0] * len(candidates)
    while True:
        current = [c[min(lv, len(c) - 1)] for c, lv in zip(candidates, level, strict=True)]
        owners: dict[str, list[int]] = defaultdict(list)
        for index, vid in enumerate(current):
            owners[vid].append(index)
        moved = False
        for rows in owners.values():
            if len(rows) < 2:
                continue
            for index in rows:
                if level[index] < len(candidates[index]) - 1:
                    level[index] += 1
                    moved = True
        if not moved:
            dupes = sorted(vid for vid, rows in owners.items() if len(rows) > 1)
            if dupes:
                raise SourceFormatError(f"cannot make video ids unique: {dupes[:5]}")
            return current
