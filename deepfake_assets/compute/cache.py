"""A per-process cache: models load once per worker process, not once per task.

A dask worker runs many tasks (on one or more threads) in one long-lived process, and so does
a pool worker; the first task that needs a model builds it and later tasks reuse it. A worker
that dies takes its cache with it, and its replacement builds the model again on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_CACHE: dict[Hashable, Any] = {}
_LOCK = threading.Lock()


def per_process(key: Hashable, factory: Callable[[], T]) -> T:
    """The value cached under `key` in this process, built by `factory` on first use.

    Built under a lock: two threads of one worker wanting the same model wait for one load
    instead of holding two copies.
    """
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = factory()
        return _CACHE[key]


def clear() -> None:
    """Forget every cached value (tests; a long-lived process that must release models)."""
    with _LOCK:
        _CACHE.clear()
