"""Recognise a dataset folder's layout and read it into the normalised video table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from deepfake_assets.sources import (
    celebdf,
    deeperforensics,
    dfdc,
    dffd,
    faceforensics,
    images,
    manifest,
)
from deepfake_assets.sources.errors import SourceFormatError, UnknownFormatError
from deepfake_assets.sources.schema import SourceListing, validate_video_table


@dataclass(frozen=True)
class AdapterOptions:
    """What a registration tells its layout's adapter beyond the folder (stored with the
    source, so a changed option is a changed registration)."""

    dffd_folders: tuple[dffd.FolderOverride, ...] = ()  # DFFD folder -> label/method/split


class SourceFormat(NamedTuple):
    name: str
    detect: Callable[[Path], bool]
    read: Callable[[Path], pl.DataFrame]
    markers: str  # what detection looks for, for error messages and docs
    # formats whose metadata can be partly unreadable (one bad part among several) list what
    # they could read and the problems; the others read all or raise
    list: Callable[[Path, AdapterOptions], SourceListing] | None = None


# Detection order: an explicit manifest wins (a user may add one to any layout to override
# it), read as `images` when it lists image files; DFDC is last because ``metadata.json`` is
# the least specific marker.
SOURCE_FORMATS: tuple[SourceFormat, ...] = (
    SourceFormat(
        "images",
        images.detect,
        images.read,
        "manifest.csv listing images, or real/ and fake/<method>/ folders of images",
        lambda root, _options: images.list_images(root),
    ),
    SourceFormat(
        "manifest",
        manifest.detect,
        manifest.read,
        "manifest.csv",
        lambda root, _options: manifest.list_videos(root),
    ),
    SourceFormat(
        "faceforensics",
        faceforensics.detect,
        faceforensics.read,
        "original_sequences/ or manipulated_sequences/",
    ),
    SourceFormat(
        "dffd",
        dffd.detect,
        dffd.read,
        "two of DFFD's origin folders (ffhq/, stylegan_ffhq/, ...)",
        lambda root, options: dffd.list_images(root, options.dffd_folders),
    ),
    SourceFormat("celebdf", celebdf.detect, celebdf.read, "Celeb-real/ or Celeb-synthesis/"),
    SourceFormat(
        "deeperforensics",
        deeperforensics.detect,
        deeperforensics.read,
        "manipulated_videos/ or source_videos/",
    ),
    SourceFormat(
        "dfdc",
        dfdc.detect,
        dfdc.read,
        "metadata.json (root or up to 3 levels down)",
        lambda root, _options: dfdc.list_videos(root),
    ),
)
FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in SOURCE_FORMATS)
FORMAT_ALIASES = {
    "ff++": "faceforensics",
    "ffpp": "faceforensics",
    "faceforensics++": "faceforensics",
    "celeb-df": "celebdf",
    "celeb-df-v2": "celebdf",
    "celebdfv2": "celebdf",
    "deeperforensics-1.0": "deeperforensics",
    "dfd": "faceforensics",
    "csv": "manifest",
    "image": "images",
    "image-folder": "images",
    "diverse-fake-face": "dffd",
}
_BY_NAME = {f.name: f for f in SOURCE_FORMATS}


def normalise_format_name(fmt: str) -> str:
    """A user-typed format name (any case, common aliases) -> canonical name, or "auto"."""
    key = fmt.strip().lower()
    if key == "auto" or key in _BY_NAME:
        return key
    if key in FORMAT_ALIASES:
        return FORMAT_ALIASES[key]
    raise UnknownFormatError(
        f"unknown source format {fmt!r}; known: auto, {', '.join(FORMAT_NAMES)}"
    )


def detect_format(root: Path) -> str | None:
    """The name of the first layout whose markers ``root`` has; None when none match."""
    root = Path(root)
    if not root.is_dir():
        return None
    for source_format in SOURCE_FORMATS:
        if source_format.detect(root):
            return source_format.name
    return None


def list_source(
    root: Path, fmt: str = "auto", options: AdapterOptions | None = None
) -> SourceListing:
    """Read ``root`` as ``fmt`` (or the detected format): its video table and the metadata it
    could not read (a truncated ``metadata.json`` among several parts), which the caller records.

    Bad entries are rows with a ``reject_reason``. Raises ``UnknownFormatError`` when the folder
    matches nothing (or ``fmt`` is unknown) and ``SourceFormatError`` when no metadata at all
    can be read; messages name the file and problem.
    """
    root = Path(root)
    name = normalise_format_name(fmt)
    if not root.is_dir():
        raise SourceFormatError(f"{root}: not a folder")
    if name == "auto":
        detected = detect_format(root)
        if detected is None:
            expected = "; ".join(f"{f.name}: {f.markers}" for f in SOURCE_FORMATS)
            raise UnknownFormatError(
                f"{root}: no known dataset layout found (looked for {expected})"
            )
        name = detected
    source_format = _BY_NAME[name]
    if source_format.list is not None:
        listing = source_format.list(root, options or AdapterOptions())
    else:
        listing = SourceListing(source_format.read(root))
    validate_video_table(listing.videos)
    return listing


def read_source(
    root: Path, fmt: str = "auto", options: AdapterOptions | None = None
) -> pl.DataFrame:
    """The video table of ``root``; like ``list_source`` but any unreadable metadata raises
    ``SourceFormatError`` naming it (for callers that cannot record problems)."""
    return list_source(root, fmt, options).videos_or_raise(root)
