"""DeeperForensics-1.0::

    manipulated_videos/<variant>/<target>_<actor>.mp4   FAKE (DF-VAE), e.g. end_to_end/000_M101.mp4
    source_videos/<actor>/.../<name>.mp4                REAL recordings of the paid actors
    lists/manipulated_videos_distortions_meta/*.txt     "<file> <distortion params>" per line
    lists/splits/{train,val,test}.txt                   fake file names per split

A fake swaps actor ``M101``'s face onto FF++ youtube sequence ``000``; that target video is not
part of this dataset, so ``original_video_id`` is the bare target id (``000``) and the manifest
asset flags it as missing. The actor, whose face the fake shows, is its ``donor_hint`` (the same
string as the actor's own ``source_videos`` hint); ``actor_hint`` is the target id, as for every
fake. The actor's first letter gives the gender (M male, W female) of the face shown.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import polars as pl

from deepfake_assets.sources.common import (
    is_video_name,
    iter_videos,
    read_text_lines,
    strip_video_ext,
    walk_files,
)
from deepfake_assets.sources.schema import SPLITS, build_video_table

MANIPULATED_DIR = "manipulated_videos"
SOURCE_DIR = "source_videos"
LISTS_DIR = "lists"
DISTORTION_META_DIR = "manipulated_videos_distortions_meta"
METHOD = "DF-VAE"

_FAKE = re.compile(r"^(?P<target>\d+)_(?P<actor>[A-Za-z]+\d+)$")
_GENDER = {"M": "male", "W": "female", "F": "female"}


def detect(root: Path) -> bool:
    return (root / MANIPULATED_DIR).is_dir() or (root / SOURCE_DIR).is_dir()


def read(root: Path) -> pl.DataFrame:
    rows: list[dict[str, str | None]] = []
    fakes: dict[str, dict[str, str | None]] = {}  # rel_path -> row
    for rel in iter_videos(root / MANIPULATED_DIR, root):
        inner = rel[len(MANIPULATED_DIR) + 1 :]
        variant = inner.split("/", 1)[0] if "/" in inner else None
        stem = posixpath.splitext(posixpath.basename(rel))[0]
        row: dict[str, str | None] = {
            "video_id": strip_video_ext(inner),
            "rel_path": rel,
            "label": "FAKE",
            "method": METHOD,
            "variant": variant,
        }
        match = _FAKE.match(stem)
        if match:
            row.update(
                original_video_id=match["target"],
                # actor_hint names the target (as for every fake); the face shown is the actor's
                actor_hint=match["target"],
                donor_hint=match["actor"],
                gender=gender_of(match["actor"]),
                notes=f"target=FF++ youtube {match['target']}",
            )
        else:
            row["notes"] = "file name does not follow <target>_<actor>; original unknown"
        fakes[rel] = row
        rows.append(row)

    _apply_distortions(root, fakes)
    _apply_splits(root, fakes)

    for rel in iter_videos(root / SOURCE_DIR, root):
        inner = rel[len(SOURCE_DIR) + 1 :]
        actor = inner.split("/", 1)[0] if "/" in inner else None
        rows.append(
            {
                "video_id": strip_video_ext(rel),
                "rel_path": rel,
                "label": "REAL",
                "actor_hint": actor,
                "gender": gender_of(actor),
            }
        )
    return build_video_table(rows)


def gender_of(actor: str | None) -> str | None:
    """``M004`` -> male, ``W017`` -> female; anything else unknown."""
    return _GENDER.get(actor[:1].upper()) if actor else None


def _distortion_files(root: Path) -> list[tuple[Path, str | None]]:
    """Distortion listings with the variant each one describes (None: infer per line)."""
    found: list[tuple[Path, str | None]] = []
    for path in walk_files(root / LISTS_DIR / DISTORTION_META_DIR):
        if path.suffix == ".txt":
            found.append((path, None))
    for path in walk_files(root / MANIPULATED_DIR):
        if path.suffix == ".txt":
            inner = path.relative_to(root / MANIPULATED_DIR).parts
            found.append((path, inner[0] if len(inner) > 1 else None))
    for path in sorted(root.glob("*distortion*.txt")):
        found.append((path, None))
    return found


def _apply_distortions(root: Path, fakes: dict[str, dict[str, str | None]]) -> None:
    """Append each listed file's distortion parameters to its ``notes``.

    The listing's variant comes from its folder or from its name (``end_to_end_level_3_meta``
    -> ``end_to_end_level_3``, the longest variant name it starts with); a line naming a path
    matches that path directly. Lines that match no fake (or several) are ignored.
    """
    by_key = {(row["variant"], posixpath.basename(rel)): row for rel, row in fakes.items()}
    by_suffix = {rel[len(MANIPULATED_DIR) + 1 :]: row for rel, row in fakes.items()}
    variants = sorted({v for v, _ in by_key if v}, key=len, reverse=True)
    by_name: dict[str, list[dict[str, str | None]]] = {}
    for rel, row in fakes.items():
        by_name.setdefault(posixpath.basename(rel), []).append(row)
    for path, variant in _distortion_files(root):
        if variant not in variants:  # e.g. manipulated_videos/distortions/<variant>_meta.txt
            variant = next((v for v in variants if path.stem.startswith(v)), None)
        for _, line in read_text_lines(path):
            tokens = re.split(r"[\s,;]+", line)
            name = tokens[0].replace("\\", "/")
            if not is_video_name(posixpath.basename(name)):
                continue  # a header or comment line
            params = " ".join(tokens[1:])
            inner = name.split(f"{MANIPULATED_DIR}/", 1)[-1]
            if "/" in inner:
                row = by_suffix.get(inner)
            else:
                row = by_key.get((variant, name))
                if row is None and variant is None and len(by_name.get(name, [])) == 1:
                    row = by_name[name][0]  # the only fake of that name: unambiguous
            if row is None:
                continue
            note = f"distortions={params}" if params else "distortions=none"
            row["notes"] = f"{row['notes']}; {note}" if row.get("notes") else note


def _apply_splits(root: Path, fakes: dict[str, dict[str, str | None]]) -> None:
    """``lists/splits/<split>.txt`` names fakes by file name; it covers every variant."""
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path = root / LISTS_DIR / "splits" / f"{split}.txt"
        if path.is_file():
            for _, line in read_text_lines(path):
                split_of[posixpath.basename(line.split()[-1].replace("\\", "/"))] = split
    if not split_of:
        return
    for rel, row in fakes.items():
        row["official_split"] = split_of.get(posixpath.basename(rel))
