"""FaceForensics++ (and its DeepFakeDetection part), laid out as the official download script
writes it::

    original_sequences/{youtube,actors}/<c0|c23|c40|raw>/videos/<name>.mp4
    manipulated_sequences/<Method>/<c0|c23|c40|raw>/videos/<target>_<source>.mp4
    manipulated_sequences/DeepFakeDetection/<c>/videos/<t>_<s>__<scene>__<experiment>.mp4

Each compression of a video is its own row (``c23/000``, ``c23/Deepfakes/000_003``) and a fake
points at the original of its own compression. Optional official splits (``train.json`` etc.,
lists of ``[target, source]`` pairs) are read from the root or ``splits/``.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import polars as pl

from deepfake_assets.sources.common import assign_unique_ids, iter_videos, strip_video_ext
from deepfake_assets.sources.dfdc import load_json
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import SPLITS, build_video_table

ORIGINAL_DIR = "original_sequences"
MANIPULATED_DIR = "manipulated_sequences"
# Sibling folders of the compression folders that hold no manipulated videos of their own.
NON_VIDEO_DIRS = frozenset({"masks", "models"})

_DFD_FAKE = re.compile(r"^(?P<t>[^_]+)_(?P<s>[^_]+)__(?P<scene>.+)__(?P<exp>[^_]+)$")
_FF_FAKE = re.compile(r"^(?P<t>[^_]+)_(?P<s>[^_]+)$")


def detect(root: Path) -> bool:
    return (root / ORIGINAL_DIR).is_dir() or (root / MANIPULATED_DIR).is_dir()


def read(root: Path) -> pl.DataFrame:
    pair_split, single_split = _read_splits(root)

    originals = []  # (candidate ids, row)
    for subset_dir in _subdirs(root / ORIGINAL_DIR):
        subset = subset_dir.name
        for comp_dir in _subdirs(subset_dir):
            comp = comp_dir.name
            if comp in NON_VIDEO_DIRS:
                continue
            for rel in iter_videos(comp_dir, root):
                stem = _stem(rel)
                inner = strip_video_ext(rel[len(comp_dir.relative_to(root).as_posix()) + 1 :])
                row = {
                    "rel_path": rel,
                    "label": "REAL",
                    "actor_hint": _original_actor(subset, stem),
                    "official_split": single_split.get(stem) if subset == "youtube" else None,
                    "variant": comp,
                    "notes": None if subset in ("youtube", "actors") else f"subset={subset}",
                }
                cands = [f"{comp}/{stem}", f"{comp}/{subset}/{stem}", f"{comp}/{subset}/{inner}"]
                originals.append((cands + [rel], row, subset, stem))
    orig_ids = assign_unique_ids([c for c, *_ in originals])
    by_subset: dict[tuple[str, str, str], str] = {}
    by_comp: dict[tuple[str, str], list[str]] = {}
    rows = []
    for vid, (_, row, subset, stem) in zip(orig_ids, originals, strict=True):
        row["video_id"] = vid
        rows.append(row)
        by_subset[(row["variant"], subset, stem)] = vid
        by_comp.setdefault((row["variant"], stem), []).append(vid)

    fakes = []
    for method_dir in _subdirs(root / MANIPULATED_DIR):
        method = method_dir.name
        for comp_dir in _subdirs(method_dir):
            comp = comp_dir.name
            if comp in NON_VIDEO_DIRS:
                continue
            for rel in iter_videos(comp_dir, root):
                stem = _stem(rel)
                row = {"rel_path": rel, "label": "FAKE", "method": method, "variant": comp}
                row.update(_parse_fake(stem, comp, by_subset, by_comp, pair_split))
                inner = strip_video_ext(rel[len(comp_dir.relative_to(root).as_posix()) + 1 :])
                fakes.append(([f"{comp}/{method}/{stem}", f"{comp}/{method}/{inner}", rel], row))
    for vid, (_, row) in zip(assign_unique_ids([c for c, _ in fakes]), fakes, strict=True):
        row["video_id"] = vid
        rows.append(row)
    # fakes and originals use disjoint id shapes (method folder in the middle) unless a method
    # folder is named like a subset; build_video_table catches that as a duplicate id.
    return build_video_table(rows)


def _parse_fake(
    stem: str,
    comp: str,
    by_subset: dict[tuple[str, str, str], str],
    by_comp: dict[tuple[str, str], list[str]],
    pair_split: dict[frozenset[str], str],
) -> dict[str, str | None]:
    """Original id, target (actor hint), donor, split and notes from a fake's file name."""
    match = _DFD_FAKE.match(stem)
    if match:
        original = f"{match['t']}__{match['scene']}"
        return {
            "original_video_id": _lookup(comp, "actors", original, by_subset, by_comp),
            "actor_hint": match["t"],
            "donor_hint": match["s"],
            "notes": f"source_actor={match['s']}; experiment={match['exp']}",
        }
    match = _FF_FAKE.match(stem)
    if match:
        return {
            "original_video_id": _lookup(comp, "youtube", match["t"], by_subset, by_comp),
            "actor_hint": match["t"],
            "donor_hint": match["s"],
            "official_split": pair_split.get(frozenset((match["t"], match["s"]))),
            "notes": f"source={match['s']}",
        }
    return {"notes": "file name does not follow <target>_<source>; original unknown"}


def _original_actor(subset: str, stem: str) -> str | None:
    """The person an original shows, in the id space of the fakes' names.

    DFD names its actors (``01__exit_phone_room`` -> ``01``); FF++ names a youtube sequence's
    person by the sequence id, which is what ``<target>_<source>`` fakes use for target and donor.
    """
    if "__" in stem:
        return stem.split("__", 1)[0]
    return stem if subset == "youtube" else None


def _lookup(
    comp: str,
    subset: str,
    stem: str,
    by_subset: dict[tuple[str, str, str], str],
    by_comp: dict[tuple[str, str], list[str]],
) -> str:
    """The original's id at the same compression; the nominal ``<comp>/<stem>`` if missing."""
    if (comp, subset, stem) in by_subset:
        return by_subset[(comp, subset, stem)]
    same = by_comp.get((comp, stem), [])
    return same[0] if len(same) == 1 else f"{comp}/{stem}"


def _read_splits(root: Path) -> tuple[dict[frozenset[str], str], dict[str, str]]:
    """Official FF++ splits: pair -> split and youtube id -> split (empty when absent)."""
    pair_split: dict[frozenset[str], str] = {}
    single_split: dict[str, str] = {}
    for split in SPLITS:
        for path in (root / "splits" / f"{split}.json", root / f"{split}.json"):
            if not path.is_file():
                continue
            data = load_json(path)
            if not isinstance(data, list):
                raise SourceFormatError(f"{path}: expected a list of [target, source] pairs")
            for index, pair in enumerate(data):
                if (
                    not isinstance(pair, list)
                    or len(pair) != 2
                    or not all(isinstance(p, str | int) for p in pair)
                ):
                    raise SourceFormatError(
                        f"{path}: item {index} must be a [target, source] pair, got {pair!r}"
                    )
                a, b = (str(p) for p in pair)
                pair_split[frozenset((a, b))] = split
                single_split[a] = single_split[b] = split
            break
    return pair_split, single_split


def _subdirs(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def _stem(rel: str) -> str:
    return posixpath.splitext(posixpath.basename(rel))[0]
