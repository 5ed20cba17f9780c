"""The `compute` resource picks its backend from config or the environment."""

from __future__ import annotations

import pydantic
import pytest

from deepfake_assets.compute import LocalExecutor
from deepfake_assets.resources import ComputeResource


def test_local_by_default_and_dask_when_the_environment_names_a_scheduler(monkeypatch):
    monkeypatch.delenv("DEEPFAKE_DASK_SCHEDULER", raising=False)
    assert ComputeResource().resolved_backend() == "local"
    executor = ComputeResource().executor(local_workers=3, threads=2)
    assert isinstance(executor, LocalExecutor) and executor.workers() == 3
    assert ComputeResource(workers=1).executor(local_workers=3).workers() == 1  # resource wins
    monkeypatch.setenv("DEEPFAKE_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    assert ComputeResource().resolved_backend() == "dask"
    assert ComputeResource().address() == "tcp://127.0.0.1:8786"
    assert ComputeResource(backend="local").resolved_backend() == "local"
    assert ComputeResource(threads_per_worker=4).threads(1) == 4
    assert ComputeResource().threads(2) == 2
    with pytest.raises(pydantic.ValidationError, match="local.*dask|dask.*local"):
        ComputeResource(backend="ray")  # refused when the resource is made, before any run


def test_the_definitions_bind_the_compute_resource():
    from deepfake_assets.definitions import defs

    resources = defs.resources or {}
    assert isinstance(resources["compute"], ComputeResource)
