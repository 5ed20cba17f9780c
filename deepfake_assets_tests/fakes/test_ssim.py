"""SSIM against scikit-image on real faces, masks and per-video statistics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
from skimage.metrics import structural_similarity

from deepfake_assets.fakes.levels import assign_levels
from deepfake_assets.fakes.ssim import (
    WIN_RADIUS,
    diff_mask,
    mask_area,
    ssim_batch,
    to_luma,
    video_stats,
)

SKIMAGE_ARGS = dict(
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, full=True
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _face(size: int) -> np.ndarray:
    """The astronaut's face (a real face shipped with scikit-image), size x size RGB uint8."""
    from skimage import data
    from skimage.transform import resize

    crop = data.astronaut()[20:280, 120:380]
    return (resize(crop, (size, size), anti_aliasing=True) * 255).astype(np.uint8)


def _hopper(size: int) -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB")
    return np.asarray(img.resize((size, size), Image.BILINEAR))


def _pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Fakes: noisy, a swapped-in region from another face, a hue shift, an untouched copy."""
    face = _face(size)
    rng = np.random.default_rng(0)
    noisy = np.clip(face.astype(int) + rng.integers(-30, 31, face.shape), 0, 255).astype(np.uint8)
    swapped = face.copy()
    lo, hi = size // 4, 3 * size // 4
    swapped[lo:hi, lo:hi] = _hopper(size)[lo:hi, lo:hi]
    hue = face[..., [1, 2, 0]]
    fakes = np.stack([noisy, swapped, hue, face])
    return fakes, np.stack([face] * 4)


@pytest.mark.parametrize("size", [160, 299])
@pytest.mark.parametrize("channels", ["luma", "mean"])
def test_matches_skimage(size: int, channels: str) -> None:
    fakes, originals = _pairs(size)
    ref_scores, ref_maps = [], []
    for f, o in zip(fakes, originals, strict=True):
        if channels == "luma":
            score, smap = structural_similarity(to_luma(f), to_luma(o), **SKIMAGE_ARGS)
        else:
            score, smap = structural_similarity(f, o, channel_axis=-1, **SKIMAGE_ARGS)
            smap = smap.mean(axis=-1)
        ref_scores.append(score)
        ref_maps.append(smap)
    for backend in ("numpy", "torch"):
        for dtype in (np.float32, np.float64):
            scores, maps = ssim_batch(
                fakes, originals, channels=channels, backend=backend, dtype=dtype, device="cpu"
            )
            assert scores.shape == (4,) and maps.shape == (4, size, size)
            assert maps.dtype == np.float32
            np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
            np.testing.assert_allclose(maps, np.stack(ref_maps), atol=1e-3)
    assert scores[3] == pytest.approx(1.0)
    assert scores[0] < 0.9 and scores[1] < 0.9


def test_luma_misses_what_channel_mean_sees() -> None:
    """A pure channel permutation keeps most structure in luma but not per channel."""
    fakes, originals = _pairs(160)
    luma, _ = ssim_batch(fakes[2:3], originals[2:3], channels="luma", backend="numpy")
    mean, _ = ssim_batch(fakes[2:3], originals[2:3], channels="mean", backend="numpy")
    assert mean[0] < luma[0]


def test_identical_images_give_one_and_empty_mask() -> None:
    face = np.stack([_face(160), _hopper(160)])
    for backend in ("numpy", "torch"):
        scores, maps = ssim_batch(face, face, backend=backend, device="cpu")
        np.testing.assert_array_equal(scores, 1.0)
        np.testing.assert_array_equal(maps, 1.0)
        assert diff_mask(maps).max() == 0
        assert mask_area(maps).tolist() == [0.0, 0.0]
    rows = pl.DataFrame({"video_id": ["fake_a", "fake_a"], "ssim": scores})
    with pytest.warns(UserWarning, match="0 of 5 levels"):
        levels = assign_levels(video_stats(rows))
    assert levels.table["unaltered"].to_list() == [True]
    assert levels.table["level"].to_list() == [None]


def test_batches_and_grayscale_agree() -> None:
    fakes, originals = _pairs(160)
    a, ma = ssim_batch(fakes, originals, batch_size=1, backend="numpy")
    b, mb = ssim_batch(fakes, originals, batch_size=64, backend="numpy")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    g, _ = ssim_batch(to_luma(fakes), to_luma(originals), backend="numpy")
    np.testing.assert_allclose(g, a, atol=1e-6)
    s, none = ssim_batch(fakes, originals, backend="numpy", return_maps=False)
    assert none is None
    np.testing.assert_allclose(s, a, atol=1e-9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    fakes, originals = _pairs(299)
    gpu, gmaps = ssim_batch(fakes, originals, backend="torch", device="cuda")
    cpu, cmaps = ssim_batch(fakes, originals, backend="numpy")
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)
    np.testing.assert_allclose(gmaps, cmaps, atol=1e-3)


def test_rejects_bad_input() -> None:
    face = _face(160)[None]
    with pytest.raises(ValueError, match="shape"):
        ssim_batch(face, face[:, :100])
    with pytest.raises(ValueError, match="at least"):
        ssim_batch(face[:, :8, :8], face[:, :8, :8])
    with pytest.raises(ValueError, match="channels"):
        ssim_batch(face, face, channels="rgb")


def test_diff_mask_scaling_and_area() -> None:
    smap = np.array([[1.0, 0.5], [0.0, -1.0]], dtype=np.float32)
    np.testing.assert_array_equal(diff_mask(smap), [[0, 128], [255, 255]])
    assert diff_mask(smap).dtype == np.uint8
    assert mask_area(smap, threshold=0.25) == pytest.approx(0.75)
    assert mask_area(smap, threshold=0.6) == pytest.approx(0.5)
    stack = np.ones((2, 20, 20), dtype=np.float32)
    stack[1, 0, :] = 0.0  # a changed rim only
    assert mask_area(stack)[1] > 0
    assert mask_area(stack, border=WIN_RADIUS)[1] == 0


def test_swapped_region_shows_in_mask() -> None:
    fakes, originals = _pairs(160)
    _, maps = ssim_batch(fakes[1:2], originals[1:2], backend="numpy")
    mask = diff_mask(maps[0])
    inside = mask[50:110, 50:110].mean()
    outside = np.concatenate([mask[:30].ravel(), mask[-30:].ravel()]).mean()
    assert inside > 100 > 5 > outside


def test_video_stats() -> None:
    rows = pl.DataFrame(
        {
            "video_id": ["b", "a", "a", "a", "a", "b"],
            "ssim": [0.5, 0.9, 0.8, 0.7, 0.6, None],
            "mask_area": [0.4, 0.0, 0.1, 0.2, 0.3, 0.5],
        }
    )
    out = video_stats(rows)
    assert out.columns == [
        "video_id",
        "n_faces",
        "ssim_mean",
        "ssim_median",
        "ssim_p10",
        "ssim_min",
        "mask_area_mean",
    ]
    a = out.row(0, named=True)
    assert a["video_id"] == "a" and a["n_faces"] == 4
    assert a["ssim_mean"] == pytest.approx(0.75)
    assert a["ssim_median"] == pytest.approx(0.75)
    assert a["ssim_p10"] == pytest.approx(np.quantile([0.6, 0.7, 0.8, 0.9], 0.1))
    assert a["ssim_min"] == pytest.approx(0.6)
    assert a["mask_area_mean"] == pytest.approx(0.15)
    b = out.row(1, named=True)
    assert b["n_faces"] == 1 and b["ssim_mean"] == pytest.approx(0.5)
    no_area = video_stats(rows.drop("mask_area"), by=["video_id"])
    assert no_area["mask_area_mean"].null_count() == 2
