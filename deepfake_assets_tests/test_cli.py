from __future__ import annotations

import json

import polars as pl
import pytest

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog, write_parquet_atomic
from deepfake_assets.registry import RegistryError, SourceRegistry
from deepfake_assets_tests.conftest import make_dfdc_folder


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


def _dffd_folder(root):
    for rel in ("ffhq/train/a.png", "stylegan_ffhq/test/b.png", "stylegan2_ffhq/test/c.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"png")
    return root


def test_dffd_folder_mapping_is_a_registered_option(data_env, tmp_path, capsys):
    folder = _dffd_folder(tmp_path / "dffd")
    assert cli.main(["sources", "add", "dffd", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "stylegan2_ffhq" in err and "--dffd-folder stylegan2_ffhq=" in err  # not guessed

    # another mapping is another registration: refused without --replace, naming the change
    mapping = ["--dffd-folder", "stylegan2_ffhq=FAKE,stylegan2"]
    assert cli.main(["sources", "add", "dffd", str(folder), *mapping]) == 2
    err = capsys.readouterr().err
    assert "dffd_folders: [] -> [stylegan2_ffhq=FAKE,stylegan2]" in err and "--replace" in err
    assert cli.main(["sources", "add", "dffd", str(folder), *mapping, "--replace"]) == 0
    captured = capsys.readouterr()
    assert "dffd_folders: [] -> [stylegan2_ffhq=FAKE,stylegan2]" in captured.out
    assert "stylegan2_ffhq" not in captured.err  # now mapped: nothing to warn about

    source = SourceRegistry().get("dffd")  # read back from sources.json
    assert [str(r) for r in source.dffd_folders] == ["stylegan2_ffhq=FAKE,stylegan2"]
    assert Catalog().read("sources")["dffd_folders"].to_list() == ["stylegan2_ffhq=FAKE,stylegan2"]
    assert cli.main(["sources", "list"]) == 0
    assert "folders: stylegan2_ffhq=FAKE,stylegan2" in capsys.readouterr().out
    assert cli.main(["sources", "add", "dffd", str(folder), *mapping]) == 0  # same: a no-op
    assert "nothing changed" in capsys.readouterr().out

    # the same rows from a file; a folder given both ways must agree
    (tmp_path / "m.csv").write_text("folder,label,method\nstylegan2_ffhq,FAKE,stylegan2\n")
    from_file = ["--dffd-folders", str(tmp_path / "m.csv")]
    assert cli.main(["sources", "add", "dffd", str(folder), *from_file, *mapping]) == 0
    clash = ["--dffd-folder", "stylegan2_ffhq=REAL"]
    assert cli.main(["sources", "add", "dffd", str(folder), *from_file, *clash]) == 2
    assert "mapped twice" in capsys.readouterr().err


def test_dffd_folder_mapping_is_refused_for_other_formats_and_bad_rows(
    data_env, dfdc_folder, capsys
):
    assert cli.main(["sources", "add", "x", str(dfdc_folder), "--dffd-folder", "a=REAL"]) == 2
    assert "only applies to --format dffd" in capsys.readouterr().err
    assert cli.main(["sources", "add", "x", str(dfdc_folder), "--dffd-folder", "a"]) == 2
    assert "FOLDER=LABEL" in capsys.readouterr().err
    assert SourceRegistry().list() == []


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

    # The run is in the Dagster instance, launched from the code location like a UI run, so
    # the UI's job pages, run-status sensors and re-execution know it.
    import dagster as dg
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

    instance = dg.DagsterInstance.get()
    (run,) = instance.get_runs()
    assert run.tags.get("dagster/partition") == "tiny"
    assert run.status == dg.DagsterRunStatus.SUCCESS
    origin = run.remote_job_origin
    assert origin is not None and run.job_code_origin is not None
    assert (origin.location_name, origin.job_name) == ("deepfake_assets", "ingest_source")
    assert origin.repository_origin.repository_name == "__repository__"
    assert (
        run.job_code_origin.repository_origin.code_pointer.module == "deepfake_assets.definitions"
    )
    # what the UI's Jobs page asks the instance for
    label = "__repository__@deepfake_assets"
    ui_query = dg.RunsFilter(job_name="ingest_source", tags={REPOSITORY_LABEL_TAG: label})
    assert [r.run_id for r in instance.get_runs(ui_query)] == [run.run_id]
    assert "videos - tiny: 5 videos listed by the dfdc adapter" in out  # its event log, streamed

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


# -- re-adding a source (issue 14, item 4) ---------------------------------------------------
def test_re_adding_with_other_options_refuses_and_keeps_the_registration(
    data_env, dfdc_folder, capsys
):
    args = ["sources", "add", "s", str(dfdc_folder), "--test-only", "--sampling", "balanced"]
    assert cli.main([*args, "--notes", "held out"]) == 0
    capsys.readouterr()
    assert cli.main(["sources", "add", "s", str(dfdc_folder)]) == 2
    err = capsys.readouterr().err
    assert "--replace" in err and "test_only: True -> False" in err
    assert "sampling: 'balanced' -> None" in err
    source = SourceRegistry().get("s")
    assert source.test_only and source.sampling == "balanced" and source.notes == "held out"


def test_re_adding_with_the_same_options_is_a_no_op_that_says_so(data_env, dfdc_folder, capsys):
    args = ["sources", "add", "s", str(dfdc_folder), "--test-only", "--sampling", "balanced"]
    assert cli.main(args) == 0
    added_at = SourceRegistry().get("s").added_at
    capsys.readouterr()
    assert cli.main(args) == 0
    assert "already registered with these options; nothing changed" in capsys.readouterr().out
    assert SourceRegistry().get("s").added_at == added_at


def test_replace_applies_the_new_options_and_prints_what_changed(data_env, dfdc_folder, capsys):
    assert cli.main(["sources", "add", "s", str(dfdc_folder), "--test-only"]) == 0
    capsys.readouterr()
    assert cli.main(["sources", "add", "s", str(dfdc_folder), "--replace", "--notes", "n"]) == 0
    out = capsys.readouterr().out
    assert "test_only: True -> False" in out and "notes: '' -> 'n'" in out
    source = SourceRegistry().get("s")
    assert not source.test_only and source.notes == "n"


def test_re_adding_a_name_with_another_folder_points_to_replace(data_env, dfdc_folder, tmp_path):
    SourceRegistry().add("s", dfdc_folder)
    other = make_dfdc_folder(tmp_path / "other")
    with pytest.raises(RegistryError, match="--replace"):
        SourceRegistry().add("s", other)
    assert SourceRegistry().get("s").path == str(dfdc_folder.resolve())


# -- removing a source (issue 14, item 2) ----------------------------------------------------
def _fill_source_files(data_dir, name: str) -> list:
    """What a source's runs leave: catalog partitions, crops, masks and staged work (written as
    a run does, or as a run's last write that passed the registration check just before the
    source was removed)."""
    catalog = Catalog(data_dir)
    for table in ("videos", "faces", "fake_groups"):
        frame = pl.DataFrame({"video_id": ["v"], "source": name})
        write_parquet_atomic(frame, catalog.partition_path(table, name))
    folders = [data_dir / "faces" / name, data_dir / "masks" / name, data_dir / "work" / name]
    for folder in folders:
        (folder / "v").mkdir(parents=True)
        (folder / "v" / "0.png").write_bytes(b"png")
    return folders


def test_remove_drops_catalog_rows_crops_and_staged_work(data_env, dfdc_folder, capsys):
    assert cli.main(["sources", "add", "k", str(dfdc_folder)]) == 0
    assert cli.main(["sources", "add", "a", str(make_dfdc_folder(dfdc_folder.parent / "a"))]) == 0
    folders = _fill_source_files(data_env["data"], "k")
    kept = _fill_source_files(data_env["data"], "a")
    capsys.readouterr()
    assert cli.main(["sources", "remove", "k"]) == 0
    out = capsys.readouterr().out
    assert "faces, fake_groups, videos" in out and "faces/k" in out
    assert not any(folder.exists() for folder in folders)
    assert all(folder.exists() for folder in kept)
    catalog = Catalog()
    assert catalog.partitions("faces") == ["a"]
    assert catalog.read("videos")["source"].to_list() == ["a"]


def test_remove_of_an_unregistered_name_cleans_its_leftovers(data_env, dfdc_folder, capsys):
    """A run of `k` that went on after `k` was removed left files; `remove k` again clears them
    instead of saying 'no source named k'."""
    assert cli.main(["sources", "add", "k", str(dfdc_folder)]) == 0
    assert cli.main(["sources", "remove", "k"]) == 0
    folders = _fill_source_files(data_env["data"], "k")  # the late writes
    capsys.readouterr()
    assert cli.main(["sources", "remove", "k"]) == 0
    assert "not registered" in capsys.readouterr().out
    assert not any(folder.exists() for folder in folders)
    assert Catalog().partitions("faces") == []
    assert cli.main(["sources", "remove", "k"]) == 2
    assert "no source named 'k'" in capsys.readouterr().err


def test_remove_of_a_name_that_is_not_a_slug_touches_nothing(data_env, capsys):
    victim = data_env["data"] / "faces" / "x"
    victim.mkdir(parents=True)
    assert cli.main(["sources", "remove", "../faces"]) == 2
    assert victim.exists()


def test_remove_refuses_while_a_run_of_the_source_is_in_flight(data_env, dfdc_folder, capsys):
    import dagster as dg

    from deepfake_assets.definitions import defs

    assert cli.main(["sources", "add", "k", str(dfdc_folder)]) == 0
    folders = _fill_source_files(data_env["data"], "k")
    instance = dg.DagsterInstance.get()
    run = instance.create_run_for_job(
        defs.resolve_job_def("ingest_source"),
        tags={"dagster/partition": "k"},
        status=dg.DagsterRunStatus.STARTED,
    )
    capsys.readouterr()
    assert cli.main(["sources", "remove", "k"]) == 2
    err = capsys.readouterr().err
    assert run.run_id in err and "--force" in err
    assert SourceRegistry().find("k") is not None and all(f.exists() for f in folders)
    assert cli.main(["sources", "remove", "k", "--force"]) == 0
    assert SourceRegistry().find("k") is None and not any(f.exists() for f in folders)


def test_a_bad_run_config_file_is_its_own_error_not_a_registry_one(data_env, tmp_path, capsys):
    """A broken --config file says so (exit 2) without posing as a source registry problem."""
    bad = tmp_path / "run.yaml"
    bad.write_text("ops: [not, a, mapping]\n")
    with pytest.raises(cli.RunConfigError) as caught:
        cli.load_run_config(bad)
    assert not isinstance(caught.value, cli.RegistryError)
    unreadable = tmp_path / "broken.yaml"
    unreadable.write_text("ops: {a: [\n")
    assert cli.main(["materialize", "--config", str(unreadable)]) == 2
    assert "cannot read run config" in capsys.readouterr().err


def test_one_run_config_error_for_a_file_that_reads_and_one_that_does_not(
    data_env, dfdc_folder, tmp_path, capsys
):
    """Unreadable, or readable but naming an op no job has: the same error type, exit 2,
    before any run starts."""
    from deepfake_assets import run_config

    assert cli.RunConfigError is run_config.RunConfigError
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    capsys.readouterr()
    typo = tmp_path / "typo.yaml"
    typo.write_text("ops: {fold_split: {config: {seed: 3}}}\n")
    assert cli.main(["materialize", "--config", str(typo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid run config") and "fold_split" in err
    import dagster as dg

    assert dg.DagsterInstance.get().get_runs() == []


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
