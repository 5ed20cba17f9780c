"""The executor interface and the local backend (a spawn-context process pool).

Why a pool of *processes* and *spawn*: torch, OpenCV and PyAV hold threads and native state
that do not survive a fork, and one process per core with one torch thread each was measured
fastest for the faces stage (README, Benchmarks).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Task:
    """One unit of work: `fn(*args)` in some worker. `fn` must be a module-level function
    (it is pickled by reference); `key` names the task in outcomes, logs and dashboards."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A finished task: its value, or why there is none (`error`), and its seconds in the
    worker (0 when it never returned: a dead worker, a task that raised)."""

    key: str
    value: Any
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


class Backend(StrEnum):
    """Where the tasks run (member names are the config values: Dagster's config takes an
    enum's names)."""

    local = "local"
    dask = "dask"


class ExecutorUnavailable(RuntimeError):
    """The backend cannot run anything: no scheduler at the address, no workers joined."""


@runtime_checkable
class Executor(Protocol):
    """What a stage needs from a backend."""

    backend: str

    def workers(self) -> int:
        """Worker processes that run tasks now (0: tasks run in this process)."""
        ...

    def map(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Run every task, yielding each outcome as it finishes (any order). Never raises for
        a task: a task that fails, or whose worker dies, is an outcome with `error`."""
        ...

    def close(self) -> None: ...


def timed_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, float]:
    """Run in the worker: the value and the seconds it took there (not queueing, not transfer)."""
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _init_process(threads: int) -> None:
    """Pool initializer: torch's and OpenCV's thread counts before any task runs (left at their
    defaults, processes sharing cores made MTCNN many times slower)."""
    set_threads(threads)


def set_threads(threads: int) -> None:
    """torch's and OpenCV's thread counts for this process."""
    import cv2
    import torch

    torch.set_num_threads(max(int(threads), 1))
    cv2.setNumThreads(max(int(threads), 1))


class LocalExecutor:
    """Today's default: a spawn-context process pool on this machine, or this very process
    when `workers <= 0` (small jobs, where starting workers costs more than it saves).

    At most `2 x workers` tasks are submitted at once, so a million tasks do not sit pickled
    in the pool's queue. A worker that dies breaks the pool (Python's ProcessPoolExecutor cannot
    replace it): every task not yet finished becomes an outcome with the error, and the stage's
    resume logic redoes exactly those on the next run.
    """

    backend = "local"

    def __init__(self, workers: int = 0, threads_per_worker: int = 1) -> None:
        self._workers = max(int(workers), 0)
        # 0: pool workers get 1 thread, and the inline path leaves this process's counts alone
        self.threads_per_worker = max(int(threads_per_worker), 0)

    def workers(self) -> int:
        return self._workers

    def map(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        if self._workers <= 0:
            yield from self._inline(tasks)
            return
        pool = cf.ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=mp.get_context("spawn"),
            initializer=_init_process,
            initargs=(max(self.threads_per_worker, 1),),
        )
        todo = iter(tasks)
        pending: dict[cf.Future, Task] = {}
        broken: str | None = None
        try:
            while True:
                while broken is None and len(pending) < 2 * self._workers:
                    task = next(todo, None)
                    if task is None:
                        break
                    try:
                        pending[pool.submit(timed_call, task.fn, task.args)] = task
                    except (cf.BrokenExecutor, RuntimeError) as exc:
                        broken = f"worker_error: {describe_error(exc)}"
                        yield Outcome(task.key, None, broken, 0.0)
                if broken is not None:
                    for task in todo:  # the pool cannot run anything any more
                        yield Outcome(task.key, None, broken, 0.0)
                if not pending:
                    return
                finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    task = pending.pop(fut)
                    try:
                        value, seconds = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a dead worker, a task that raised
                        error = f"worker_error: {describe_error(exc)}"
                        if isinstance(exc, cf.BrokenExecutor):
                            broken = error
                        yield Outcome(task.key, None, error, 0.0)
                    else:
                        yield Outcome(task.key, value, None, seconds)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _inline(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        if self.threads_per_worker > 0:
            set_threads(self.threads_per_worker)
        for task in tasks:
            try:
                value, seconds = timed_call(task.fn, task.args)
            except Exception as exc:  # noqa: BLE001 - one task's fault is that task's outcome
                yield Outcome(task.key, None, f"task_error: {describe_error(exc)}", 0.0)
            else:
                yield Outcome(task.key, value, None, seconds)

    def close(self) -> None:
        """Nothing outlives `map`: the pool is shut down when it finishes."""

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class TimingSummary:
    """Seconds per item of one stage: what the metadata reports."""

    count: int
    wall_seconds: float
    p50: float | None
    p95: float | None

    @property
    def per_second(self) -> float | None:
        return round(self.count / self.wall_seconds, 3) if self.wall_seconds > 0 else None

    def to_metadata(self, unit: str = "video") -> dict[str, Any]:
        return {
            f"{unit}s_per_second": self.per_second,
            f"p50_seconds_per_{unit}": self.p50,
            f"p95_seconds_per_{unit}": self.p95,
        }


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (no interpolation: a figure that some item really took)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def summarise_seconds(seconds: list[float], wall_seconds: float) -> TimingSummary:
    if not seconds:
        return TimingSummary(0, wall_seconds, None, None)
    return TimingSummary(
        len(seconds),
        wall_seconds,
        round(_quantile(seconds, 0.50), 3),
        round(_quantile(seconds, 0.95), 3),
    )


def seconds_per_item(batches: Iterable[tuple[list[str], float]]) -> list[float]:
    """Each item's share of the seconds of the batches it was in: a batch of 64 faces of three
    videos that took 2 s gives each video 2 s x its faces / 64. How per-video figures are
    made for stages whose tasks are batches of faces."""
    totals: dict[str, float] = {}
    for items, seconds in batches:
        if not items:
            continue
        share = seconds / len(items)
        for item in items:
            totals[item] = totals.get(item, 0.0) + share
    return list(totals.values())
