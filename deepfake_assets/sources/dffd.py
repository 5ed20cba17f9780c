"""DFFD, the Diverse Fake Face Dataset (Dang et al., CVPR 2020), as its authors distribute it::

    <origin>/<split>/**/<name>.<png|jpg>     origin: ffhq, celeba, stylegan_ffhq, faceapp, ...
                                             split: train, validation (val), test

Each origin folder is one kind of face: real photos (FFHQ, CelebA, frames of FaceForensics++
videos) or one manipulation (entire-face synthesis by StyleGAN or PGGAN, attribute edits by
FaceApp or StarGAN, FaceForensics++ manipulations); the authors split every origin 50 / 5 / 45
into train / validation / test, identity-disjoint. The exact folder names come only with the
download, so the mapping folder -> (label, method) is the table ``DEFAULT_FOLDERS`` below (the
paper's names), changed for one source by the ``FolderOverride`` rows registered with it
(``sources add ... --dffd-folder stylegan2_ffhq=FAKE,stylegan2`` or ``--dffd-folders FILE.csv``
with the same columns)::

    folder,label,method,split
    stylegan2_ffhq,FAKE,stylegan2,          # a folder the defaults do not know
    faceforensics/Deepfakes,FAKE,Deepfakes,  # a nested folder (a path prefix)
    extras,ignore,,                          # a folder that is not data
    val_only,REAL,,val                       # images without split sub-folders

Rows replace the default of the same folder. ``label`` is REAL, FAKE or ``ignore``; ``split``
(optional) is the official split of images directly in the folder. The mapping lives in the
registry, not in the dataset folder, so a read-only download can be mapped and a changed mapping
is a changed registration (``--replace``, listed field by field). A folder matched by no row is
**never guessed**: it is reported (a rejected row naming the folder and how to map it), and so
is a sub-folder of a known origin that is not a split name. Folder names compare
case-insensitively; the longest matching path prefix wins.

Generated images show nobody real, so no actor is given; an edited image's original is not
named by DFFD's file names, so none is guessed either (the fake then has a pseudo-actor).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from deepfake_assets.media.still_images import is_image_path
from deepfake_assets.sources.common import (
    assign_unique_ids,
    normalise_label,
    normalise_split,
    walk_files,
)
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.schema import MetadataProblem, SourceListing, build_video_table

# Read by an earlier version from the dataset root; now only reported if present.
LEGACY_FOLDERS_FILE = "dffd_folders.csv"
IGNORE = "ignore"
OVERRIDE_COLUMNS = ("folder", "label", "method", "split")


@dataclass(frozen=True)
class FolderRule:
    """What one origin folder holds."""

    label: str  # REAL, FAKE or "ignore"
    method: str | None = None
    split: str | None = None  # for images directly in the folder (no split sub-folders)
    family: str | None = None  # the dataset family the method belongs to, for notes


# The paper's names (section 3 and the download page); FF++ frames come in the FF++ names.
DEFAULT_FOLDERS: dict[str, FolderRule] = {
    "ffhq": FolderRule("REAL", family="ffhq"),
    "celeba": FolderRule("REAL", family="celeba"),
    "youtube": FolderRule("REAL", family="faceforensics"),
    "original": FolderRule("REAL", family="faceforensics"),
    "faceapp": FolderRule("FAKE", "faceapp", family="attribute_editing"),
    "stargan": FolderRule("FAKE", "stargan", family="attribute_editing"),
    "pggan_v1": FolderRule("FAKE", "pggan", family="entire_face_synthesis"),
    "pggan_v2": FolderRule("FAKE", "pggan", family="entire_face_synthesis"),
    "stylegan_ffhq": FolderRule("FAKE", "stylegan", family="entire_face_synthesis"),
    "stylegan_celeba": FolderRule("FAKE", "stylegan", family="entire_face_synthesis"),
    "deepfakes": FolderRule("FAKE", "Deepfakes", family="identity_swap"),
    "faceswap": FolderRule("FAKE", "FaceSwap", family="identity_swap"),
    "face2face": FolderRule("FAKE", "Face2Face", family="expression_swap"),
}


@dataclass(frozen=True)
class FolderOverride:
    """One row of a source's folder mapping, in normal form (build with ``FolderOverride.of``)."""

    folder: str  # a lower-case path prefix without leading or trailing '/'
    label: str  # REAL, FAKE or "ignore"
    method: str | None = None
    split: str | None = None  # train, val or test: images directly in the folder

    @classmethod
    def of(
        cls, folder: str, label: str, method: str | None = None, split: str | None = None
    ) -> FolderOverride:
        """Validate and normalise; a bad value raises ``SourceFormatError`` naming it."""
        where = f"folder mapping {folder!r}"
        key = str(folder or "").strip().strip("/").lower()
        if not key:
            raise SourceFormatError("folder mapping: empty folder")
        if str(label or "").strip().lower() == IGNORE:
            return cls(key, IGNORE)
        norm_label = normalise_label(label, where)
        norm_split, unknown = normalise_split(split)
        if unknown:
            raise SourceFormatError(f"{where}: unknown split {split!r} (train, val or test)")
        return cls(key, norm_label, (method or "").strip() or None, norm_split)

    @property
    def rule(self) -> FolderRule:
        return FolderRule(self.label, self.method, self.split)

    def __str__(self) -> str:
        tail = ",".join(v or "" for v in (self.method, self.split)).rstrip(",")
        return f"{self.folder}={self.label}" + (f",{tail}" if tail else "")


