"""Alteration levels: group fakes into levels 0-4 by how far they are from their original.

The difference of a fake is d = 1 - mean SSIM (per fake video from `video_stats`, or per face
from `ssim_batch`). Level 0 holds the fakes closest to their originals, level 4 the furthest.

Cut points are on the d scale; a value d gets level ``searchsorted(cut_points, d, "right")``,
i.e. level i when cut_points[i-1] <= d < cut_points[i]. They go into the asset's metadata and
`apply_levels` reuses them, e.g. to label single faces with the cuts learnt on videos.

Methods:
- "quantile" (default): sort the altered fakes by d, cut them into n_levels runs of (nearly)
  equal size, and put each cut half-way between the last value of one run and the first of the
  next; a run boundary that falls inside a run of tied values moves to the end of the ties, so
  equal d always share a level. Levels come out balanced (~20 % of fakes each), which is what
  they are for: classes to stratify and train on. The cuts depend only on ranks, so one broken
  fake with SSIM 0.1 does not get a level to itself.
- "kmeans": optimal 1-d k-means (dynamic programming, see `kmeans_cut_points`); cuts are the
  midpoints between adjacent centres. It follows natural gaps in d (e.g. one generation method
  per cluster) at the price of unbalanced, outlier-sensitive levels.

Fakes whose mean SSIM is at least `unaltered_threshold` (0.995 by default) show no visible
change (often a "fake" that failed to render, or a re-encode of the real) and are flagged
``unaltered`` with a null level; they do not count when cut points are computed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

__all__ = [
    "UNALTERED_SSIM",
    "N_LEVELS",
    "LevelResult",
    "assign_levels",
    "apply_levels",
    "quantile_cut_points",
    "kmeans_cut_points",
]

UNALTERED_SSIM = 0.995
N_LEVELS = 5

Method = Literal["quantile", "kmeans"]


@dataclass(frozen=True)
class LevelResult:
    """Levels of fakes and how they were made (everything here goes into metadata).

    table: the input rows plus ``difference`` (f64, 1 - score), ``unaltered`` (bool; null for
        a null score) and ``level`` (i8, 0..n_levels_used-1; null for unaltered fakes and null
        scores).
    cut_points: increasing thresholds on the difference scale, length n_levels_used - 1.
    """

    table: pl.DataFrame
    cut_points: list[float]
    method: str
    n_levels_requested: int
    n_levels_used: int
    unaltered_threshold: float
    n_unaltered: int
    level_counts: dict[int, int]
    warnings: list[str] = field(default_factory=list)

    def metadata(self) -> dict:
        """A JSON-ready summary for the asset's metadata."""
        return {
            "method": self.method,
            "cut_points": self.cut_points,
            "n_levels_requested": self.n_levels_requested,
            "n_levels_used": self.n_levels_used,
            "unaltered_threshold": self.unaltered_threshold,
            "n_unaltered": self.n_unaltered,
            "level_counts": {str(k): v for k, v in self.level_counts.items()},
            "warnings": list(self.warnings),
        }


def _run_boundaries(sorted_d: np.ndarray, k: int) -> list[int]:
    """Start indices (exclusive of 0) of k nearly equal runs, moved past ties; deduplicated."""
    n = len(sorted_d)
    bounds: list[int] = []
    for i in range(1, k):
        b = int(round(i * n / k))
        # move the boundary to the end of a run of ties so equal values share a level
        b = int(np.searchsorted(sorted_d, sorted_d[b - 1], side="right")) if 0 < b < n else b
        if 0 < b < n and (not bounds or b > bounds[-1]):
            bounds.append(b)
    return bounds


def quantile_cut_points(differences: np.ndarray, n_levels: int = N_LEVELS) -> list[float]:
    """Cut points that split `differences` into up to `n_levels` equal-count runs (see module)."""
    d = np.sort(np.asarray(differences, dtype=np.float64))
    if len(d) == 0 or n_levels < 2:
        return []
    bounds = _run_boundaries(d, n_levels)
    return [float((d[b - 1] + d[b]) / 2) for b in bounds]


def kmeans_cut_points(
    differences: np.ndarray, n_levels: int = N_LEVELS, max_bins: int = 2000, max_iter: int = 300
) -> list[float]:
    """Cut points of 1-d k-means: midpoints between adjacent cluster centres.

    Globally optimal on the distinct values (dynamic programming over sorted, weighted
    points), so unlike Lloyd's iterations it cannot stop in a local minimum. Beyond `max_bins`
    distinct values the DP runs on bins (equal-width and equal-count edges combined) and
    Lloyd's iterations on the raw values then polish the boundaries.
    """
    d = np.sort(np.asarray(differences, dtype=np.float64))
    d = d[~np.isnan(d)]
    if len(d) == 0 or n_levels < 2:
        return []
    values, weights = np.unique(d, return_counts=True)
    binned = len(values) > max_bins
    if binned:
        half = max_bins // 2
        edges = np.unique(
            np.concatenate(
                [np.linspace(d[0], d[-1], half + 1), np.quantile(d, np.linspace(0, 1, half + 1))]
            )
        )
        idx = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, len(edges) - 2)
        weights = np.bincount(idx, minlength=len(edges) - 1).astype(np.float64)
        sums = np.bincount(idx, weights=d, minlength=len(edges) - 1)
        keep = weights > 0
        values, weights = sums[keep] / weights[keep], weights[keep]
    centres = _kmeans_dp(values, weights.astype(np.float64), min(n_levels, len(values)))
    if binned:
        centres = _lloyd(d, centres, max_iter)
    return [float(c) for c in (centres[:-1] + centres[1:]) / 2]


