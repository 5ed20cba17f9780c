"""The executor interface on both backends, with tiny tasks (no models)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from deepfake_assets.compute import LocalExecutor, Outcome, Task, per_process, summarise_seconds
from deepfake_assets.compute.cache import clear

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def kill_own_process(x: int) -> int:
    """A task that takes its worker process down with it (a segfault, an OOM kill)."""
    if x == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


_BUILDS: list[int] = []


def cached_model(x: int) -> tuple[int, int]:
    """The process's model id (built once per process) and the input."""
    model = per_process(("test-model",), lambda: (_BUILDS.append(1), id(object()))[1])
    return model, x


def by_key(outcomes: list[Outcome]) -> dict[str, Outcome]:
    keys = [o.key for o in outcomes]
    assert len(keys) == len(set(keys)), "an outcome came back twice"
    return {o.key: o for o in outcomes}


@pytest.fixture
def dask_cluster():
    """An in-process scheduler and two threaded workers: the dask code path, no processes."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


def executors(cluster=None, pool: bool = False):
    from deepfake_assets.compute.dask_backend import DaskExecutor

    yield LocalExecutor(0)
    if pool:
        yield LocalExecutor(2)
    if cluster is not None:
        yield DaskExecutor(cluster.scheduler_address)


def test_every_task_comes_back_once_with_its_value_on_both_backends(dask_cluster):
    tasks = [Task(f"t{i}", square, (i,)) for i in range(12)]
    for executor in executors(dask_cluster, pool=True):
        with executor:
            outcomes = by_key(list(executor.map(tasks)))
        assert sorted(outcomes) == sorted(t.key for t in tasks), executor.backend
        assert all(o.ok and o.seconds >= 0 for o in outcomes.values())
        assert {k: o.value for k, o in outcomes.items()} == {f"t{i}": i * i for i in range(12)}


def test_a_task_that_raises_is_an_outcome_with_the_reason_and_the_rest_finish(dask_cluster):
    tasks = [Task(str(i), fail_on_three, (i,)) for i in range(6)]
    for executor in executors(dask_cluster):
        with executor:
            outcomes = by_key(list(executor.map(tasks)))
        assert not outcomes["3"].ok and "three is not allowed" in outcomes["3"].error
        assert outcomes["3"].value is None
        assert [outcomes[str(i)].value for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]


def test_dask_keeps_at_most_twice_the_worker_threads_in_flight(dask_cluster):
    from deepfake_assets.compute.dask_backend import DaskExecutor

    seen: list[int] = []
    with DaskExecutor(dask_cluster.scheduler_address) as executor:
        client = executor._client
        submitted = client.submit

        def counting_submit(*args, **kwargs):
            seen.append(len(client.futures))
            return submitted(*args, **kwargs)

        client.submit = counting_submit  # observe, not replace: the real submit runs
        outcomes = list(executor.map(Task(str(i), square, (i,)) for i in range(20)))
    assert len(outcomes) == 20
    assert max(seen) < 2 * 2  # 2 workers x 1 thread: at most 4 futures held at once


def test_models_load_once_per_process_however_many_tasks():
    clear()
    _BUILDS.clear()
    with LocalExecutor(0) as executor:
        ids = {o.value[0] for o in executor.map(Task(str(i), cached_model, (i,)) for i in range(5))}
    assert len(ids) == 1 and len(_BUILDS) == 1
    # two threads of one worker asking at once still build it once
    clear()
    _BUILDS.clear()
    threads = [threading.Thread(target=cached_model, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_BUILDS) == 1
    clear()


def test_a_local_worker_that_dies_fails_its_tasks_without_hanging():
    with LocalExecutor(1) as executor:
        outcomes = by_key(
            list(executor.map(Task(str(i), kill_own_process, (i,)) for i in range(4)))
        )
    assert sorted(outcomes) == ["0", "1", "2", "3"]
    assert not outcomes["1"].ok and outcomes["1"].error.startswith("worker_error")


@pytest.mark.slow
def test_a_task_that_keeps_killing_dask_workers_ends_as_killed_worker():
    """allowed-failures 1: the task runs on two workers that both die, then it is given up;
    the nanny restarts the worker, which then runs other tasks."""
    import dask

    from deepfake_assets.compute.dask_backend import DaskExecutor

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        DaskExecutor(cluster.scheduler_address) as executor,
    ):
        killer = list(executor.map([Task("1", kill_own_process, (1,))]))
        # tasks held by a dying worker count its death too, so the others run afterwards
        after = by_key(list(executor.map(Task(str(i), kill_own_process, (i,)) for i in (0, 2))))
    assert len(killer) == 1 and not killer[0].ok
    assert killer[0].error.startswith("worker_killed: KilledWorker")
    assert after["0"].value == 0 and after["2"].value == 2


def test_timing_summary_quantiles_are_values_some_item_took():
    summary = summarise_seconds([float(s) for s in range(1, 101)], wall_seconds=50.0)
    assert (summary.p50, summary.p95, summary.per_second) == (50.0, 95.0, 2.0)
    assert summarise_seconds([], 1.0).to_metadata()["p50_seconds_per_video"] is None


def slow_square(x: int) -> int:
    import time

    time.sleep(0.3)
    return x * x


def test_a_dask_run_whose_workers_all_leave_ends_instead_of_hanging():
    """Every worker gone (a cancelled allocation): after `no_worker_timeout_s` the unfinished
    tasks are outcomes with `worker_lost`, and `map` returns."""
    from deepfake_assets.compute.dask_backend import DaskExecutor

    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        DaskExecutor(cluster.scheduler_address, no_worker_timeout_s=2) as executor,
    ):
        outcomes = []
        for outcome in executor.map(Task(str(i), slow_square, (i,)) for i in range(8)):
            outcomes.append(outcome)
            if len(outcomes) == 1:
                cluster.scale(0)
    by = by_key(outcomes)
    assert sorted(by) == [str(i) for i in range(8)]
    lost = [o for o in outcomes if not o.ok]
    assert lost and all(o.error.startswith("worker_lost") for o in lost)
    assert all(o.value == int(o.key) ** 2 for o in outcomes if o.ok)