def parse_folder_override(text: str) -> FolderOverride:
    """``FOLDER=LABEL[,METHOD[,SPLIT]]`` (the CLI's ``--dffd-folder``) -> a ``FolderOverride``."""
    folder, sep, rest = text.partition("=")
    if not sep:
        raise SourceFormatError(
            f"folder mapping {text!r}: expected FOLDER=LABEL[,METHOD[,SPLIT]], "
            "e.g. stylegan2_ffhq=FAKE,stylegan2"
        )
    values = rest.split(",")
    if len(values) > 3:
        raise SourceFormatError(f"folder mapping {text!r}: more than LABEL,METHOD,SPLIT")
    label, method, split = (values + [None, None])[:3]
    return FolderOverride.of(folder, label or "", method, split)


def read_folder_overrides(path: Path) -> tuple[FolderOverride, ...]:
    """The rows of a ``folder,label[,method,split]`` CSV; a bad row raises ``SourceFormatError``
    naming its line: a mapping is never half-read."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceFormatError(f"{path}: cannot read ({exc})") from exc
    rows = []
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "folder" not in header or "label" not in header:
        raise SourceFormatError(f"{path}: needs a folder,label[,method,split] header")
    for values in reader:
        row = {k.strip().lower(): (v or "").strip() for k, v in values.items() if k}
        try:
            rows.append(FolderOverride.of(*(row.get(c) for c in OVERRIDE_COLUMNS)))
        except SourceFormatError as exc:
            raise SourceFormatError(f"{path} line {reader.line_num}: {exc}") from exc
    return merge_overrides(rows)


def merge_overrides(rows: Iterable[FolderOverride]) -> tuple[FolderOverride, ...]:
    """Rows sorted by folder, repeats of one row kept once; two different rows for one folder
    raise: which one was meant is never chosen silently."""
    by_folder: dict[str, FolderOverride] = {}
    for row in rows:
        seen = by_folder.setdefault(row.folder, row)
        if seen != row:
            raise SourceFormatError(
                f"folder mapping: {row.folder!r} is mapped twice, as {seen} and as {row}"
            )
    return tuple(by_folder[k] for k in sorted(by_folder))


def detect(root: Path) -> bool:
    """At least two top-level folders named as DFFD's origins."""
    try:
        names = {p.name.lower() for p in root.iterdir() if p.is_dir()}
    except OSError:
        return False
    return len(names & set(DEFAULT_FOLDERS)) >= 2


