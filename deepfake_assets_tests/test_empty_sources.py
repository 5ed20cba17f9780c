"""A source that lists nothing, or nothing usable, or has one unreadable part (issue 14.6-7).

Every per-source stage must accept an empty partition and write an empty table with the schema a
non-empty run writes, so the stages over all sources can read both alike.
"""

from __future__ import annotations

import json

import dagster as dg
import polars as pl

from deepfake_assets import cli
from deepfake_assets.catalog import PARTITIONED_TABLES, Catalog


def test_header_only_manifest_runs_every_per_source_stage_to_empty_tables(
    data_env, dfdc_folder, tmp_path, capsys
):
    empty = tmp_path / "empty_manifest"
    empty.mkdir()
    (empty / "manifest.csv").write_text("path,label,original\n")
    assert cli.main(["sources", "add", "empty", str(empty)]) == 0
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    assert cli.main(["materialize", "--sources-only"]) == 0
    captured = capsys.readouterr()
    assert "empty: 0 videos listed" in captured.out
    assert "materialise" not in captured.out + captured.err

    catalog = Catalog()
    for table in PARTITIONED_TABLES:
        assert catalog.has(table, "empty"), f"no {table} partition for the empty source"
        got = catalog.read(table, "empty")
        assert got.height == 0, table
        # the same schema as a source with videos, so readers over all sources see one table
        assert got.schema == catalog.read(table, "tiny").schema, table


def test_a_source_with_no_usable_video_and_one_unreadable_part_succeeds(data_env, tmp_path, capsys):
    root = tmp_path / "parts"
    for part, name in (("part_0", "a.mp4"), ("part_2", "c.mp4")):
        (root / part).mkdir(parents=True)
        (root / part / "metadata.json").write_text(json.dumps({name: {"label": "REAL"}}))
    (root / "part_1").mkdir()
    (root / "part_1" / "metadata.json").write_text('{"b.mp4": {"label": "RE')
    (root / "part_0" / "metadata.json").write_text(
        '{"a.mp4": {"label": "REAL"}, "x.mp4": {"label": null}, "y.mp4": {"label": ""}}'
    )

    assert cli.main(["sources", "add", "parts", str(root)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "part_1/metadata.json" in err and "invalid JSON" in err

    assert cli.main(["materialize", "--sources-only"]) == 0
    out = capsys.readouterr().out
    assert "part_1/metadata.json" in out  # the run summary names the unreadable part

    videos = Catalog().read("videos", "parts")
    status = dict(zip(videos["rel_path"], videos["status"], strict=True))
    assert status == {
        "part_0/a.mp4": "missing",
        "part_0/x.mp4": "rejected",
        "part_0/y.mp4": "rejected",
        "part_1/metadata.json": "rejected",
        "part_2/c.mp4": "missing",
    }
    part_1 = videos.filter(pl.col("rel_path") == "part_1/metadata.json").row(0, named=True)
    assert "invalid JSON" in part_1["reason"] and "not listed" in part_1["reason"]

    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey("videos"))
    metadata = event.asset_materialization.metadata
    problems = metadata["metadata_problems"].value
    assert [p["path"] for p in problems] == ["part_1/metadata.json"]
    assert metadata["num_rejected"].value == 3
