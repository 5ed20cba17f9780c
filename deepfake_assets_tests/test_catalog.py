from __future__ import annotations

import logging
import subprocess
import sys

import duckdb
import polars as pl

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
    catalog.write("sources", pl.DataFrame({"name": ["s1"]}))
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
        assert _ask(holder, "select count(*) from sources") == "1"
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
