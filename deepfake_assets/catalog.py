"""The catalog: Parquet files that runs write, and a DuckDB file whose views read them.

DuckDB lets one process write a database file at a time, and a user with the `duckdb` CLI open
holds that lock. So no run ever writes rows into `catalog.duckdb`: each partition of each table is
one Parquet file, replaced atomically (written under a temporary name, then renamed), and
`catalog.duckdb` only holds views over `catalog/<table>/*.parquet`. Two partitions materialised at
once write different files; a user querying while a run writes sees the old or the new file,
never half of one; re-materialising a partition replaces its file, never duplicates its rows.

Layout under `$DEEPFAKE_DATA_DIR`:
    catalog/<table>/<partition>.parquet   per source dataset (videos, frames, faces, ...)
    catalog/<table>/_all.parquet          tables over all sources (actors, splits, ...)
    catalog.duckdb                        views named after the tables
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from deepfake_assets import config

log = logging.getLogger(__name__)

PARTITIONED_TABLES = (
    "videos",
    "frame_plans",
    "frames",
    "face_videos",
    "faces",
    "hashes",
    "embeddings",
    "fake_groups",
)
GLOBAL_TABLES = (
    "sources",
    "duplicates",
    "actors",
    "video_actors",
    "splits",
    "folds",
    "split_drops",
)
ALL_PARTITIONS = "_all"


class CatalogError(RuntimeError):
    """A catalog operation that cannot go on (bad table name, unreadable file)."""


def _check_table(table: str) -> None:
    if table not in PARTITIONED_TABLES + GLOBAL_TABLES:
        raise CatalogError(f"unknown catalog table {table!r}")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An advisory lock between our own processes (sensor, CLI, parallel runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_parquet_atomic(df: pl.DataFrame, path: Path) -> Path:
    """Write `df` to `path` so readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        df.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


_TEMP_NAME = re.compile(r"^\..+\.(\d+)(\.[0-9a-f]+)?\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(root: Path) -> int:
    """Delete temporary files (`.<name>.<pid>[.<id>].tmp`) whose writing process is gone.

    Every write goes to such a name and is renamed when complete, so a process killed mid-write
    leaves one behind; the next run of the same step clears them. Returns how many it removed.
    """
    removed = 0
    if not root.exists():
        return 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            match = _TEMP_NAME.match(name)
            if match and not _pid_alive(int(match.group(1))):
                Path(dirpath, name).unlink(missing_ok=True)
                removed += 1
    return removed


class Catalog:
    """Reads and writes the catalog tables of one data directory."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or config.data_dir()).resolve()
        self.root = self.data_dir / "catalog"
        self.db_path = self.data_dir / "catalog.duckdb"

    # -- files ---------------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        _check_table(table)
        return self.root / table

    def partition_path(self, table: str, partition: str = ALL_PARTITIONS) -> Path:
        return self.table_dir(table) / f"{partition}.parquet"

    def partitions(self, table: str) -> list[str]:
        folder = self.table_dir(table)
        if not folder.exists():
            return []
        return sorted(p.stem for p in folder.glob("*.parquet") if not p.name.startswith("."))

    # -- writing -------------------------------------------------------------------------------
    def write(self, table: str, df: pl.DataFrame, partition: str = ALL_PARTITIONS) -> Path:
        """Replace one partition of a table (all of it for tables over all sources)."""
        path = write_parquet_atomic(df, self.partition_path(table, partition))
        self.refresh_views(wait_s=2.0)
        return path

    def delete_partition(self, partition: str) -> list[str]:
        """Remove a source dataset's rows from every per-source table; returns the tables hit."""
        removed = []
        for table in PARTITIONED_TABLES:
            path = self.partition_path(table, partition)
            if path.exists():
                path.unlink()
                removed.append(table)
        self.refresh_views()
        return removed

    # -- reading -------------------------------------------------------------------------------
    def read(self, table: str, partition: str | None = None) -> pl.DataFrame:
        """One partition, or the whole table (all partitions) when `partition` is None.

        Reads the Parquet files directly, so it never waits on the DuckDB file lock. An absent
        table reads as an empty frame.
        """
        if partition is not None:
            path = self.partition_path(table, partition)
            return pl.read_parquet(path) if path.exists() else pl.DataFrame()
        paths = [self.partition_path(table, p) for p in self.partitions(table)]
        if not paths:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(p) for p in paths], how="diagonal_relaxed")

    def has(self, table: str, partition: str = ALL_PARTITIONS) -> bool:
        return self.partition_path(table, partition).exists()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with every table as a view: lock-free SQL for code."""
        con = duckdb.connect()
        for table, glob in self._view_sources():
            con.execute(f"CREATE VIEW {table} AS {_view_select(glob)}")
        return con

    def query(self, sql: str) -> pl.DataFrame:
        with contextlib.closing(self.connect()) as con:
            return con.sql(sql).pl()

    # -- views in catalog.duckdb ---------------------------------------------------------------
    def _view_sources(self) -> list[tuple[str, str]]:
        out = []
        for table in PARTITIONED_TABLES + GLOBAL_TABLES:
            if self.partitions(table):
                out.append((table, str(self.table_dir(table) / "*.parquet")))
        return out

    def refresh_views(self, wait_s: float = 10.0) -> bool:
        """Create the views of `catalog.duckdb` for every table that has files.

        Views name a glob, so a new partition file is visible without touching the database;
        only a table's first file needs this. When another process (a user's `duckdb` shell)
        holds the database, retry for `wait_s` and then give up with a warning: the run goes on
        and the next refresh creates what is missing.
        """
        wanted = self._view_sources()
        if not wanted:
            return True
        deadline = time.monotonic() + wait_s
        with _file_lock(self.data_dir / ".catalog.lock"):
            while True:
                try:
                    con = duckdb.connect(str(self.db_path))
                    break
                except duckdb.IOException as exc:
                    if time.monotonic() > deadline:
                        log.warning("catalog.duckdb is locked by another process (%s)", exc)
                        return False
                    time.sleep(0.2)
            try:
                for table, glob in wanted:
                    con.execute(f"CREATE OR REPLACE VIEW {table} AS {_view_select(glob)}")
            finally:
                con.close()
        return True


def _view_select(glob: str) -> str:
    quoted = glob.replace("'", "''")
    return f"SELECT * FROM read_parquet('{quoted}', union_by_name = true)"
