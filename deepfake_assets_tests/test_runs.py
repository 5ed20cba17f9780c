"""CLI runs behave like Dagster runs: dead ones are failed, bad config stops at once, and the
automation knows what it is for."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog
from deepfake_assets.run_launcher import (
    Liveness,
    LocalRunLauncher,
    fail_dead_runs,
    pid_runs_since,
    worker_state,
)
from deepfake_assets_tests.conftest import make_dfdc_folder

REPO_INSTANCE_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def _failure_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        record.event_log_entry.message
        for record in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
    ]


def _start_a_cli_run_and_kill_everything(source: str) -> tuple[dg.DagsterRun, int]:
    """`deepfake-assets materialize` in its own process group, SIGKILLed once its run started.

    Returns the run (as it was before the kill) and its worker's pid, once that is gone.
    """
    instance = dg.DagsterInstance.get()
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepfake_assets.cli", "materialize", "--source", source],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        run = None
        while time.monotonic() < deadline and proc.poll() is None:
            started = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            if started and worker_state(instance, started[0]).liveness is Liveness.ALIVE:
                run = started[0]
                break
            time.sleep(0.2)
        assert run is not None and proc.poll() is None, "the run ended before it could be killed"
        # A live run is never failed.
        assert fail_dead_runs(instance) == []
        pid = worker_state(instance, run).pid
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its code server and the run worker
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while pid_runs_since(pid, time.time()) and time.monotonic() < deadline:
        time.sleep(0.1)  # SIGKILL is delivered asynchronously
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    return run, pid


@pytest.mark.slow
def test_a_killed_run_is_marked_failed_by_the_next_cli_command(data_env, tmp_path, capsys):
    assert cli.main(["sources", "add", "tiny", str(make_dfdc_folder(tmp_path / "a"))]) == 0
    run, pid = _start_a_cli_run_and_kill_everything("tiny")

    # Any command that opens the instance (here: registering another source) fails it.
    assert cli.main(["sources", "add", "other", str(make_dfdc_folder(tmp_path / "b"))]) == 0
    instance = dg.DagsterInstance.get()
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    (message,) = _failure_messages(instance, run.run_id)
    assert f"pid {pid}" in message and "is gone" in message
    assert f"marked run {run.run_id} failed" in capsys.readouterr().err
    assert fail_dead_runs(instance) == []  # once


@pytest.mark.slow
def test_the_daemons_run_monitoring_fails_a_killed_run(data_env, tmp_path):
    """The repository's dagster.yaml: LocalRunLauncher + run monitoring, as the daemon runs it."""
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    shutil.copyfile(REPO_INSTANCE_YAML, data_env["home"] / "dagster.yaml")
    assert cli.main(["sources", "add", "tiny", str(make_dfdc_folder(tmp_path / "a"))]) == 0
    instance = dg.DagsterInstance.get()
    assert isinstance(instance.run_launcher, LocalRunLauncher)
    assert instance.run_monitoring_enabled
    run, pid = _start_a_cli_run_and_kill_everything("tiny")

    # One iteration of the daemon's monitoring of a STARTED run (no resume: attempts are 0).
    record = instance.get_run_record_by_id(run.run_id)
    monitor_started_run(instance, None, record, logging.getLogger("test.run_monitoring"))
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    (message,) = _failure_messages(instance, run.run_id)
    assert "Detected run worker status FAILED" in message and f"pid {pid}" in message


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ops:\n  fold_split: {config: {seed: 3}}\n",
            ["unknown op 'fold_split' under ops (did you mean 'fold_splits'?)", "valid op names:"],
        ),
        ("ops:\n  face_crops: {config: {workers: 1}}\n", ["unknown op 'face_crops'"]),
        (
            "ops:\n  fold_splits: {config: {sed: 3}}\n",
            [
                "unknown key 'sed' in ops.fold_splits.config (did you mean 'seed'?)",
                "valid keys: donors, level_1, n_folds, pin_official_splits, search_restarts, seed, "
                "test, train, unknown_donors, val",
            ],
        ),
        (
            "ops:\n  face_detections_and_crops: {config: {workers: many}}\n",
            ["ops.face_detections_and_crops.config.workers:", "many"],
        ),
        (
            "ops:\n  sampled_frames: {config: {strategy: random}}\n",
            ["ops.sampled_frames.config.strategy", "random"],
        ),
        (
            "ops:\n  exported_dataset: {config: {formats: [hf, tfrecord]}}\n",
            ["ops.exported_dataset.config.formats", "tfrecord"],
        ),
        (
            "ops:\n  exported_dataset: {config: {x: 1}}\n",
            ["unknown key 'x' in ops.exported_dataset.config", "valid keys: "],
        ),
    ],
)
def test_config_mistakes_fail_before_anything_runs(
    data_env, dfdc_folder, tmp_path, capsys, text, expected
):
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    config = _write(tmp_path, text)
    assert cli.main(["materialize", "--sources-only", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    for line in expected:
        assert line in err
    if "unknown op" in err:  # every valid name is listed
        for name in ("face_detections_and_crops", "fold_splits", "sampled_frames"):
            assert name in err.split("valid op names:")[1]
    assert dg.DagsterInstance.get().get_runs() == []
    assert not Catalog().has("videos", "tiny")


def test_a_valid_config_for_both_jobs_passes(data_env):
    from deepfake_assets.definitions import defs
    from deepfake_assets.run_config import validate

    jobs = [defs.resolve_job_def("ingest_source"), defs.resolve_job_def("build_dataset")]
    parts = validate(
        {
            "ops": {
                "sampled_frames": {"config": {"strategy": "uniform", "num_frames": 4}},
                "fold_splits": {"config": {"seed": 3}},
            }
        },
        jobs,
    )
    assert list(parts["ingest_source"]["ops"]) == ["sampled_frames"]
    assert list(parts["build_dataset"]["ops"]) == ["fold_splits"]


def _sensor_as_loaded(env: dict[str, str]) -> str:
    code = (
        "from deepfake_assets.definitions import defs\n"
        "s = defs.get_sensor_def('new_source_sensor')\n"
        "print(s.default_status.value)\n"
        "print(s.description)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_new_source_sensor_is_stopped_by_default_without_a_folder_to_watch(data_env):
    env = {k: v for k, v in os.environ.items() if k != "DEEPFAKE_SOURCES_DIR"}
    status, description = _sensor_as_loaded(env).split("\n", 1)
    assert status == "STOPPED"
    assert "DEEPFAKE_SOURCES_DIR was not set" in description
    status, description = _sensor_as_loaded(dict(os.environ)).split("\n", 1)
    assert status == "RUNNING" and "Stopped" not in description


def test_dataset_sensor_leaves_the_dataset_to_a_cli_that_builds_it(data_env):
    from dagster._core.events import DagsterEvent

    from deepfake_assets.sensors import dataset_after_ingest_sensor

    event = DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name="ingest_source")
    with dg.instance_for_test() as instance:

        def evaluate(tags: dict[str, str]):
            run = dg.DagsterRun(job_name="ingest_source", run_id="r1", tags=tags)
            context = dg.build_run_status_sensor_context(
                "dataset_after_ingest_sensor", event, instance, run
            )
            return dataset_after_ingest_sensor(context)

        assert isinstance(evaluate({"deepfake_assets/dataset_after": "cli"}), dg.SkipReason)
        request = evaluate({"deepfake_assets/trigger": "cli"})  # `--sources-only`
        assert isinstance(request, dg.RunRequest) and request.run_key == "after:r1"
