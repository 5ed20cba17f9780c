"""DeepfakeBench landmarks: computed once per crop file, kept while the crop is unchanged."""

from __future__ import annotations

import os

import cv2
import numpy as np
import polars as pl
from skimage import data

from deepfake_assets.compute import LocalExecutor
from deepfake_assets.export.landmark_cache import LandmarkOptions, crop_landmarks
from deepfake_assets.faces.landmarks import landmarks_68
from deepfake_assets.media.images import write_png_atomic


def _face_299(shift: int = 0) -> np.ndarray:
    face = data.astronaut()[0:260, 120 + shift : 380 + shift]
    return cv2.resize(face, (299, 299), interpolation=cv2.INTER_AREA)


def _crops(root, n: int) -> pl.Series:
    rels = [f"faces/s/v{i}/000003_0_299.png" for i in range(n)]
    for i, rel in enumerate(rels):
        write_png_atomic(root / rel, _face_299(shift=4 * i))
    return pl.Series(rels)


def test_landmarks_are_computed_once_and_recomputed_for_a_changed_crop(tmp_path):
    export, data_dir = tmp_path / "export", tmp_path / "data"
    rels = _crops(export, 3)
    options = LandmarkOptions(resolution=256, margin=0.15)
    first = crop_landmarks(export, rels, data_dir, options, LocalExecutor(0))
    assert (first.computed, first.reused, first.failures) == (3, 0, [])
    saved = np.load(first.npy[0])
    expected = landmarks_68(_face_299()).points * (256 / 299)
    assert saved.shape == (68, 2) and np.allclose(saved, np.clip(expected, 0, 255))

    again = crop_landmarks(export, rels, data_dir, options, LocalExecutor(0))
    assert (again.computed, again.reused) == (0, 3)
    assert again.npy.to_list() == first.npy.to_list()
    assert again.box_sources == first.box_sources and sum(again.box_sources.values()) == 3

    # a crop rewritten (new inode and mtime) is computed again, the others are kept
    write_png_atomic(export / rels[1], _face_299(shift=40))
    third = crop_landmarks(export, rels, data_dir, options, LocalExecutor(0))
    assert (third.computed, third.reused) == (1, 2)
    moved = landmarks_68(_face_299(shift=40)).points * (256 / 299)
    assert np.allclose(np.load(third.npy[1]), np.clip(moved, 0, 255))


def test_unreadable_and_missing_crops_are_failures_not_cached(tmp_path):
    export, data_dir = tmp_path / "export", tmp_path / "data"
    rels = _crops(export, 1)
    (export / "faces/s/bad.png").write_bytes(b"not a png")
    rels = pl.concat([rels, pl.Series(["faces/s/bad.png", "faces/s/gone.png"])])
    for _ in range(2):  # the bad ones fail again: never cached
        result = crop_landmarks(export, rels, data_dir, LandmarkOptions(), LocalExecutor(0))
        assert len(result.failures) == 2 and result.npy[1] is None and result.npy[2] is None
        assert os.path.exists(result.npy[0])


def test_landmarks_in_worker_processes_equal_those_in_this_process(tmp_path):
    export = tmp_path / "export"
    rels = _crops(export, 3)
    inline = crop_landmarks(export, rels, tmp_path / "a", LandmarkOptions(), LocalExecutor(0))
    pool = LocalExecutor(2)
    try:
        spread = crop_landmarks(export, rels, tmp_path / "b", LandmarkOptions(), pool)
    finally:
        pool.close()
    assert spread.computed == 3
    for a, b in zip(inline.npy.to_list(), spread.npy.to_list(), strict=True):
        assert np.array_equal(np.load(a), np.load(b))
