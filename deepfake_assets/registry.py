"""Registered source datasets: which folder each Dagster partition stands for.

A source is a slug (the partition key), a folder, a format and options. The registry is one JSON
file under the data directory, changed under a file lock and replaced atomically so the CLI and
the sensor can both write it. Every change is mirrored into the catalog's `sources` table.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import Catalog, _file_lock
from deepfake_assets.media.images import write_bytes_atomic

FORMATS = ("auto", "dfdc", "ffpp", "celebdf", "deeperforensics", "manifest")
SAMPLING_STRATEGIES = ("first_and_even", "balanced", "uniform")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class RegistryError(ValueError):
    """A registration that cannot be made (bad name, missing folder, unknown format)."""


def slugify(name: str) -> str:
    """A partition key from a folder name: lower case, [a-z0-9_-], at most 64 characters."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-_")
    return slug[:64] or "source"


def part_sources(name: str, root: Path, fmt: str = "auto") -> list[tuple[str, Path]]:
    """`(source name, folder)` for each part folder of a split dataset (DFDC's
    `dfdc_train_part_0..49`): the sub-folders of `root` whose layout is recognised (or, with a
    format given, every visible sub-folder). Each is named `NAME-<what differs>`: the folder
    names without their common prefix, so `dfdc` + `dfdc_train_part_7` is `dfdc-7`.

    One source per part makes each part a partition of its own, so a backfill over the parts
    runs as many runs side by side as the instance allows, and a re-run of one part redoes
    only that part.
    """
    from deepfake_assets.sources import detect_format

    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise RegistryError(f"{root} is not a folder")
    parts = [
        p
        for p in sorted(root.iterdir())
        if p.is_dir()
        and not p.name.startswith(".")
        and (fmt != "auto" or detect_format(p) is not None)
    ]
    if not parts:
        raise RegistryError(f"no sub-folder of {root} has a layout this tool recognises")
    names = [p.name for p in parts]
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    if any(not n[len(prefix) :] for n in names):
        prefix = ""
    out = []
    for part, folder_name in zip(parts, names, strict=True):
        suffix = slugify(folder_name[len(prefix) :])
        out.append((f"{name}-{suffix}"[:64], part))
    if len({n for n, _ in out}) != len(out):
        raise RegistryError(f"the part folders of {root} do not give distinct source names")
    return out


@dataclass(frozen=True)
class Source:
    """One source dataset: a folder of videos in a known layout."""

    name: str
    path: str
    format: str
    test_only: bool = False
    sampling: str | None = None
    notes: str = ""
    added_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def root(self) -> Path:
        return Path(self.path)


class SourceRegistry:
    """The registered sources of one data directory."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or config.data_dir()).resolve()
        self.path = self.data_dir / "sources.json"
        self._lock = self.data_dir / ".sources.lock"

    def _load(self) -> dict[str, Source]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{self.path} is not valid JSON: {exc}") from exc
        return {item["name"]: Source(**item) for item in raw.get("sources", [])}

    def _save(self, sources: dict[str, Source]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        payload = {"sources": [asdict(s) for s in sorted(sources.values(), key=lambda s: s.name)]}
        write_bytes_atomic(self.path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
        Catalog(self.data_dir).write("sources", self.to_frame(sources.values()))

    @staticmethod
    def to_frame(sources) -> pl.DataFrame:
        rows = [asdict(s) for s in sources]
        schema = {
            "name": pl.Utf8,
            "path": pl.Utf8,
            "format": pl.Utf8,
            "test_only": pl.Boolean,
            "sampling": pl.Utf8,
            "notes": pl.Utf8,
            "added_at": pl.Utf8,
        }
        return pl.DataFrame(rows, schema=schema)

    def list(self) -> list[Source]:
        return sorted(self._load().values(), key=lambda s: s.name)

    def get(self, name: str) -> Source:
        sources = self._load()
        if name not in sources:
            known = ", ".join(sorted(sources)) or "none"
            raise RegistryError(f"no source named {name!r} is registered (registered: {known})")
        return sources[name]

    def find(self, name: str) -> Source | None:
        return self._load().get(name)

    def add(
        self,
        name: str,
        path: Path,
        fmt: str = "auto",
        *,
        test_only: bool = False,
        sampling: str | None = None,
        notes: str = "",
        replace: bool = False,
    ) -> Source:
        """Register a folder; `fmt="auto"` detects the layout and fails when it cannot."""
        from deepfake_assets.sources import detect_format, normalise_format_name

        if not _SLUG.match(name):
            raise RegistryError(
                f"source name {name!r} must be a slug: lower-case letters, digits, '-' or '_' "
                f"(e.g. {slugify(name)!r})"
            )
        if fmt not in FORMATS:
            raise RegistryError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if sampling is not None and sampling not in SAMPLING_STRATEGIES:
            raise RegistryError(
                f"unknown sampling strategy {sampling!r}; choose one of "
                f"{', '.join(SAMPLING_STRATEGIES)}"
            )
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise RegistryError(f"{root} is not a folder")
        if fmt == "auto":
            detected = detect_format(root)
            if detected is None:
                raise RegistryError(
                    f"cannot recognise the layout of {root}: expected DFDC (metadata.json), "
                    "FaceForensics++ (original_sequences/), Celeb-DF (Celeb-real/), "
                    "DeeperForensics (manipulated_videos/) or a manifest.csv; "
                    "pass --format to say which"
                )
            fmt = detected
        fmt = normalise_format_name(fmt)
        source = Source(
            name=name,
            path=str(root),
            format=fmt,
            test_only=test_only,
            sampling=sampling,
            notes=notes,
        )
        with _file_lock(self._lock):
            sources = self._load()
            if name in sources and not replace and sources[name].path != source.path:
                raise RegistryError(
                    f"a source named {name!r} already points at {sources[name].path}"
                )
            sources[name] = source
            self._save(sources)
        return source

    def remove(self, name: str) -> Source:
        with _file_lock(self._lock):
            sources = self._load()
            if name not in sources:
                raise RegistryError(f"no source named {name!r} is registered")
            removed = sources.pop(name)
            self._save(sources)
        return removed

    def by_path(self) -> dict[Path, Source]:
        return {Path(s.path).resolve(): s for s in self._load().values()}
