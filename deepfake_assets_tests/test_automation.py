"""The new-source sensor, the backfill schedule and concurrent partitions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import dagster as dg

from deepfake_assets import cli
from deepfake_assets.definitions import defs
from deepfake_assets.registry import SourceRegistry
from deepfake_assets.resources import DataDirResource
from deepfake_assets.schedules import source_backfill_schedule, stale_sources
from deepfake_assets.sensors import new_source_sensor
from deepfake_assets_tests.conftest import make_dfdc_folder

RESOURCES = {"data": DataDirResource()}  # as the definitions give it: $DEEPFAKE_DATA_DIR


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("ingest_source").partitions_def is not None


def test_sensor_registers_a_new_folder_and_requests_its_run(data_env):
    make_dfdc_folder(data_env["sources"] / "My DFDC")
    (data_env["sources"] / "holiday_photos").mkdir()
    (data_env["sources"] / "holiday_photos" / "a.jpg").write_bytes(b"x")
    with dg.instance_for_test() as instance:
        result = new_source_sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert [r.partition_key for r in result.run_requests] == ["my-dfdc"]
        (request,) = result.dynamic_partitions_requests
        assert request.partition_keys == ["my-dfdc"]
        assert SourceRegistry().get("my-dfdc").format == "dfdc"
        instance.add_dynamic_partitions("source_datasets", ["my-dfdc"])

        # Next tick: nothing new, and the unrecognised folder is named in the skip reason.
        again = new_source_sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        reason = again.skip_reason.skip_message
        assert "holiday_photos" in reason and "unrecognised" in reason


def test_sensor_and_schedule_use_the_registry_of_the_data_resource(data_env, tmp_path):
    """The registry comes through the resource the assets use, not from the environment."""
    make_dfdc_folder(data_env["sources"] / "My DFDC")
    other = {"data": DataDirResource(data_dir=str(tmp_path / "other data"))}
    with dg.instance_for_test() as instance:
        result = new_source_sensor(dg.build_sensor_context(instance=instance, resources=other))
        assert [r.partition_key for r in result.run_requests] == ["my-dfdc"]
        assert SourceRegistry(tmp_path / "other data").get("my-dfdc").format == "dfdc"
        assert SourceRegistry().list() == []
        requests = source_backfill_schedule(
            dg.build_schedule_context(instance=instance, resources=other)
        )
        assert [r.partition_key for r in requests] == ["my-dfdc"]


def test_sensor_does_not_bring_back_a_removed_source(data_env):
    make_dfdc_folder(data_env["sources"] / "My DFDC")
    with dg.instance_for_test() as instance:
        new_source_sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert cli.main(["sources", "remove", "my-dfdc"]) == 0
        again = new_source_sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert not again.run_requests and SourceRegistry().list() == []
        assert "removed with `sources remove`" in again.skip_reason.skip_message
    # `sources add` takes it back, and then it is an ordinary source again.
    assert cli.main(["sources", "add", "my-dfdc", str(data_env["sources"] / "My DFDC")]) == 0
    assert SourceRegistry().removed_paths() == set()


def test_sensor_waits_for_a_folder_that_is_still_being_copied(data_env, monkeypatch):
    monkeypatch.setenv("DEEPFAKE_SOURCES_SETTLE_S", "3600")
    make_dfdc_folder(data_env["sources"] / "copying")
    with dg.instance_for_test() as instance:
        result = new_source_sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
    assert "still changing" in result.skip_reason.skip_message
    assert SourceRegistry().list() == []


def test_schedule_backfills_new_and_changed_sources_only(data_env, dfdc_folder):
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    instance = dg.DagsterInstance.get()
    registry = SourceRegistry()
    assert [s["why"] for s in stale_sources(instance, registry)] == ["never"]
    assert cli.main(["materialize", "--sources-only"]) == 0
    assert stale_sources(instance, registry) == []
    context = dg.build_schedule_context(instance=instance, resources=RESOURCES)
    assert isinstance(source_backfill_schedule(context), dg.SkipReason)

    # A new file appears in the source folder: the next tick re-runs that partition.
    shutil.copyfile(
        dfdc_folder / "dfdc_train_part_0" / "real.mp4",
        dfdc_folder / "dfdc_train_part_0" / "extra.mp4",
    )
    requests = source_backfill_schedule(
        dg.build_schedule_context(instance=instance, resources=RESOURCES)
    )
    assert [(r.partition_key, r.tags["deepfake_assets/trigger"]) for r in requests] == [
        ("tiny", "schedule:changed")
    ]


def test_two_partitions_materialised_at_the_same_time_both_succeed(data_env, tmp_path):
    for name in ("one", "two"):
        folder = make_dfdc_folder(tmp_path / name)
        assert cli.main(["sources", "add", name, str(folder)]) == 0
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deepfake_assets.cli",
                "materialize",
                "--source",
                name,
                "--sources-only",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("one", "two")
    ]
    deadline = time.monotonic() + 300
    outputs = [p.communicate(timeout=max(1, deadline - time.monotonic()))[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    from deepfake_assets.catalog import Catalog

    videos = Catalog().query("select source, count(*) as n from videos group by 1 order by 1")
    assert videos.to_dicts() == [{"source": "one", "n": 5}, {"source": "two", "n": 5}]


def test_sensor_registers_image_folders_like_video_folders(data_env):
    """A folder of real/ and fake/<method>/ images and a DFFD layout are recognised."""
    photos = data_env["sources"] / "faces"
    (photos / "real").mkdir(parents=True)
    (photos / "fake" / "stylegan").mkdir(parents=True)
    (photos / "real" / "a.jpg").write_bytes(b"x")
    (photos / "fake" / "stylegan" / "b.png").write_bytes(b"x")
    for sub in ("ffhq/train", "stylegan_ffhq/test"):
        (data_env["sources"] / "DFFD" / sub).mkdir(parents=True)
        (data_env["sources"] / "DFFD" / sub / "c.png").write_bytes(b"x")
    with dg.instance_for_test() as instance:
        result = new_source_sensor(dg.build_sensor_context(instance=instance, resources=RESOURCES))
        assert sorted(r.partition_key for r in result.run_requests) == ["dffd", "faces"]
        assert SourceRegistry().get("faces").format == "images"
        assert SourceRegistry().get("dffd").format == "dffd"
