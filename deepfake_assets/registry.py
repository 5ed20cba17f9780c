"""Registered source datasets: which folder each Dagster partition stands for.

A source is a slug (the partition key), a folder, a format and options. The registry is one JSON
file under the data directory, changed under a file lock and replaced atomically so the CLI and
the sensor can both write it. Every change is mirrored into the catalog's `sources` table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import PARTITIONED_TABLES, Catalog, _file_lock
from deepfake_assets.faces.sampling import STRATEGIES
from deepfake_assets.media.images import write_bytes_atomic
from deepfake_assets.sources.dffd import FolderOverride, merge_overrides
from deepfake_assets.sources.errors import SourceFormatError
from deepfake_assets.sources.formats import AdapterOptions

FORMATS = ("auto", "dfdc", "ffpp", "celebdf", "deeperforensics", "manifest", "dffd", "images")
SAMPLING_STRATEGIES = STRATEGIES  # one list of names: `faces.sampling.SamplingStrategy`
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
    # DFFD's folder mapping beyond the defaults (`sources add --dffd-folder`)
    dffd_folders: tuple[FolderOverride, ...] = ()

    @property
    def root(self) -> Path:
        return Path(self.path)

    @property
    def adapter_options(self) -> AdapterOptions:
        """What the layout's adapter reads beyond the folder."""
        return AdapterOptions(dffd_folders=self.dffd_folders)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, item: dict) -> Source:
        """A stored registration; rows are validated again (a hand-edited file is input)."""
        folders = tuple(FolderOverride.of(**row) for row in item.get("dffd_folders") or ())
        return cls(**{**item, "dffd_folders": folders})


# The fields a registration sets; `added_at` is when it was first made and never compared.
OPTION_FIELDS = ("path", "format", "test_only", "sampling", "notes", "dffd_folders")


@dataclass(frozen=True)
class FieldChange:
    """One option of a registration, before and after."""

    field: str
    old: object
    new: object

    def __str__(self) -> str:
        return f"{self.field}: {_shown(self.old)} -> {_shown(self.new)}"


def _shown(value: object) -> str:
    if isinstance(value, tuple):  # a folder mapping: its rows as the CLI takes them
        return "[" + "; ".join(str(v) for v in value) + "]"
    return repr(value)


def changes_between(old: Source, new: Source) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(f, getattr(old, f), getattr(new, f))
        for f in OPTION_FIELDS
        if getattr(old, f) != getattr(new, f)
    )


@dataclass(frozen=True)
class Registration:
    """What `add` did: `previous` is None for a new name; no `changes` with a previous
    registration means it was already registered exactly so and nothing was written."""

    source: Source
    previous: Source | None
    changes: tuple[FieldChange, ...]

    @property
    def unchanged(self) -> bool:
        return self.previous is not None and not self.changes


@dataclass(frozen=True)
class Removal:
    """What `remove` deleted. `source` is None when the name was no longer registered and only
    files its runs left behind (written after an earlier removal) were cleared."""

    name: str
    source: Source | None
    tables: tuple[str, ...]
    folders: tuple[Path, ...]
    left: tuple[Path, ...]  # folders that could not be deleted (a run still writing them?)


def source_folders(data_dir: Path, name: str) -> tuple[Path, ...]:
    """The folders only one source's runs write: crops, difference masks and staged work."""
    return (
        config.faces_dir(name, data_dir),
        data_dir / "masks" / name,
        config.work_dir(name, data_dir),
    )


