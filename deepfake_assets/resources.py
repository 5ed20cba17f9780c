"""Dagster resources: where the data directory is, and the catalog and registry inside it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import Catalog, MissingPartitionError
from deepfake_assets.compute import Backend
from deepfake_assets.registry import SourceRegistry


class DataDirResource(dg.ConfigurableResource):
    """The data directory; None means `$DEEPFAKE_DATA_DIR` (default `./data`) at run time."""

    data_dir: str | None = None

    def path(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else config.data_dir()

    def catalog(self) -> Catalog:
        return Catalog(self.path())

    def require(self, table: str, partition: str, writer: str) -> pl.DataFrame:
        """A catalog partition an asset needs; absent (never written) fails the step clearly,
        empty (a source with nothing usable) is returned as is."""
        try:
            return self.catalog().require(table, partition, writer=writer)
        except MissingPartitionError as exc:
            raise dg.Failure(str(exc)) from exc

    def registry(self) -> SourceRegistry:
        return SourceRegistry(self.path())

    def faces_dir(self, source: str) -> Path:
        """Where one source's face crops go (``config.faces_dir`` under this data directory)."""
        return config.faces_dir(source, self.path())

    def work_dir(self, source: str) -> Path:
        """Where one source's staged per-video results go (``config.work_dir``)."""
        return config.work_dir(source, self.path())


class ComputeResource(dg.ConfigurableResource):
    """Where the per-video stages (faces, embeddings, SSIM) run.

    `backend`: `local` (a process pool on this machine) or `dask` (a `dask.distributed`
    scheduler); None means `dask` when `scheduler_address` or `$DEEPFAKE_DASK_SCHEDULER` is set,
    else `local`, so `dagster dev`, the CLI and schedules all follow the environment.
    `workers`: local pool processes (None: the stage's own choice, one per core for larger
    sources); with `dask` and no address, the processes of a LocalCluster started for the run.
    `threads_per_worker`: torch/OpenCV threads per task (None: the stage's own setting).
    Every "use the default" is None.
    """

    backend: Backend | None = None  # local or dask, checked before a run starts
    scheduler_address: str | None = None
    workers: int | None = None
    threads_per_worker: int | None = None

    def address(self) -> str | None:
        return self.scheduler_address or config.dask_scheduler()

    def resolved_backend(self) -> str:
        return str(self.backend or ("dask" if self.address() else "local"))

    def threads(self, stage_default: int) -> int:
        if self.threads_per_worker is not None:
            return max(self.threads_per_worker, 1)
        return max(stage_default, 1)

    def executor(self, local_workers: int, threads: int | None = 1):
        """An executor for one stage; `local_workers` is the stage's choice for the local pool
        (the resource's `workers` wins when set); `threads` None leaves an in-process run's
        thread counts as they are. Close it when the stage is done."""
        from deepfake_assets.compute import ExecutorUnavailable, LocalExecutor

        if self.resolved_backend() == "local":
            workers = self.workers if self.workers is not None else local_workers
            return LocalExecutor(workers, threads if threads is not None else 0)
        from deepfake_assets.compute.dask_backend import DaskExecutor

        try:
            return DaskExecutor(
                self.address(),
                workers=self.workers or 2,
                threads_per_worker=max(self.threads_per_worker or 1, 1),
            )
        except ExecutorUnavailable as exc:
            raise dg.Failure(str(exc)) from exc