def folder_table(overrides: Iterable[FolderOverride] = ()) -> dict[str, FolderRule]:
    """The defaults with the source's rows applied (keys: lower-case path prefixes)."""
    table = dict(DEFAULT_FOLDERS)
    table.update({row.folder: row.rule for row in overrides})
    return table


def _rule_for(parts: list[str], table: dict[str, FolderRule]) -> tuple[str, FolderRule] | None:
    """The longest path prefix of ``parts`` (folders only) that the table names."""
    for depth in range(len(parts), 0, -1):
        key = "/".join(parts[:depth]).lower()
        if key in table:
            return key, table[key]
    return None


def list_images(root: Path, overrides: Iterable[FolderOverride] = ()) -> SourceListing:
    """The item table of a DFFD folder; unknown folders are problems, never guessed."""
    table = folder_table(overrides)
    entries: list[dict[str, str | None]] = []
    unknown: dict[str, str] = {}  # folder -> why
    overrides = tuple(overrides)
    legacy = _unregistered_legacy_rows(root, overrides)
    if legacy:
        unknown[LEGACY_FOLDERS_FILE] = (
            f"{legacy}: a folder mapping inside the dataset folder is not read; register it "
            f"with the source (`sources add NAME PATH --format dffd --dffd-folders "
            f"{root / LEGACY_FOLDERS_FILE} --replace`)"
        )
    for path in walk_files(root):
        rel = path.relative_to(root).as_posix()
        if not is_image_path(path.name):
            continue
        folders = rel.split("/")[:-1]
        if not folders:
            unknown.setdefault(rel, "an image at the dataset root belongs to no origin folder")
            continue
        found = _rule_for(folders, table)
        if found is None:
            top = folders[0]
            unknown.setdefault(
                top,
                f"folder {top!r} is not in the DFFD folder table; map it when registering "
                f"the source (`--dffd-folder {top}=REAL|FAKE|ignore[,METHOD]`, then "
                "--replace); not guessed",
            )
            continue
        key, rule = found
        if rule.label == IGNORE:
            continue
        below = folders[len(key.split("/")) :]
        split, note = rule.split, None
        if below:
            split, bad = normalise_split(below[0])
            if bad:
                where = "/".join(folders[: len(key.split("/")) + 1])
                unknown.setdefault(
                    where,
                    f"folder {where!r} is not a split (train, validation, test) of origin "
                    f"{key!r}; its images are not listed (not guessed)",
                )
                continue
        elif split is None:
            note = "no split folder: official split unknown"
        origin = "/".join(folders[: len(key.split("/"))])
        entries.append(
            {
                "rel_path": rel,
                "label": rule.label,
                "method": rule.method if rule.label == "FAKE" else None,
                "official_split": split,
                "variant": origin,
                "notes": "; ".join(
                    n for n in (note, f"family={rule.family}" if rule.family else None) if n
                )
                or None,
            }
        )
    ids = assign_unique_ids([[_stem(e["rel_path"]), e["rel_path"]] for e in entries])
    rows = [{"video_id": vid, **e} for vid, e in zip(ids, entries, strict=True)]
    problems = tuple(MetadataProblem(folder, why) for folder, why in sorted(unknown.items()))
    return SourceListing(build_video_table(rows), problems)


def _unregistered_legacy_rows(root: Path, overrides: tuple[FolderOverride, ...]) -> str:
    """What a ``dffd_folders.csv`` left in the dataset root says that the registration does
    not (an earlier version read it from there): "" when nothing."""
    path = root / LEGACY_FOLDERS_FILE
    if not path.is_file():
        return ""
    try:
        rows = read_folder_overrides(path)
    except SourceFormatError as exc:
        return str(exc)
    missing = [str(row) for row in rows if row not in overrides]
    return f"rows {', '.join(missing)}" if missing else ""


def read(root: Path) -> pl.DataFrame:
    return list_images(root).videos


def _stem(rel: str) -> str:
    return rel.rsplit(".", 1)[0] if "." in rel.rsplit("/", 1)[-1] else rel
