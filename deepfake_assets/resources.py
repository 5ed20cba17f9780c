"""Dagster resources: where the data directory is, and the catalog and registry inside it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from deepfake_assets import config
from deepfake_assets.catalog import Catalog
from deepfake_assets.registry import SourceRegistry


class DataDirResource(dg.ConfigurableResource):
    """The data directory; empty means `$DEEPFAKE_DATA_DIR` (default `./data`) at run time."""

    data_dir: str = ""

    def path(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else config.data_dir()

    def catalog(self) -> Catalog:
        return Catalog(self.path())

    def registry(self) -> SourceRegistry:
        return SourceRegistry(self.path())
