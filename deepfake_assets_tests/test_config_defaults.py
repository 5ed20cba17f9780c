"""Run config has one way to say "use the default" (None) and names its choices (Literal)."""

from __future__ import annotations

import pytest

from deepfake_assets.identity.clustering import default_params
from deepfake_assets.identity.donors import default_donor_params
from deepfake_assets.resources import ComputeResource, DataDirResource
from deepfake_assets.run_config import RunConfigError, validate


def test_none_keeps_the_measured_default_and_a_value_overrides_it() -> None:
    for name in ("dlib-resnet-v1", "facenet-vggface2"):
        base = default_params(name)
        assert default_params(name, eps=None, min_samples=None) == base
        assert default_params(name, eps=0.123, min_samples=None).eps == 0.123
        assert default_params(name, eps=None, min_samples=7).min_samples == 7
        donors = default_donor_params(name)
        assert default_donor_params(name, min_target_shift=None, min_margin=None) == donors
        tuned = default_donor_params(name, min_target_shift=0.5, min_margin=None)
        assert (tuned.min_target_shift, tuned.min_margin) == (0.5, donors.min_margin)


def test_resources_default_to_none(monkeypatch) -> None:
    monkeypatch.delenv("DEEPFAKE_DASK_SCHEDULER", raising=False)
    compute = ComputeResource()
    assert (compute.backend, compute.scheduler_address, compute.workers) == (None, None, None)
    assert compute.threads_per_worker is None and compute.address() is None
    assert DataDirResource().data_dir is None


@pytest.mark.parametrize(
    ("op", "field", "bad"),
    [
        ("actor_clusters", "method", "kmeans"),
        ("face_embeddings", "model", "arcface"),
        ("fake_groups", "method", "dbscan"),
        ("exported_dataset", "image", "512"),
        ("face_detections_and_crops", "rule", "seed002"),
    ],
)
def test_a_choice_outside_its_literal_is_refused_before_any_run(op, field, bad) -> None:
    from deepfake_assets.definitions import defs

    jobs = [defs.resolve_job_def("ingest_source"), defs.resolve_job_def("build_dataset")]
    with pytest.raises(RunConfigError, match=field):
        validate({"ops": {op: {"config": {field: bad}}}}, jobs)
    validate({"ops": {op: {"config": {}}}}, jobs)  # the default is a valid choice


def test_a_stage_passing_the_unset_thread_count_gets_an_executor(monkeypatch) -> None:
    """Stages hand the resource's own `threads_per_worker` (None by default) to `executor`."""
    monkeypatch.delenv("DEEPFAKE_DASK_SCHEDULER", raising=False)
    compute = ComputeResource()
    with compute.executor(0, compute.threads_per_worker) as executor:
        assert executor.workers() == 0
