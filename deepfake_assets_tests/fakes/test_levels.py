"""Alteration levels: monotone in difference, cut points, unaltered fakes, tiny datasets."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from deepfake_assets.fakes.levels import (
    apply_levels,
    assign_levels,
    kmeans_cut_points,
    quantile_cut_points,
)
from deepfake_assets.fakes.ssim import ssim_batch, video_stats


def _stats(scores) -> pl.DataFrame:
    return pl.DataFrame(
        {"video_id": [f"v{i:03d}" for i in range(len(scores))], "ssim_mean": scores}
    )


@pytest.mark.parametrize("method", ["quantile", "kmeans"])
def test_levels_monotone_with_cut_points(method: str) -> None:
    rng = np.random.default_rng(1)
    scores = 1.0 - rng.gamma(2.0, 0.03, 500)
    result = assign_levels(_stats(scores), method=method)
    table = result.table.filter(pl.col("level").is_not_null()).sort("difference")
    assert table["level"].is_sorted()  # more difference never means a lower level
    assert len(result.cut_points) == 4 and result.n_levels_used == 5
    assert result.cut_points == sorted(result.cut_points)
    assert set(table["level"].to_list()) == {0, 1, 2, 3, 4}
    # the cut points reproduce the levels
    np.testing.assert_array_equal(
        apply_levels(table["difference"].to_numpy(), result.cut_points), table["level"]
    )
    meta = result.metadata()
    assert meta["cut_points"] == result.cut_points and meta["method"] == method
    assert sum(meta["level_counts"].values()) + result.n_unaltered == 500


def test_quantile_levels_are_balanced() -> None:
    scores = np.linspace(0.5, 0.99, 100)
    result = assign_levels(_stats(scores))
    assert list(result.level_counts.values()) == [20, 20, 20, 20, 20]


def test_kmeans_follows_gaps() -> None:
    rng = np.random.default_rng(2)
    centres = [0.02, 0.06, 0.12, 0.25, 0.5]
    sizes = [40, 5, 30, 10, 3]  # unbalanced clusters: quantiles would split them
    diffs = np.concatenate(
        [c + rng.normal(0, 0.003, n) for c, n in zip(centres, sizes, strict=True)]
    )
    result = assign_levels(_stats(1.0 - diffs), method="kmeans")
    assert list(result.level_counts.values()) == sizes
    for lo, cut, hi in zip(centres[:-1], result.cut_points, centres[1:], strict=True):
        assert lo < cut < hi
    np.testing.assert_allclose(kmeans_cut_points(diffs), result.cut_points, atol=1e-12)


def test_unaltered_are_flagged_and_not_grouped() -> None:
    scores = [1.0, 0.999, 0.995, 0.99, 0.9, 0.8, 0.7, 0.6]
    result = assign_levels(_stats(scores))
    assert result.table["unaltered"].to_list() == [True] * 3 + [False] * 5
    assert result.table["level"].to_list() == [None] * 3 + [0, 1, 2, 3, 4]
    assert result.n_unaltered == 3
    # unaltered fakes do not move the cut points
    assert result.cut_points == quantile_cut_points(1.0 - np.array(scores[3:]))
    strict = assign_levels(_stats(scores), unaltered_threshold=1.0)
    assert strict.n_unaltered == 1


def test_tied_differences_share_a_level() -> None:
    scores = [0.9] * 6 + [0.8] * 2 + [0.7] * 2
    with pytest.warns(UserWarning, match="only 3 of 5 levels"):
        result = assign_levels(_stats(scores))
    assert result.table["level"].to_list() == [0] * 6 + [1] * 2 + [2] * 2


@pytest.mark.parametrize("n", [0, 1, 2, 4])
@pytest.mark.parametrize("method", ["quantile", "kmeans"])
def test_fewer_fakes_than_levels(n: int, method: str) -> None:
    scores = [0.9 - 0.1 * i for i in range(n)]
    with pytest.warns(UserWarning, match=f"only {n} of 5 levels used"):
        result = assign_levels(_stats(scores), method=method)
    assert result.n_levels_used == n
    assert result.table["level"].to_list() == list(range(n))
    assert len(result.cut_points) == max(n - 1, 0)
    assert result.warnings


def test_five_fakes_no_warning_and_null_scores() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = assign_levels(_stats([0.9, 0.8, 0.7, 0.6, 0.5]))
    assert result.table["level"].to_list() == [0, 1, 2, 3, 4]
    with pytest.warns(UserWarning, match="no score"):
        result = assign_levels(_stats([0.9, 0.8, 0.7, 0.6, 0.5, None]))
    assert result.table.row(5, named=True)["level"] is None
    assert result.table.row(5, named=True)["unaltered"] is None


def test_levels_from_real_ssim_follow_degradation() -> None:
    """Fake videos of a real face, blurred progressively harder, land in increasing levels."""
    from skimage import data
    from skimage.filters import gaussian
    from skimage.transform import resize

    face = (resize(data.astronaut()[20:280, 120:380], (160, 160)) * 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    strengths = [0.0, 0.7, 1.2, 2.0, 3.0, 5.0]
    fakes, originals, videos = [], [], []
    for v, sigma in enumerate(strengths):
        for _ in range(3):  # three faces per fake video
            noisy = face.astype(float) + rng.normal(0, 1.0, face.shape)
            blurred = gaussian(noisy, sigma=sigma, channel_axis=-1, preserve_range=True)
            fakes.append(np.clip(np.rint(blurred if sigma else face), 0, 255).astype(np.uint8))
            originals.append(face)
            videos.append(f"fake{v}")
    scores, _ = ssim_batch(np.stack(fakes), np.stack(originals), backend="numpy")
    stats = video_stats(pl.DataFrame({"video_id": videos, "ssim": scores}))
    result = assign_levels(stats)
    levels = result.table.sort("video_id")["level"].to_list()
    assert levels == [None, 0, 1, 2, 3, 4]
