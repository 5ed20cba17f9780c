"""Runs whose process is gone are failed, not left `STARTED` forever.

Dagster's `DefaultRunLauncher` hands a run to a code server, which starts a run worker process
and marks the run failed if that process dies, but only while the code server itself lives. When
everything is killed at once (SIGKILL of the CLI's process group, a lost machine) nothing is left
to notice, and the daemon's run monitoring cannot help: the default launcher has no way to check
a run worker's health, so monitoring only times out runs that never start.

So a run's worker is found from its own event log: the `RUN_START` event (or the code server's
"Started process for run" engine event before it) records the pid of the process that runs it. A
run is dead when that pid is gone from this machine, or now belongs to a process started after
the run's worker was. Runs are tagged with the host that launched them, and runs of another
host are never judged. Two users of this:

- `LocalRunLauncher`, the `DefaultRunLauncher` with `check_run_worker_health`, named in the
  repository's dagster.yaml, so the daemon's run monitoring fails dead runs (and run retries can
  then re-launch them);
- `fail_dead_runs`, which the CLI calls when it opens the instance, for instances without a
  daemon or with another launcher.

Nothing here imports the asset definitions: the webserver and the daemon load this module.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType, JobFailureData, RunFailureReason
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus

HOST_TAG = "deepfake_assets/host"
"""The machine whose process runs the run: pids are only meaningful there."""

WATCHED_STATUSES = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def this_host() -> str:
    return socket.gethostname()


class Liveness(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # another host, or no process recorded yet


@dataclass(frozen=True)
class WorkerState:
    liveness: Liveness
    pid: int | None
    why: str


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def process_started_at(pid: int) -> float | None:
    """When `pid`'s current process started (Linux /proc), or None where that is unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    boot = _boot_time()
    if boot is None:
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def pid_runs_since(pid: int, since: float) -> bool:
    """Whether a live process with `pid` exists that was started no later than `since`.

    A pid reused by a process started after the run's worker is not that worker.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if stat[stat.rindex(")") + 2 :].split()[0] in ("Z", "X"):  # exited, not yet reaped
            return False
        started = process_started_at(pid)
        if started is not None and started > since + 2.0:  # clock-tick rounding
            return False
    return True


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, timestamp) of the process that runs `run_id`, from its event log."""
    started = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_START, limit=1
    ).records
    if started:
        entry = started[0].event_log_entry
        if entry.dagster_event is not None and entry.dagster_event.pid is not None:
            return entry.dagster_event.pid, entry.timestamp
    # Before RUN_START: the code server reports the worker it spawned, with its pid.
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=5
    ).records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None:
            return int(pid.value), record.event_log_entry.timestamp
    return None


def _is_local(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    host = run.tags.get(HOST_TAG)
    if host is not None:
        return host == this_host()
    # Untagged runs (launched by a plain DefaultRunLauncher): a SQLite instance lives on one
    # machine, so its runs ran here.
    return "sqlite" in type(instance.run_storage).__name__.lower()


def worker_state(instance: dg.DagsterInstance, run: dg.DagsterRun) -> WorkerState:
    """Whether the process running `run` is still there."""
    if not _is_local(instance, run):
        return WorkerState(Liveness.UNKNOWN, None, f"run on host {run.tags.get(HOST_TAG)}")
    found = _worker_pid(instance, run.run_id)
    if found is None:
        return WorkerState(Liveness.UNKNOWN, None, "no run worker recorded yet")
    pid, since = found
    if pid_runs_since(pid, since):
        return WorkerState(Liveness.ALIVE, pid, f"run worker pid {pid} is running")
    return WorkerState(
        Liveness.DEAD,
        pid,
        f"its run worker process (pid {pid} on {this_host()}) is gone: killed or crashed "
        "without recording an end",
    )


def fail_dead_run(instance: dg.DagsterInstance, run: dg.DagsterRun, why: str) -> bool:
    """Report `run` failed with `why`, unless it finished meanwhile. True when it was failed."""
    fresh = instance.get_run_by_id(run.run_id)
    if fresh is None or fresh.is_finished:
        return False
    instance.report_run_failed(
        fresh,
        f"Marked failed: {why}.",
        JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
    )
    return True


def fail_dead_runs(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """Mark every unfinished run of this host whose worker is gone as failed.

    Returns (run id, reason) of the runs failed.
    """
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=WATCHED_STATUSES)):
        state = worker_state(instance, run)
        if state.liveness is Liveness.DEAD and fail_dead_run(instance, run, state.why):
            failed.append((run.run_id, state.why))
    return failed


class LocalRunLauncher(dg.DefaultRunLauncher):
    """The DefaultRunLauncher, plus a health check so run monitoring fails dead runs.

    Configured in dagster.yaml (`run_launcher: {module: deepfake_assets.run_launcher, class:
    LocalRunLauncher}`). Each run is tagged with the launching host; the health check reads the
    run worker's pid from the event log. A worker that cannot be judged (another host, not
    started yet) counts as running: monitoring fails runs whose status is anything else.
    """

    def launch_run(self, context: LaunchRunContext) -> None:
        self._instance.add_run_tags(context.dagster_run.run_id, {HOST_TAG: this_host()})
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        state = worker_state(self._instance, run)
        if state.liveness is Liveness.DEAD:
            return CheckRunHealthResult(WorkerStatus.FAILED, state.why)
        return CheckRunHealthResult(WorkerStatus.RUNNING, state.why)
