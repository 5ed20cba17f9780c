"""The catalog: Parquet files that runs write, and a DuckDB file whose views read them.

DuckDB lets one process write a database file at a time, and a user with the `duckdb` CLI open
holds a lock on it. So no run ever opens `catalog.duckdb` for writing: each partition of each table
is one Parquet file, replaced atomically (written under a temporary name, then renamed), and
`catalog.duckdb` only holds views over `catalog/<table>/*.parquet`, rebuilt as a new file that is
renamed over the old one (`refresh_views`). Two partitions materialised at
once write different files; a user querying while a run writes sees the old or the new file,
never half of one; re-materialising a partition replaces its file, never duplicates its rows.

Layout under `$DEEPFAKE_DATA_DIR`:
    catalog/<table>/<partition>.parquet   per source dataset (videos, frames, faces, ...)
    catalog/<table>/_all.parquet          tables over all sources (actors, splits, ...)
    catalog.duckdb                        views named after the tables

Reads over all sources (what duplicate_groups, actor_clusters, fold_splits and the export see,
and the views) take only the partitions of REGISTERED sources, the names in the `sources` table
(the registry's mirror, written with every registry change). A run of a removed source that
writes its partition late can leave a file behind, never rows in the dataset; `sources remove`
of that name clears it. A data directory without a registry (a hand-made catalog) reads every
partition.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
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
    "fake_embeddings",
    "fake_residuals",
    "fake_groups",
)
GLOBAL_TABLES = (
    "sources",
    "duplicates",
    "actors",
    "video_actors",
    "fake_identities",
    "splits",
    "folds",
    "split_drops",
)
ALL_PARTITIONS = "_all"


class CatalogError(RuntimeError):
    """A catalog operation that cannot go on (bad table name, unreadable file)."""


class MissingPartitionError(CatalogError):
    """A partition that was never written (its asset has not run), as opposed to an empty one."""


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


def pid_alive(pid: int) -> bool:
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
            if match and not pid_alive(int(match.group(1))):
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
        """Every partition file of a table, registered or not (the cleanup needs them all)."""
        folder = self.table_dir(table)
        if not folder.exists():
            return []
        return sorted(p.stem for p in folder.glob("*.parquet") if not p.name.startswith("."))

    def registered_sources(self) -> frozenset[str] | None:
        """The registered source names, from the registry's mirror in the `sources` table;
        None when this data directory has no registry (then every partition counts)."""
        path = self.partition_path("sources")
        if not path.exists():
            return None
        return frozenset(pl.read_parquet(path, columns=["name"])["name"].to_list())

    def registered_partition_files(self, table: str) -> list[Path]:
        """The files a read of `table` over all sources takes: `_all` for tables over all
        sources, the registered sources' partitions for per-source tables."""
        if table in GLOBAL_TABLES:
            return [self.partition_path(table)] if self.has(table) else []
        registered = self.registered_sources()
        return [
            self.partition_path(table, p)
            for p in self.partitions(table)
            if registered is None or p in registered
        ]

    # -- writing -------------------------------------------------------------------------------
    def write(self, table: str, df: pl.DataFrame, partition: str = ALL_PARTITIONS) -> Path:
        """Replace one partition of a table (all of it for tables over all sources).

        A per-source partition is only written while its source is registered: a run that goes
        on after `sources remove` fails here with the reason instead of leaving rows behind.
        """
        if table in PARTITIONED_TABLES:
            registered = self.registered_sources()
            if registered is not None and partition not in registered:
                raise CatalogError(
                    f"{partition!r} is not a registered source (removed while this run was in "
                    f"flight?): not writing its {table!r} rows; `deepfake-assets sources remove "
                    f"{partition}` clears what its runs left"
                )
        path = write_parquet_atomic(df, self.partition_path(table, partition))
        self.refresh_views()
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
        """One partition, or the whole table (the registered sources' partitions) when
        `partition` is None.

        Reads the Parquet files directly, so it never waits on the DuckDB file lock. An absent
        table reads as an empty frame.
        """
        if partition is not None:
            path = self.partition_path(table, partition)
            return pl.read_parquet(path) if path.exists() else pl.DataFrame()
        paths = self.registered_partition_files(table)
        if not paths:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(p) for p in paths], how="diagonal_relaxed")

    def require(self, table: str, partition: str = ALL_PARTITIONS, *, writer: str) -> pl.DataFrame:
        """One partition that must have been written, by the asset ``writer``.

        A source that lists no videos (or no usable ones) writes empty tables with their
        schema, and that is a valid input: only an absent file means "not materialised yet".
        ``read`` cannot tell the two apart (both are empty frames), so stages use this.
        """
        path = self.partition_path(table, partition)
        if not path.exists():
            what = f"for {partition!r}" if partition != ALL_PARTITIONS else "over all sources"
            raise MissingPartitionError(
                f"no `{table}` table {what} yet: materialise `{writer}` first"
            )
        return pl.read_parquet(path)

    def has(self, table: str, partition: str = ALL_PARTITIONS) -> bool:
        return self.partition_path(table, partition).exists()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with every table as a view: lock-free SQL for code."""
        con = duckdb.connect()
        for table in PARTITIONED_TABLES + GLOBAL_TABLES:
            files = self.registered_partition_files(table)
            if files:
                con.execute(f"CREATE VIEW {table} AS {_files_select(files)}")
        return con

    def query(self, sql: str) -> pl.DataFrame:
        with contextlib.closing(self.connect()) as con:
            return con.sql(sql).pl()

    # -- views in catalog.duckdb ---------------------------------------------------------------
    def _view_sources(self) -> list[tuple[str, str]]:
        """(table, SELECT) for every table with files. Views of per-source tables read a glob,
        so a new partition shows without touching the database, and keep only the partitions
        whose name is in the `sources` table at query time, so a removed source's late file
        never shows."""
        sources = self.partition_path("sources")
        out = []
        for table in PARTITIONED_TABLES + GLOBAL_TABLES:
            if not self.partitions(table):
                continue
            glob = str(self.table_dir(table) / "*.parquet")
            registered = sources if table in PARTITIONED_TABLES and sources.exists() else None
            out.append((table, _view_select(glob, registered)))
        return out

    def refresh_views(self) -> None:
        """Rebuild `catalog.duckdb` with a view for every table that has files.

        The views are written into a new database file under a temporary name, which is then
        renamed over `catalog.duckdb`; nothing ever opens `catalog.duckdb` for writing. So a
        reader holding the file open (a `duckdb` shell, a notebook) never blocks a run and never
        sees a database with some views missing: it keeps the file it opened (its views name
        globs, so new partitions of those tables show up), and the next connection opens the new
        file with every view.
        """
        with _file_lock(self.data_dir / ".catalog.lock"):
            # listed under the lock: a rebuild that started earlier cannot rename an older list
            # over a newer one
            wanted = self._view_sources()
            if not wanted and not self.db_path.exists():
                return
            # builds run under the lock, so any temporary database here is a killed build's
            for stale in self.data_dir.glob(f".{self.db_path.name}.*.tmp"):
                _remove_database_files(stale)
            tmp = self.db_path.with_name(f".{self.db_path.name}.{os.getpid()}.tmp")
            try:
                con = duckdb.connect(str(tmp))
                try:
                    # a fresh file: tables without files (all partitions removed) get no view,
                    # since a view over a glob that matches nothing fails every query
                    for table, select in wanted:
                        con.execute(f"CREATE VIEW {table} AS {select}")
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                os.replace(tmp, self.db_path)
                # A write-ahead log at the path belongs to the file just replaced (a read-write
                # shell that wrote into it): DuckDB refuses to open the new file next to it.
                Path(f"{self.db_path}.wal").unlink(missing_ok=True)
            finally:
                _remove_database_files(tmp)


def _remove_database_files(path: Path) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)


def _quote(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


_PARTITION_FILE = "_partition_file"


def _view_select(glob: str, registered: Path | None = None) -> str:
    """All files of `glob`, or (with `registered`, the `sources` table's file) only those whose
    partition name is a registered source's."""
    if registered is None:
        return f"SELECT * FROM read_parquet({_quote(glob)}, union_by_name = true)"
    return (
        f"SELECT * EXCLUDE ({_PARTITION_FILE}) FROM read_parquet({_quote(glob)}, "
        f"union_by_name = true, filename = '{_PARTITION_FILE}') "
        f"WHERE parse_filename({_PARTITION_FILE}, true) IN "
        f"(SELECT name FROM read_parquet({_quote(registered)}))"
    )


def _files_select(files: list[Path]) -> str:
    listed = ", ".join(_quote(f) for f in files)
    return f"SELECT * FROM read_parquet([{listed}], union_by_name = true)"