class SourceRegistry:
    """The registered sources of one data directory."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or config.data_dir()).resolve()
        self.path = self.data_dir / "sources.json"
        self._lock = self.data_dir / ".sources.lock"

    def _raw(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{self.path} is not valid JSON: {exc}") from exc

    def _load(self) -> dict[str, Source]:
        try:
            return {item["name"]: Source.from_json(item) for item in self._raw().get("sources", [])}
        except (SourceFormatError, TypeError) as exc:
            raise RegistryError(f"{self.path}: a registration cannot be read: {exc}") from exc

    def removed_paths(self) -> set[Path]:
        """Folders whose source was removed with `sources remove`: the new-source sensor does not
        register them again (only `sources add` does, which takes a folder off this list)."""
        return {Path(p) for p in self._raw().get("removed", [])}

    def _save(self, sources: dict[str, Source], removed: set[Path] | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        removed = self.removed_paths() if removed is None else removed
        removed -= {Path(s.path) for s in sources.values()}
        payload = {
            "sources": [s.to_json() for s in sorted(sources.values(), key=lambda s: s.name)],
            "removed": sorted(str(p) for p in removed),
        }
        write_bytes_atomic(self.path, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
        Catalog(self.data_dir).write("sources", self.to_frame(sources.values()))

    @staticmethod
    def to_frame(sources) -> pl.DataFrame:
        rows = [
            {**asdict(s), "dffd_folders": "; ".join(str(r) for r in s.dffd_folders) or None}
            for s in sources
        ]
        schema = {
            "name": pl.Utf8,
            "path": pl.Utf8,
            "format": pl.Utf8,
            "test_only": pl.Boolean,
            "sampling": pl.Utf8,
            "notes": pl.Utf8,
            "added_at": pl.Utf8,
            "dffd_folders": pl.Utf8,
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
        dffd_folders: tuple[FolderOverride, ...] = (),
        replace: bool = False,
    ) -> Registration:
        """Register a folder; `fmt="auto"` detects the layout and fails when it cannot.

        A name already registered is never changed silently: with the same options this is a
        no-op, with other options (another folder, a `test_only` that would flip, a sampling or
        notes that would be dropped) it refuses unless `replace`, and the result lists what
        changed either way.
        """
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
        try:
            dffd_folders = merge_overrides(dffd_folders)
        except SourceFormatError as exc:
            raise RegistryError(str(exc)) from exc
        if dffd_folders and fmt != "dffd":
            raise RegistryError(
                f"a DFFD folder mapping was given but {root} is registered as {fmt!r}: it only "
                "applies to --format dffd"
            )
        source = Source(
            name=name,
            path=str(root),
            format=fmt,
            test_only=test_only,
            sampling=sampling,
            notes=notes,
            dffd_folders=dffd_folders,
        )
        with _file_lock(self._lock):
            sources = self._load()
            previous = sources.get(name)
            if previous is None:
                sources[name] = source
                self._save(sources)
                return Registration(source, None, ())
            changes = changes_between(previous, source)
            if not changes:
                return Registration(previous, previous, ())
            if not replace:
                raise RegistryError(
                    f"a source named {name!r} is already registered ({previous.path}); "
                    "re-adding it would change "
                    + "; ".join(str(c) for c in changes)
                    + ". Pass --replace to apply the new options (or repeat the registered "
                    "ones to keep them)"
                )
            source = dataclasses.replace(source, added_at=previous.added_at)
            sources[name] = source
            self._save(sources)
        return Registration(source, previous, changes)

    def leftovers(self, name: str) -> tuple[list[str], list[Path]]:
        """The catalog tables with a partition of `name`, and its folders that exist."""
        catalog = Catalog(self.data_dir)
        tables = [t for t in PARTITIONED_TABLES if catalog.partition_path(t, name).exists()]
        return tables, [f for f in source_folders(self.data_dir, name) if f.exists()]

    def remove(self, name: str) -> Removal:
        """Unregister `name` and delete everything its runs wrote for it: its partition of every
        per-source catalog table, its crops, masks and staged work.

        Unregistering comes first, so from then on no read over all sources takes its rows and
        no run can write them. A name no longer registered whose runs left files (a run that went
        on after an earlier removal) has them cleared; a name with nothing at all is an error.
        Tables over all sources (splits, ...) are not edited: they are stale until rebuilt, and
        the export refuses them.
        """
        if not _SLUG.match(name):
            raise RegistryError(f"no source named {name!r}: source names are slugs")
        with _file_lock(self._lock):
            sources = self._load()
            removed = sources.pop(name, None)
            tables, folders = self.leftovers(name)
            if removed is None and not tables and not folders:
                known = ", ".join(sorted(sources)) or "none"
                raise RegistryError(
                    f"no source named {name!r} is registered (registered: {known}) and "
                    "nothing of it is left in the catalog"
                )
            if removed is not None:
                self._save(sources, self.removed_paths() | {Path(removed.path)})
        tables = Catalog(self.data_dir).delete_partition(name)
        folders = [f for f in source_folders(self.data_dir, name) if f.exists()]
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        left = tuple(f for f in folders if f.exists())
        return Removal(name, removed, tuple(tables), tuple(folders), left)

    def by_path(self) -> dict[Path, Source]:
        return {Path(s.path).resolve(): s for s in self._load().values()}
