"""The `dask` backend: tasks go to a `dask.distributed` scheduler's workers.

Needs `distributed` (`pip install "deepfake-assets[dask]"`) here and on every worker, with this
package installed at the same version, and every worker must see the source folders and
`DEEPFAKE_DATA_DIR` at the same paths (a shared filesystem): tasks are sent file paths, write
crops and masks there themselves, and send back small records.

Faults. A worker that dies (SIGKILL, a lost machine) costs only the tasks it held: the scheduler
runs them again on another worker. A task that was running on `allowed-failures` + 1 workers
that all died (the scheduler's `distributed.scheduler.allowed-failures`, default 3; set
`DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES` where the scheduler starts) is given up with
distributed's `KilledWorker` and comes back here as an outcome with `error` (`worker_killed:
...`), so the stage records that video as `failed` and moves on. If no worker at all is
connected for `no_worker_timeout_s`, every unfinished task ends the same way instead of the run
waiting for ever.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from deepfake_assets.compute.executor import (
    ExecutorUnavailable,
    Outcome,
    Task,
    describe_error,
    timed_call,
)


def _key_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80]


class DaskExecutor:
    """Submits tasks to the scheduler at `address`; or, with no address, to a `LocalCluster`
    of `workers` processes x `threads_per_worker` threads started here (for trying it out).

    At most `in_flight_per_thread` (2) tasks per worker thread are submitted at once: enough
    that no worker waits for the next task, few enough that a million-task stage does not flood
    the scheduler's memory.
    """

    backend = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int = 0,
        threads_per_worker: int = 1,
        connect_timeout_s: float = 30.0,
        no_worker_timeout_s: float = 300.0,
        in_flight_per_thread: int = 2,
        name: str = "deepfake",
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - the dask extra not installed
            raise ExecutorUnavailable(
                'the dask backend needs `distributed`: pip install "deepfake-assets[dask]"'
            ) from exc
        self.name = _key_part(name)
        self.no_worker_timeout_s = no_worker_timeout_s
        self.in_flight_per_thread = max(int(in_flight_per_thread), 1)
        self._cluster = None
        if not address:
            self._cluster = LocalCluster(
                n_workers=max(int(workers), 1),
                threads_per_worker=max(int(threads_per_worker), 1),
                processes=True,
                dashboard_address=None,
            )
            address = self._cluster.scheduler_address
        self.address = address
        try:
            self._client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            self._close_cluster()
            raise ExecutorUnavailable(
                f"no dask scheduler answered at {address}: {describe_error(exc)}"
            ) from exc

    def workers(self) -> int:
        return len(self._client.scheduler_info(n_workers=-1).get("workers", {}))

    def threads(self) -> int:
        return sum(self._client.nthreads().values())

    def map(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        from distributed import wait

        try:
            self._client.wait_for_workers(1, timeout=self.no_worker_timeout_s)
        except TimeoutError as exc:
            raise ExecutorUnavailable(
                f"no dask worker joined the scheduler at {self.address} within "
                f"{self.no_worker_timeout_s:.0f} s"
            ) from exc
        run = uuid.uuid4().hex[:8]
        counter = itertools.count()
        todo = iter(tasks)
        pending: dict[Any, Task] = {}
        no_workers_since: float | None = None
        try:
            while True:
                limit = self.in_flight_per_thread * max(self.threads(), 1)
                while len(pending) < limit:
                    task = next(todo, None)
                    if task is None:
                        break
                    key = f"{self.name}-{_key_part(task.key)}-{run}-{next(counter)}"
                    future = self._client.submit(
                        timed_call, task.fn, task.args, key=key, pure=False
                    )
                    pending[future] = task
                if not pending:
                    return
                try:
                    with self._client.as_current():
                        done, _ = wait(list(pending), timeout=5.0, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                if not done:
                    if self.workers() > 0:
                        no_workers_since = None
                        continue
                    no_workers_since = no_workers_since or time.monotonic()
                    if time.monotonic() - no_workers_since < self.no_worker_timeout_s:
                        continue
                    reason = (
                        f"worker_lost: no dask worker connected for "
                        f"{self.no_worker_timeout_s:.0f} s"
                    )
                    for future, task in list(pending.items()):
                        future.cancel()
                        yield Outcome(task.key, None, reason, 0.0)
                    pending.clear()
                    for task in todo:
                        yield Outcome(task.key, None, reason, 0.0)
                    return
                for future in done:
                    task = pending.pop(future)
                    yield self._outcome(task, future)
                    future.release()
        finally:
            for future in pending:
                future.cancel()

    @staticmethod
    def _outcome(task: Task, future: Any) -> Outcome:
        from distributed.scheduler import KilledWorker

        try:
            value, seconds = future.result()
        except KilledWorker as exc:
            return Outcome(task.key, None, f"worker_killed: {describe_error(exc)}", 0.0)
        except Exception as exc:  # noqa: BLE001 - the task raised: that task's outcome
            return Outcome(task.key, None, f"task_error: {describe_error(exc)}", 0.0)
        return Outcome(task.key, value, None, seconds)

    def _close_cluster(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def close(self) -> None:
        self._client.close()
        self._close_cluster()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