def _kmeans_dp(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Optimal weighted 1-d k-means centres of sorted distinct x (O(k m^2) vectorised)."""
    m = len(x)
    xc = x - np.average(x, weights=w)  # centred: less cancellation in the prefix sums
    W = np.concatenate([[0.0], np.cumsum(w)])
    S1 = np.concatenate([[0.0], np.cumsum(w * xc)])
    S2 = np.concatenate([[0.0], np.cumsum(w * xc * xc)])
    i = np.arange(m + 1)[:, None]
    j = np.arange(m + 1)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = (S2[j] - S2[i]) - (S1[j] - S1[i]) ** 2 / (W[j] - W[i])
    cost = np.where(i < j, np.maximum(cost, 0.0), np.inf)  # segment [i, j) of sorted points
    best = cost[0].copy()  # one cluster covering [0, j)
    back = []
    for _ in range(1, k):
        total = best[:, None] + cost  # last cluster is [i, j)
        arg = np.argmin(total, axis=0)
        back.append(arg)
        best = total[arg, np.arange(m + 1)]
    bounds = [m]
    for arg in reversed(back):
        bounds.append(int(arg[bounds[-1]]))
    bounds = sorted(set(bounds + [0]))
    return np.array(
        [np.average(x[a:b], weights=w[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    )


def _lloyd(d: np.ndarray, centres: np.ndarray, max_iter: int) -> np.ndarray:
    """Lloyd's iterations on sorted values from given centres, until the partition settles."""
    previous = None
    for _ in range(max_iter):
        cuts = (centres[:-1] + centres[1:]) / 2
        idx = np.searchsorted(d, cuts, side="left")  # values equal to a cut go up
        idx = np.unique(idx[(idx > 0) & (idx < len(d))])  # empty clusters disappear
        if previous is not None and np.array_equal(idx, previous):
            break
        previous = idx
        centres = np.array([r.mean() for r in np.split(d, idx)])
    return centres


def apply_levels(differences: np.ndarray, cut_points: list[float]) -> np.ndarray:
    """Level of each difference for given cut points (int64; NaN -> -1)."""
    d = np.asarray(differences, dtype=np.float64)
    levels = np.searchsorted(np.asarray(cut_points, dtype=np.float64), d, side="right")
    return np.where(np.isnan(d), -1, levels).astype(np.int64)


def assign_levels(
    stats: pl.DataFrame,
    *,
    score_col: str = "ssim_mean",
    method: Method = "quantile",
    n_levels: int = N_LEVELS,
    unaltered_threshold: float = UNALTERED_SSIM,
) -> LevelResult:
    """Flag unaltered fakes and group the others into levels 0..n_levels-1 by 1 - score.

    `stats` has one row per fake (video rows from `video_stats`, or face rows) with a mean
    SSIM in `score_col`. With fewer altered fakes (or fewer distinct differences) than
    `n_levels`, fewer levels are used (0..m-1) and a warning says so.
    """
    if n_levels < 1:
        raise ValueError("n_levels must be at least 1")
    if method not in ("quantile", "kmeans"):
        raise ValueError(f"method must be 'quantile' or 'kmeans', got {method!r}")
    score = stats.get_column(score_col).cast(pl.Float64).fill_nan(None).to_numpy()
    score = np.asarray(score, dtype=np.float64)  # nulls -> NaN
    missing = np.isnan(score)
    unaltered = score >= unaltered_threshold  # NaN compares False
    altered = ~unaltered & ~missing
    diff = 1.0 - score
    notes: list[str] = []

    d_alt = diff[altered]
    if method == "quantile":
        cuts = quantile_cut_points(d_alt, n_levels)
    else:
        cuts = kmeans_cut_points(d_alt, n_levels)
    used = len(cuts) + 1 if len(d_alt) else 0
    levels = np.where(altered, apply_levels(np.where(altered, diff, 0.0), cuts), -1)

    if used < n_levels:
        notes.append(
            f"only {used} of {n_levels} levels used: {len(d_alt)} altered fakes with "
            f"{len(np.unique(d_alt))} distinct differences"
        )
    n_null = int(np.isnan(score).sum())
    if n_null:
        notes.append(f"{n_null} fakes have no score and get no level")
    for note in notes:
        warnings.warn(note, stacklevel=2)

    table = (
        stats.with_columns(
            pl.Series("difference", diff, dtype=pl.Float64).fill_nan(None),
            pl.Series("unaltered", unaltered, dtype=pl.Boolean),
            pl.Series("_missing", missing, dtype=pl.Boolean),
            pl.Series("level", levels, dtype=pl.Int8),
        )
        .with_columns(
            pl.when(pl.col("level") >= 0).then(pl.col("level")).alias("level"),
            pl.when(~pl.col("_missing")).then(pl.col("unaltered")).alias("unaltered"),
        )
        .drop("_missing")
    )
    counts = {int(lv): int((levels == lv).sum()) for lv in range(used)}
    return LevelResult(
        table=table,
        cut_points=cuts,
        method=method,
        n_levels_requested=n_levels,
        n_levels_used=used,
        unaltered_threshold=unaltered_threshold,
        n_unaltered=int(unaltered.sum()),
        level_counts=counts,
        warnings=notes,
    )
