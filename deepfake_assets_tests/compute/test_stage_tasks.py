"""The embedding and SSIM stages' tasks give the same numbers and files on both backends."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from deepfake_assets.compute import LocalExecutor, Task
from deepfake_assets.fakes.ssim import ssim_batch
from deepfake_assets.fakes.ssim_tasks import mask_path, ssim_crop_files
from deepfake_assets.media.images import write_png_atomic
from deepfake_assets_tests.conftest import face_frames

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def write_crops(root: Path) -> list[tuple[str, str]]:
    """Pairs of 160x160 crops as the faces stage lays them out: a fake (altered) and its real."""
    real = face_frames(6)
    pairs = []
    for i, frame in enumerate(real):
        fake = frame.copy()
        fake[40:110, 40:120] = 255 - fake[40:110, 40:120] if i % 2 else fake[40:110, 40:120] // 2
        r, f = f"faces/src/real/{i:06d}_0_160.png", f"faces/src/fake/{i:06d}_0_160.png"
        write_png_atomic(root / r, frame)
        write_png_atomic(root / f, fake)
        pairs.append((f, r))
    return pairs


def run_on(executor, tasks: list[Task]) -> dict[str, object]:
    with executor:
        return {o.key: o.value for o in executor.map(tasks) if o.ok}


@pytest.fixture
def dask_address():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_ssim_tasks_write_the_same_masks_and_scores_on_both_backends(tmp_path, dask_address):
    from deepfake_assets.compute.dask_backend import DaskExecutor

    results = {}
    for name, executor in (("local", LocalExecutor(0)), ("dask", DaskExecutor(dask_address))):
        root = tmp_path / name
        pairs = write_crops(root)
        tasks = [Task(str(lo), ssim_crop_files, (str(root), pairs[lo : lo + 4])) for lo in (0, 4)]
        out = run_on(executor, tasks)
        assert sorted(out) == ["0", "4"], name
        masks = [p for lo in ("0", "4") for p in out[lo].mask_paths]
        assert masks == [mask_path(f) for f, _ in pairs]
        assert masks[0] == "masks/src/fake/000000_0_160_mask.png"
        results[name] = (
            np.concatenate([out["0"].ssim, out["4"].ssim]),
            [hashlib.sha256((root / m).read_bytes()).hexdigest() for m in masks],
        )
    assert np.array_equal(results["local"][0], results["dask"][0])
    assert results["local"][1] == results["dask"][1]
    # the task computes what the SSIM core computes in one call
    from deepfake_assets.media.images import read_png

    pairs = write_crops(tmp_path / "direct")
    direct, _ = ssim_batch(
        np.stack([read_png(tmp_path / "direct" / f) for f, _ in pairs[:4]]),
        np.stack([read_png(tmp_path / "direct" / r) for _, r in pairs[:4]]),
    )
    assert np.allclose(direct, results["local"][0][:4])


@pytest.mark.slow
def test_embedding_tasks_give_the_same_vectors_on_both_backends(tmp_path, dask_address):
    from deepfake_assets.compute.dask_backend import DaskExecutor
    from deepfake_assets.identity.embed_tasks import EmbedderSpec, embed_crop_files

    pairs = write_crops(tmp_path)
    paths = [r for _, r in pairs]
    spec = EmbedderSpec("dlib", "dlib-resnet-v1")
    tasks = [
        Task(str(lo), embed_crop_files, (spec, str(tmp_path), paths[lo : lo + 3])) for lo in (0, 3)
    ]
    local = run_on(LocalExecutor(0), tasks)
    dask = run_on(DaskExecutor(dask_address), tasks)
    assert sorted(local) == sorted(dask) == ["0", "3"]
    assert local["0"].shape == (3, 128) and local["0"].dtype == np.float32
    for key in local:
        assert np.array_equal(local[key], dask[key])
    # a worker whose model is not the one the stage chose refuses instead of mixing models
    wrong = EmbedderSpec("dlib", "facenet-vggface2")
    with LocalExecutor(0) as executor:
        [outcome] = list(executor.map([Task("x", embed_crop_files, (wrong, str(tmp_path), paths))]))
    assert not outcome.ok and "install the same weights" in outcome.error
