from __future__ import annotations

import logging
import subprocess
import sys

import duckdb
import polars as pl
import pytest

from deepfake_assets.catalog import Catalog

HOLDER = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
for line in sys.stdin:
    print(con.execute(line).fetchone()[0], flush=True)
os._exit(0)  # ends like a killed shell: what it wrote stays in its write-ahead log
"""


def _hold(db_path, mode: str) -> subprocess.Popen:
    """Another process with `catalog.duckdb` open, answering one SQL query per input line."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db_path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def _ask(holder: subprocess.Popen, sql: str) -> str:
    holder.stdin.write(sql + "\n")
    holder.stdin.flush()
    return holder.stdout.readline().strip()


def _views(db_path) -> set[str]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {
            r[0]
            for r in con.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        }


def test_rematerialising_a_partition_replaces_its_rows(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write("videos", pl.DataFrame({"video_id": ["a", "b"], "source": "s1"}), "s1")
    catalog.write("videos", pl.DataFrame({"video_id": ["c"], "source": "s2"}), "s2")
    catalog.write("videos", pl.DataFrame({"video_id": ["a", "b"], "source": "s1"}), "s1")
    assert sorted(catalog.read("videos")["video_id"].to_list()) == ["a", "b", "c"]
    with duckdb.connect(str(catalog.db_path), read_only=True) as con:
        assert con.execute("select count(*) from videos").fetchone()[0] == 3
    assert catalog.query("select count(*) as n from videos where source = 's1'")["n"][0] == 2


def test_views_are_rebuilt_while_a_reader_holds_the_database(tmp_path, caplog):
    catalog = Catalog(tmp_path)
    (tmp_path / ".catalog.duckdb.999999.tmp").write_bytes(b"a build killed mid-way")
    catalog.write("sources", pl.DataFrame({"name": ["s1", "s2"]}))
    catalog.write("videos", pl.DataFrame({"video_id": ["a"]}), "s1")
    # A user's `duckdb -readonly` shell (or read_only=True) in another process holds the file.
    holder = _hold(catalog.db_path, "ro")
    try:
        with caplog.at_level(logging.WARNING, logger="deepfake_assets.catalog"):
            catalog.write("videos", pl.DataFrame({"video_id": ["b"]}), "s2")
            catalog.write("faces", pl.DataFrame({"face_id": ["f"]}), "s1")  # a new table
            catalog.write("splits", pl.DataFrame({"face_id": ["f"], "split": ["train"]}))
        assert not [r for r in caplog.records if "locked" in r.getMessage()]
        # every view, in a fresh connection, while the reader still holds its file
        assert _views(catalog.db_path) == {"sources", "videos", "faces", "splits"}
        # the reader keeps working on the file it opened; its views see new partitions
        assert _ask(holder, "select count(*) from videos") == "2"
        assert _ask(holder, "select count(*) from sources") == "2"
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert _views(catalog.db_path) == {"sources", "videos", "faces", "splits"}
    assert not list(tmp_path.glob(".catalog.duckdb.*"))  # no temporary database left


def test_a_read_write_shell_does_not_break_a_write(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write("videos", pl.DataFrame({"video_id": ["a"]}), "s1")
    # A user's read-write `duckdb` shell holds the file lock and even writes into the file.
    holder = _hold(catalog.db_path, "rw")
    try:
        catalog.write("videos", pl.DataFrame({"video_id": ["b"]}), "s2")  # does not wait
        assert _ask(holder, "select count(*) from videos") == "2"  # the new partition is visible
        assert _ask(holder, "create table mine as select 1") == "1"  # left in its log
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    catalog.write("faces", pl.DataFrame({"face_id": ["f"]}), "s1")
    # the shell's log of a replaced file does not stop the new one from opening
    assert _views(catalog.db_path) == {"videos", "faces"}


def test_deleting_a_partition_drops_only_its_rows(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write("videos", pl.DataFrame({"video_id": ["a"]}), "s1")
    catalog.write("faces", pl.DataFrame({"video_id": ["a"]}), "s1")
    catalog.write("videos", pl.DataFrame({"video_id": ["b"]}), "s2")
    assert sorted(catalog.delete_partition("s1")) == ["faces", "videos"]
    assert catalog.read("videos")["video_id"].to_list() == ["b"]


def test_require_tells_a_partition_never_written_from_an_empty_one(tmp_path):
    import pytest

    from deepfake_assets.catalog import MissingPartitionError

    catalog = Catalog(tmp_path)
    with pytest.raises(
        MissingPartitionError, match=r"no `faces` table for 's' yet: .*`face_crops`"
    ):
        catalog.require("faces", "s", writer="face_crops")
    catalog.write("faces", pl.DataFrame(schema={"face_id": pl.Utf8, "track": pl.Int32}), "s")
    empty = catalog.require("faces", "s", writer="face_crops")
    assert empty.height == 0 and empty.schema == {"face_id": pl.Utf8, "track": pl.Int32}


def _register(data_dir, *names):
    from deepfake_assets.registry import SourceRegistry

    registry = SourceRegistry(data_dir)
    for name in names:
        folder = data_dir.parent / f"folder_{name}"
        folder.mkdir(exist_ok=True)
        registry.add(name, folder, "manifest")
    return registry


def test_reads_over_all_sources_ignore_a_removed_sources_late_write(tmp_path):
    """A run of a removed source that writes its partition after the removal (it passed every
    guard before) must not reach duplicate_groups, actor_clusters, fold_splits or the export:
    every read over all sources, and every view, takes only registered partitions."""
    from deepfake_assets.catalog import write_parquet_atomic

    data_dir = tmp_path / "data"
    registry = _register(data_dir, "a", "k")
    catalog = Catalog(data_dir)
    catalog.write("faces", pl.DataFrame({"face_id": ["a1"], "source": "a"}), "a")
    registry.remove("k")
    # The late write, as a run in k's faces step would do it when it ends.
    write_parquet_atomic(
        pl.DataFrame({"face_id": ["k1"], "source": "k"}), catalog.partition_path("faces", "k")
    )
    assert catalog.read("faces")["face_id"].to_list() == ["a1"]
    assert catalog.query("select face_id from faces")["face_id"].to_list() == ["a1"]
    catalog.refresh_views()
    with duckdb.connect(str(catalog.db_path), read_only=True) as con:
        assert con.execute("select list(face_id) from faces").fetchone()[0] == ["a1"]
    assert catalog.registered_sources() == frozenset({"a"})
    # The removed source's own partition stays readable by name, for the cleanup.
    assert catalog.read("faces", "k")["face_id"].to_list() == ["k1"]


def test_a_removed_source_cannot_write_its_partition(tmp_path):
    from deepfake_assets.catalog import CatalogError

    data_dir = tmp_path / "data"
    registry = _register(data_dir, "a", "k")
    registry.remove("k")
    catalog = Catalog(data_dir)
    with pytest.raises(CatalogError, match="'k' is not a registered source"):
        catalog.write("faces", pl.DataFrame({"face_id": ["k1"]}), "k")
    assert not catalog.partition_path("faces", "k").exists()


def test_views_survive_the_removal_of_every_partition_file(tmp_path):
    data_dir = tmp_path / "data"
    registry = _register(data_dir, "a")
    catalog = Catalog(data_dir)
    catalog.write("videos", pl.DataFrame({"video_id": ["v"], "source": "a"}), "a")
    registry.remove("a")
    catalog.delete_partition("a")
    with duckdb.connect(str(catalog.db_path), read_only=True) as con:
        assert con.execute("select count(*) from sources").fetchone()[0] == 0
        sql = "select view_name from duckdb_views() where not internal"
        views = {r[0] for r in con.execute(sql).fetchall()}
    assert "videos" not in views
