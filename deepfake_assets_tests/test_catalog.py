from __future__ import annotations

import subprocess
import sys

import duckdb
import polars as pl

from deepfake_assets.catalog import Catalog

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
for line in sys.stdin:
    print(con.execute(line).fetchone()[0], flush=True)
"""


def test_rematerialising_a_partition_replaces_its_rows(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write("videos", pl.DataFrame({"video_id": ["a", "b"], "source": "s1"}), "s1")
    catalog.write("videos", pl.DataFrame({"video_id": ["c"], "source": "s2"}), "s2")
    catalog.write("videos", pl.DataFrame({"video_id": ["a", "b"], "source": "s1"}), "s1")
    assert sorted(catalog.read("videos")["video_id"].to_list()) == ["a", "b", "c"]
    with duckdb.connect(str(catalog.db_path), read_only=True) as con:
        assert con.execute("select count(*) from videos").fetchone()[0] == 3
    assert catalog.query("select count(*) as n from videos where source = 's1'")["n"][0] == 2


def test_a_user_holding_the_database_does_not_break_a_write(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write("videos", pl.DataFrame({"video_id": ["a"]}), "s1")
    # A user's read-write `duckdb` shell in another process holds the file lock.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(catalog.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        catalog.write("videos", pl.DataFrame({"video_id": ["b"]}), "s2")  # does not raise
        assert not catalog.refresh_views(wait_s=0.3)
        holder.stdin.write("select count(*) from videos\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "2"  # the new partition is visible
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert catalog.refresh_views()


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
