"""Fixed batches on an executor: values in list order, timings per batch, one error per stage."""

from __future__ import annotations

import pytest

from deepfake_assets.compute import LocalExecutor
from deepfake_assets.compute.batches import (
    BatchFailed,
    batch_starts,
    progress_due,
    run_batches,
    sparse_progress,
)


def scaled(factor: int, batch: list[int]) -> list[int]:
    """A task: module level, so a spawned worker can import it."""
    return [factor * x for x in batch]


def refuse_negatives(batch: list[int]) -> list[int]:
    if any(x < 0 for x in batch):
        raise ValueError(f"negative item in {batch}")
    return batch


def test_batches_come_back_in_list_order_with_the_items_of_each():
    items = list(range(7))
    seen: list[tuple[int, int]] = []
    with LocalExecutor(0) as executor:
        run = run_batches(
            executor,
            scaled,
            (10,),
            items,
            3,
            [f"v{x // 2}" for x in items],
            progress=lambda n, total: seen.append((n, total)),
        )
    assert run.values == [[0, 10, 20], [30, 40, 50], [60]]
    assert [keys for keys, _ in run.timings] == [["v0", "v0", "v1"], ["v1", "v2", "v2"], ["v3"]]
    assert all(seconds >= 0 for _, seconds in run.timings)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_failed_batch_names_its_items_and_the_error():
    items = [1, 2, 3, -4, 5]
    with LocalExecutor(0) as executor, pytest.raises(BatchFailed) as caught:
        run_batches(executor, refuse_negatives, (), items, 2, ["v"] * len(items))
    assert (caught.value.start, caught.value.size) == (2, 2)
    assert "negative item in [3, -4]" in caught.value.error


def test_no_items_no_tasks_and_a_bad_batch_size_is_refused():
    with LocalExecutor(0) as executor:
        run = run_batches(executor, scaled, (1,), [], 4, [])
    assert run.values == [] and run.timings == []
    with pytest.raises(ValueError, match="batch_size"):
        batch_starts(3, 0)
    assert batch_starts(5, 2) == [0, 2, 4]


def test_progress_lines_are_sparse_and_always_include_the_last():
    assert [n for n in range(1, 101) if progress_due(n, 100, 20)] == list(range(5, 101, 5))
    assert [n for n in range(1, 4) if progress_due(n, 3, 20)] == [1, 2, 3]
    assert [n for n in range(1, 25) if sparse_progress(n, 24)] == [1, 11, 21, 24]
