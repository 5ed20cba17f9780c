"""Where per-video work runs: one small interface, two backends (no dagster here).

Stages hand the executor `Task`s (a module-level function and its arguments) and read back
`Outcome`s as tasks finish, in any order, each with the seconds the task took inside its worker.
`LocalExecutor` is a spawn-context process pool on this machine (the default, no dependency);
`DaskExecutor` submits to a `dask.distributed` scheduler. Either way the task functions read and
write files under the shared data folder and return small records, never frames.
"""

from deepfake_assets.compute.cache import per_process
from deepfake_assets.compute.executor import (
    Backend,
    Executor,
    ExecutorUnavailable,
    LocalExecutor,
    Outcome,
    Task,
    TimingSummary,
    seconds_per_item,
    summarise_seconds,
)

__all__ = [
    "Backend",
    "Executor",
    "ExecutorUnavailable",
    "LocalExecutor",
    "Outcome",
    "Task",
    "TimingSummary",
    "per_process",
    "seconds_per_item",
    "summarise_seconds",
]
