"""A list cut into fixed batches, one executor task per batch, values back in list order.

Embeddings and SSIM both do this: batches of `batch_size` items in catalog order (so what a
batch holds, and thus every value, does not depend on the backend or on which task finishes
first), the seconds each batch took per item it held, and one error that stops the stage when a
batch fails (a model that cannot load, a crop that cannot be read: retrying item by item would
not help).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deepfake_assets.compute.executor import Executor, Task


class BatchFailed(RuntimeError):
    """A batch's task failed: items `start` to `start + size - 1`, with the backend's error."""

    def __init__(self, start: int, size: int, error: str) -> None:
        super().__init__(f"batch of items {start}..{start + size - 1} failed: {error}")
        self.start, self.size, self.error = start, size, error


@dataclass(frozen=True)
class BatchRun:
    """Each batch's value in list order, and (item keys, seconds) per batch for timing."""

    values: list[Any]
    timings: list[tuple[list[str], float]]


def batch_starts(n_items: int, batch_size: int) -> list[int]:
    """Where each batch starts; ValueError for a batch size below 1."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return list(range(0, n_items, batch_size))


def run_batches(
    executor: Executor,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    items: Sequence[Any],
    batch_size: int,
    item_keys: Sequence[str],
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> BatchRun:
    """`fn(*args, items[lo:lo + batch_size])` for every batch on `executor`; `item_keys` name
    each item's unit of timing (its video). Raises `BatchFailed` on the first failed batch."""
    starts = batch_starts(len(items), batch_size)
    tasks = (Task(str(lo), fn, (*args, list(items[lo : lo + batch_size]))) for lo in starts)
    values: dict[int, Any] = {}
    timings: list[tuple[list[str], float]] = []
    for n, outcome in enumerate(executor.map(tasks), start=1):
        lo = int(outcome.key)
        if not outcome.ok:
            size = min(batch_size, len(items) - lo)
            raise BatchFailed(lo, size, outcome.error or "task_lost")
        values[lo] = outcome.value
        timings.append((list(item_keys[lo : lo + batch_size]), outcome.seconds))
        progress(n, len(starts))
    return BatchRun([values[lo] for lo in starts], timings)


def sparse_progress(n: int, total: int, every: int = 10) -> bool:
    """Whether batch `n` of `total` is worth a log line: the first of every `every`, the last."""
    return n == total or n % every == 1


def progress_due(n: int, total: int, steps: int) -> bool:
    """Whether item `n` of `total` deserves a progress line: every `total / steps` items (all
    of them when there are fewer than `steps`), and the last."""
    return n == total or n % max(1, total // steps) == 0
