from __future__ import annotations

import json

import polars as pl
import pytest

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog
from deepfake_assets.registry import RegistryError, SourceRegistry


def test_sources_add_list_remove(data_env, dfdc_folder, capsys):
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder), "--test-only"]) == 0
    source = SourceRegistry().get("tiny")
    assert source.format == "dfdc" and source.test_only
    assert Catalog().read("sources")["name"].to_list() == ["tiny"]
    import dagster as dg

    instance = dg.DagsterInstance.get()
    assert instance.get_dynamic_partitions("source_datasets") == ["tiny"]

    assert cli.main(["sources", "list"]) == 0
    assert "tiny" in capsys.readouterr().out

    assert cli.main(["sources", "remove", "tiny"]) == 0
    assert SourceRegistry().list() == []
    assert instance.get_dynamic_partitions("source_datasets") == []


def test_bad_registrations_give_clear_errors(data_env, tmp_path, capsys):
    (tmp_path / "random").mkdir()
    assert cli.main(["sources", "add", "x", str(tmp_path / "random")]) == 2
    assert "cannot recognise the layout" in capsys.readouterr().err
    with pytest.raises(RegistryError, match="slug"):
        SourceRegistry().add("Bad Name", tmp_path)
    with pytest.raises(RegistryError, match="not a folder"):
        SourceRegistry().add("x", tmp_path / "nope")


def test_materialize_records_hostile_entries_and_exits_zero(data_env, dfdc_folder, capsys):
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    assert cli.main(["materialize", "--source", "tiny", "--sources-only"]) == 0
    out = capsys.readouterr().out
    assert "tiny: 5 videos" in out
    videos = Catalog().read("videos", "tiny")
    status = dict(zip(videos["video_id"], videos["status"], strict=True))
    assert status["real"] == "ok" and status["fake"] == "ok"
    assert status["broken"] == "unreadable"
    assert status["lost"] == "missing"
    escape = videos.filter(pl.col("rel_path").str.contains("escape"))
    assert escape["status"].to_list() == ["rejected"]
    assert "outside the dataset" in escape["reason"][0]
    assert videos.filter(pl.col("video_id") == "lost")["orphan_fake"].to_list() == [True]
    real = videos.filter(pl.col("video_id") == "real").row(0, named=True)
    assert (real["width"], real["height"], real["frame_count"]) == (160, 160, 12)

    # The run is in the Dagster instance, so the UI shows it.
    import dagster as dg

    runs = dg.DagsterInstance.get().get_runs()
    assert [r.tags.get("dagster/partition") for r in runs] == ["tiny"]

    # Re-materialising replaces rows instead of duplicating them.
    assert cli.main(["materialize", "--source", "tiny", "--sources-only"]) == 0
    assert Catalog().read("videos").height == 5


def test_materialize_fails_when_the_source_folder_is_gone(data_env, dfdc_folder, capsys):
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    (dfdc_folder / "dfdc_train_part_0" / "metadata.json").write_text("{ not json")
    assert cli.main(["materialize", "--source", "tiny", "--sources-only"]) == 1
    err = capsys.readouterr().err
    assert "metadata.json" in err and "FAILED" in err


def test_unknown_source_is_an_error(data_env, capsys):
    assert cli.main(["materialize", "--source", "nope"]) == 2
    assert "no source named 'nope'" in capsys.readouterr().err


def test_registry_file_is_plain_json(data_env, dfdc_folder):
    SourceRegistry().add("tiny", dfdc_folder, "dfdc", sampling="uniform", notes="n")
    payload = json.loads((data_env["data"] / "sources.json").read_text())
    assert payload["sources"][0]["sampling"] == "uniform"


def test_sources_add_per_part_registers_each_part_folder(data_env, tmp_path, capsys):
    import shutil

    import dagster as dg

    from deepfake_assets_tests.conftest import make_dfdc_folder

    root = make_dfdc_folder(tmp_path / "dfdc")  # dfdc/dfdc_train_part_0
    shutil.copytree(root / "dfdc_train_part_0", root / "dfdc_train_part_1")
    (root / "notes").mkdir()  # no layout: not a part
    assert cli.main(["sources", "add", "dfdc", str(root), "--per-part", "--test-only"]) == 0
    sources = {s.name: s for s in SourceRegistry().list()}
    assert sorted(sources) == ["dfdc-0", "dfdc-1"]
    assert sources["dfdc-1"].root == (root / "dfdc_train_part_1").resolve()
    assert all(s.format == "dfdc" and s.test_only for s in sources.values())
    partitions = dg.DagsterInstance.get().get_dynamic_partitions("source_datasets")
    assert sorted(partitions) == ["dfdc-0", "dfdc-1"]
    assert "registered 2 part folders" in capsys.readouterr().out
    # a folder without parts says so
    assert cli.main(["sources", "add", "x", str(root / "notes"), "--per-part"]) == 2
    assert "no sub-folder" in capsys.readouterr().err
