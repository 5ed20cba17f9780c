"""Launch the CLI's runs through the code location, as the UI and `dagster job launch` do.

`execute_in_process` runs have no repository origin, so the UI's job pages, run-status sensors
and re-execution do not know them. Here the package's Definitions are loaded as the code
location `deepfake_assets` in a code server (the same managed gRPC server `dagster dev` starts
from workspace.yaml), the run is created from the remote job exactly as `dagster job launch`
creates it (`remote_job_origin`, `job_code_origin`, snapshots) and handed to the instance's run
launcher. The run worker is a separate process; this waits for it, printing the run's event
log (INFO and above) as it is stored.

The runs start at once: they do not wait in the instance's run queue, which only a daemon
drains (the CLI works without one).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry

from deepfake_assets.run_launcher import (
    HOST_TAG,
    Liveness,
    fail_dead_run,
    this_host,
    worker_state,
)

LOCATION_NAME = "deepfake_assets"  # as in workspace.yaml and pyproject.toml's [tool.dagster]
DEFS_MODULE = "deepfake_assets.definitions"
TRIGGER_TAG = "deepfake_assets/trigger"

POLL_S = 0.5
LIVENESS_EVERY = 10  # polls between checks that the run worker still lives
QUIET_CONSOLE = {"console": {"config": {"log_level": "CRITICAL"}}}
"""The run worker's own console logger: this module prints the stored event log instead, so
nothing shows twice."""
IN_PROCESS = {"config": {"in_process": {}}}
"""Steps run one after the other in the run worker, as `execute_in_process` ran them: the
multiprocess executor starts a Python (importing torch) per step, which made a small source's
run about 3x slower (the tiny DFDC source of the CLI tests, both executors); the faces step has
its own worker pool anyway."""


@dataclass
class RunOutcome:
    """What one launched run ended as, and the blocking failures to report."""

    run_id: str
    status: dg.DagsterRunStatus
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.status == dg.DagsterRunStatus.SUCCESS and not self.failures


class CodeLocationError(RuntimeError):
    """The code location could not be loaded (an import error in the definitions, ...)."""


@contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[Any]:
    """A workspace with the package's code location served by a gRPC code server.

    Yields the `WorkspaceProcessContext`; the server is shut down on exit (it waits for the
    runs it started to finish).
    """
    from dagster import __version__
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    target = ModuleTarget(
        module_name=DEFS_MODULE,
        attribute=None,
        working_directory=os.getcwd(),
        location_name=LOCATION_NAME,
    )
    with WorkspaceProcessContext(
        instance,
        target,
        version=__version__,
        code_server_log_level="WARNING",
    ) as process_context:
        yield process_context


def launch_run(
    instance: dg.DagsterInstance,
    process_context: Any,
    job_name: str,
    *,
    run_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> dg.DagsterRun:
    """Create a run of `job_name` from the code location and hand it to the run launcher."""
    from dagster._cli.job import _create_run
    from dagster._core.errors import DagsterCodeLocationLoadError

    workspace = process_context.create_request_context()
    try:
        location = workspace.get_code_location(LOCATION_NAME)
    except DagsterCodeLocationLoadError as exc:
        raise CodeLocationError(str(exc)) from exc
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(job_name)
    config = dict(run_config)
    config.setdefault("loggers", QUIET_CONSOLE)
    config.setdefault("execution", IN_PROCESS)
    run = _create_run(
        instance=instance,
        code_location=location,
        remote_repo=repository,
        remote_job=remote_job,
        run_config=config,
        tags={TRIGGER_TAG: "cli", HOST_TAG: this_host(), **tags},
        op_selection=None,
        run_id=None,
    )
    return instance.launch_run(run.run_id, workspace)


def format_entry(entry: EventLogEntry) -> str:
    """One event as a console line: time, level, job, run, step, event, message."""
    import logging

    event = entry.dagster_event
    parts = [
        datetime.fromtimestamp(entry.timestamp).strftime("%H:%M:%S"),
        logging.getLevelName(entry.level),
        entry.job_name or "",
        entry.run_id[:8],
    ]
    if entry.step_key:
        parts.append(entry.step_key)
    if event is not None:
        parts.append(event.event_type_value)
    message = entry.message or entry.user_message
    return " - ".join([*parts, message] if message else parts)


def wait_for_run(
    instance: dg.DagsterInstance,
    run_id: str,
    *,
    out: IO[str] | None = None,
    min_level: int = 20,  # logging.INFO
) -> tuple[dg.DagsterRun, list[EventLogEntry]]:
    """Stream `run_id`'s event log to `out` until the run ends; its run and check/failure events.

    A run whose worker process dies without recording an end is marked failed here.
    """
    out = out or sys.stdout
    cursor = None
    kept: list[EventLogEntry] = []
    finished_seen = False
    polls = 0
    while True:
        connection = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
        cursor = connection.cursor
        for record in connection.records:
            entry = record.event_log_entry
            if entry.level >= min_level:
                print(format_entry(entry), file=out, flush=True)
            if entry.dagster_event is not None and entry.dagster_event.event_type in (
                DagsterEventType.ASSET_CHECK_EVALUATION,
                DagsterEventType.STEP_FAILURE,
                DagsterEventType.RUN_FAILURE,
            ):
                kept.append(entry)
        if connection.has_more:
            continue
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise RuntimeError(f"run {run_id} disappeared from the instance")
        if run.is_finished:
            if finished_seen:  # one more read after the end: the worker's last events
                return run, kept
            finished_seen = True
            continue
        polls += 1
        if polls % LIVENESS_EVERY == 0:
            state = worker_state(instance, run)
            if state.liveness is Liveness.DEAD:
                fail_dead_run(instance, run, state.why)
                continue
        time.sleep(POLL_S)


def _error_message(error: Any) -> str:
    """The user's message of a step error: its last line, below Dagster's wrappers."""
    while error is not None:
        message = error.message.strip()
        if error.cause is None or not message.startswith("dagster._core.errors"):
            return message.splitlines()[-1] if message else "failed"
        error = error.cause
    return "failed"


def outcome(run: dg.DagsterRun, entries: list[EventLogEntry], what: str) -> RunOutcome:
    """Failed blocking checks and failed steps of a finished run, as the CLI reports them."""
    result = RunOutcome(run.run_id, run.status)
    for entry in entries:
        event = entry.dagster_event
        if event is None or event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            continue
        line = f"{what}: check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
        if evaluation.severity == dg.AssetCheckSeverity.ERROR:
            first = evaluation.metadata.get("first_offenders")
            detail = f": {first.value}" if first is not None else ""
            result.failures.append(f"{line} failed{detail}")
        else:
            result.warnings.append(f"{line} warns")
    if run.status != dg.DagsterRunStatus.SUCCESS:
        for entry in entries:
            event = entry.dagster_event
            if event is not None and event.is_step_failure:
                message = _error_message(event.step_failure_data.error)
                result.failures.append(f"{what}: step {event.step_key} failed: {message}")
        if not result.failures:
            reasons = [
                e.message
                for e in entries
                if e.dagster_event is not None
                and e.dagster_event.event_type == DagsterEventType.RUN_FAILURE
            ]
            detail = f": {reasons[-1]}" if reasons else ""
            result.failures.append(f"{what}: run {run.run_id} {run.status.value.lower()}{detail}")
    return result


def run_job(
    instance: dg.DagsterInstance,
    process_context: Any,
    job_name: str,
    what: str,
    *,
    run_config: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
) -> RunOutcome:
    """Launch one run, stream it, and say how it ended."""
    out = out or sys.stdout
    try:
        run = launch_run(
            instance, process_context, job_name, run_config=run_config, tags=tags or {}
        )
    except (CodeLocationError, dg.DagsterError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return RunOutcome("", dg.DagsterRunStatus.FAILURE, [f"{what}: not launched: {message}"])
    print(f"   run {run.run_id} ({job_name}) launched", file=out, flush=True)
    try:
        finished, entries = wait_for_run(instance, run.run_id, out=out)
    except KeyboardInterrupt:
        print(f"interrupted: terminating run {run.run_id}", file=sys.stderr, flush=True)
        try:
            instance.run_launcher.terminate(run.run_id)
        finally:
            raise
    return outcome(finished, entries, what)
