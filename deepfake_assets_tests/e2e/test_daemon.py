"""Automation under the real daemon: a dropped-in folder is ingested; a changed one is backfilled.

`dagster-daemon run` runs against a temporary instance (the repository's dagster.yaml) and the
repository's workspace.yaml. The sensor part is wholly the daemon's: it evaluates
`new_source_sensor` on its own tick, adds the partition, queues the run and launches it.

The schedule ticks at 03:00, so the test evaluates that tick the way the daemon's scheduler does
(`launch_scheduled_runs` with the tick's time as "now", through a workspace of the same code
location); the run it submits is queued in the instance and the running daemon launches it with
the DefaultRunLauncher. Only the clock is moved, nothing is mocked.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus

from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME
from deepfake_assets.registry import SourceRegistry
from deepfake_assets.schedules import last_fingerprint, source_backfill_schedule
from deepfake_assets.sources.fingerprint import folder_fingerprint
from deepfake_assets_tests.conftest import make_dfdc_folder
from deepfake_assets_tests.e2e.conftest import (
    SERVER_START_TIMEOUT_S,
    WORKSPACE_YAML,
    DagsterProcess,
    dagster_bin,
    dagster_process,
    wait_for,
)

pytestmark = pytest.mark.e2e

NAME = "fresh_dfdc"  # the folder's name is its partition key (already a slug)
# The whole per-source job (frames, faces, hashes, embeddings, SSIM) as a multiprocess run:
# each step imports torch in its own process, which is slow on a loaded two-core machine.
RUN_TIMEOUT_S = 900.0
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _instigator_state(instance: dg.DagsterInstance, name: str, kind):
    for state in instance.all_instigator_state(instigator_type=kind):
        if state.instigator_name == name:
            return state
    return None


def _ticks(instance: dg.DagsterInstance, name: str, kind) -> list:
    state = _instigator_state(instance, name, kind)
    if state is None:
        return []
    return list(instance.get_ticks(state.instigator_origin_id, state.selector_id))


def _wait_for_run(
    instance: dg.DagsterInstance, run_id: str, daemon: DagsterProcess
) -> dg.DagsterRun:
    def finished() -> dg.DagsterRun | None:
        daemon.check_alive()
        run = instance.get_run_by_id(run_id)
        return run if run is not None and run.status in TERMINAL else None

    started = time.monotonic()
    run = wait_for(f"run {run_id} to finish", finished, RUN_TIMEOUT_S, interval_s=2.0)
    print(
        f"run {run_id} ({run.job_name}) ended {run.status.value} after "
        f"{time.monotonic() - started:.0f} s of waiting"
    )
    if run.status != dg.DagsterRunStatus.SUCCESS:
        failures = [
            f"{record.step_key}: {record.dagster_event.step_failure_data.error.message.strip()}"
            for record in instance.all_logs(run_id)
            if record.dagster_event and record.dagster_event.is_step_failure
        ]
        raise AssertionError(
            f"run {run_id} ended {run.status.value}: {failures or 'no step failed'}\n"
            f"daemon log tail:\n{daemon.log_tail()}"
        )
    return run


def _videos_materialisations(instance: dg.DagsterInstance, partition: str) -> list:
    return list(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("videos"), asset_partitions=[partition]),
            limit=10,
        ).records
    )


def _metadata_value(record, key: str):
    value = record.asset_materialization.metadata[key]
    return getattr(value, "value", value)


def _add_listed_video(dataset: Path) -> None:
    """A new real video appears in the dataset, and in its metadata.json: the folder changed."""
    part = dataset / "dfdc_train_part_0"
    shutil.copyfile(part / "real.mp4", part / "real_take2.mp4")
    metadata = json.loads((part / "metadata.json").read_text())
    metadata["real_take2.mp4"] = {"label": "REAL", "split": "train"}
    tmp = part / ".metadata.json.tmp"
    tmp.write_text(json.dumps(metadata))
    os.replace(tmp, part / "metadata.json")


def _evaluate_schedule_tick_like_the_daemon(instance: dg.DagsterInstance) -> None:
    """One pass of the daemon's scheduler with the clock at the schedule's next tick.

    Private Dagster APIs, the ones `dagster-daemon`'s SchedulerDaemon calls each iteration; they
    are pinned by the project's `dagster>=1.13,<1.14`.
    """
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.controller import create_daemon_grpc_server_registry
    from dagster._scheduler.scheduler import launch_scheduled_runs
    from dagster._time import get_current_datetime
    from dagster._utils.error import SerializableErrorInfo
    from dagster._utils.schedules import get_next_cron_tick

    next_tick = get_next_cron_tick(
        source_backfill_schedule.cron_schedule,
        get_current_datetime(),
        source_backfill_schedule.execution_timezone,
    )
    print(f"evaluating the {source_backfill_schedule.name} tick of {next_tick.isoformat()}")
    logger = logging.getLogger("e2e.scheduler")
    with (
        create_daemon_grpc_server_registry(instance) as registry,
        WorkspaceProcessContext(
            instance=instance,
            workspace_load_target=WorkspaceFileTarget(paths=[str(WORKSPACE_YAML)]),
            grpc_server_registry=registry,
        ) as workspace,
    ):
        errors = [
            value
            for value in launch_scheduled_runs(
                workspace, logger, next_tick.replace(second=1), iteration_times={}
            )
            if isinstance(value, SerializableErrorInfo)
        ]
    assert not errors, f"the scheduler failed: {[e.to_string() for e in errors]}"


def test_daemon_ingests_a_new_folder_and_the_schedule_backfills_its_change(instance_env, tmp_path):
    started = time.monotonic()
    sources_dir = instance_env["sources"]
    staging = make_dfdc_folder(tmp_path / "staging" / NAME)
    instance = dg.DagsterInstance.get()  # DAGSTER_HOME: the temporary instance
    command = [dagster_bin("dagster-daemon"), "run", "--workspace", str(WORKSPACE_YAML)]
    try:
        with dagster_process(command, tmp_path / "dagster_daemon.log") as daemon:
            # 1. The daemon watches an empty folder: its first sensor tick skips.
            def first_sensor_tick():
                daemon.check_alive()
                ticks = _ticks(instance, "new_source_sensor", InstigatorType.SENSOR)
                return [t for t in ticks if t.status != TickStatus.STARTED]

            tick, *_ = wait_for(
                "the first new_source_sensor tick", first_sensor_tick, SERVER_START_TIMEOUT_S
            )
            assert tick.status == TickStatus.SKIPPED, tick
            print(
                f"daemon ready, first sensor tick skipped after "
                f"{time.monotonic() - started:.0f} s: {tick.skip_reason}"
            )

            # 2. A user moves a finished dataset in (a rename: never half-copied).
            dataset = sources_dir / NAME
            os.rename(staging, dataset)

            def sensor_run() -> dg.DagsterRun | None:
                daemon.check_alive()
                runs = instance.get_runs(
                    filters=dg.RunsFilter(
                        tags={"dagster/partition": NAME, "dagster/sensor_name": "new_source_sensor"}
                    )
                )
                return runs[0] if runs else None

            run = wait_for("new_source_sensor to request a run", sensor_run, 180.0)
            assert run.job_name == "ingest_source"
            assert run.tags["deepfake_assets/trigger"] == "new_source_sensor"
            assert instance.has_dynamic_partition(SOURCE_PARTITIONS_NAME, NAME)
            source = SourceRegistry().get(NAME)
            assert (source.format, Path(source.path)) == ("dfdc", dataset.resolve())
            _wait_for_run(instance, run.run_id, daemon)
            print(f"sensor-launched run succeeded at {time.monotonic() - started:.0f} s")

            (first,) = _videos_materialisations(instance, NAME)
            assert first.run_id == run.run_id
            assert _metadata_value(first, "num_videos") == 5
            parquet = (
                Path(os.environ["DEEPFAKE_DATA_DIR"]) / "catalog" / "videos" / f"{NAME}.parquet"
            )
            assert parquet.is_file(), f"{parquet} was not written"
            assert last_fingerprint(instance, NAME) == folder_fingerprint(dataset)

            # 3. The folder changes; the nightly tick re-runs that partition (and only that).
            _add_listed_video(dataset)
            _evaluate_schedule_tick_like_the_daemon(instance)
            (schedule_tick,) = [
                t
                for t in _ticks(instance, source_backfill_schedule.name, InstigatorType.SCHEDULE)
                if t.status != TickStatus.SKIPPED
            ]
            assert schedule_tick.status == TickStatus.SUCCESS, schedule_tick
            (scheduled_run_id,) = schedule_tick.run_ids
            scheduled = instance.get_run_by_id(scheduled_run_id)
            assert scheduled.tags["dagster/partition"] == NAME
            assert scheduled.tags["deepfake_assets/trigger"] == "schedule:changed"
            # Launched by the running daemon (queued run coordinator -> DefaultRunLauncher).
            _wait_for_run(instance, scheduled_run_id, daemon)
            print(f"schedule-launched run succeeded at {time.monotonic() - started:.0f} s")

            latest = _videos_materialisations(instance, NAME)[0]
            assert latest.run_id == scheduled_run_id
            assert _metadata_value(latest, "num_videos") == 6
            assert last_fingerprint(instance, NAME) == folder_fingerprint(dataset)

            # 4. After the source run succeeded, the run-status sensor asked for the
            # all-sources job (whether that tiny dataset passes its checks is not this test's).
            def dataset_run() -> list:
                daemon.check_alive()
                return instance.get_runs(filters=dg.RunsFilter(job_name="build_dataset"))

            wait_for("dataset_after_ingest_sensor to request build_dataset", dataset_run, 120.0)
    finally:
        instance.dispose()
    print(f"daemon end-to-end test took {time.monotonic() - started:.0f} s")
