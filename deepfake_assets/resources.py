"""Dagster resources: where the data directory is, and the catalog and registry inside it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import Catalog, MissingPartitionError
from deepfake_assets.registry import SourceRegistry


class DataDirResource(dg.ConfigurableResource):
    """The data directory; empty means `$DEEPFAKE_DATA_DIR` (default `./data`) at run time."""

    data_dir: str = ""

    def path(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else config.data_dir()

    def catalog(self) -> Catalog:
        return Catalog(self.path())

    def require(self, table: str, partition: str, writer: str) -> pl.DataFrame:
        """A catalog partition an asset needs; absent (never written) fails the step clearly,
        empty (a source with nothing usable) is returned as is."""
        try:
            return self.catalog().require(table, partition, writer=writer)
        except MissingPartitionError as exc:
            raise dg.Failure(str(exc)) from exc

    def registry(self) -> SourceRegistry:
        return SourceRegistry(self.path())
