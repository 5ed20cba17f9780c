"""Where things live: every path the project uses comes from the environment, read at call time.

Read lazily (not at import) so tests, the sensor and the CLI can point the same code at other
folders by setting the environment before they call in.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "DEEPFAKE_DATA_DIR"
SOURCES_DIR_ENV = "DEEPFAKE_SOURCES_DIR"
DASK_SCHEDULER_ENV = "DEEPFAKE_DASK_SCHEDULER"


def data_dir() -> Path:
    """Root of everything the pipeline writes: catalog, crops, masks, exports."""
    return Path(os.environ.get(DATA_DIR_ENV, "./data")).expanduser().resolve()


def dask_scheduler() -> str | None:
    """The dask scheduler the per-video stages submit to (`tcp://host:8786`); None: local."""
    return os.environ.get(DASK_SCHEDULER_ENV, "").strip() or None


def sources_dir() -> Path | None:
    """The folder the new-source sensor watches; None when the user has not set one."""
    value = os.environ.get(SOURCES_DIR_ENV)
    return Path(value).expanduser().resolve() if value else None


def faces_dir(source: str, root: Path | None = None) -> Path:
    """Face crops of one source dataset, under ``root`` (default ``data_dir()``)."""
    return (root or data_dir()) / "faces" / source


def work_dir(source: str, root: Path | None = None) -> Path:
    """Per-video results of unfinished runs (what makes a run resumable), under ``root``."""
    return (root or data_dir()) / "work" / source


def cache_dir(root: Path | None = None) -> Path:
    """Caches shared by all sources (file verdicts, landmarks), under ``root``: beside ``work``,
    never inside it, so no source name can reach them (a source is free to be called
    ``landmarks``)."""
    return (root or data_dir()) / "cache"
