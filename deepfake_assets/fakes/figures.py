"""Pictures of the fakes for metadata: the level histogram and real / fake / mask rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.faces.figures import grid
from deepfake_assets.media.images import read_png

LEVEL_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7b3294", "#2c7bb6")
UNALTERED_COLOUR = "#9e9e9e"
HISTOGRAM_SIZE = (10.0, 4.5)  # inches
DPI = 90


def ssim_histogram(
    difference: np.ndarray,
    levels: np.ndarray,
    cut_points: list[float],
    unaltered_threshold: float,
    size: tuple[float, float] = HISTOGRAM_SIZE,
):
    """Fake videos by 1 - mean SSIM, the scale their levels are cut on, coloured by level.

    `difference` and `levels` have one entry per fake video (level < 0: unaltered or no
    score). The dashed cut points and the level names share that axis; SSIM itself is on the
    top axis. Returns a matplotlib figure of `size` inches at `DPI`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    difference = np.asarray(difference, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.int64)
    known = ~np.isnan(difference)
    fig, ax = plt.subplots(figsize=size, dpi=DPI, layout="constrained")
    hi = max(float(difference[known].max()) if known.any() else 0.0, *cut_points, 1e-3) * 1.08
    # the cut points are bin edges, so no bar holds two levels
    bins = np.unique(np.concatenate([np.linspace(0.0, hi, 41), cut_points]))
    used = sorted(int(v) for v in np.unique(levels[known]) if v >= 0)
    stacks, colours, names = [], [], []
    unaltered = known & (levels < 0)
    if unaltered.any():
        stacks.append(difference[unaltered])
        colours.append(UNALTERED_COLOUR)
        names.append(f"unaltered ({int(unaltered.sum())})")
    for level in used:
        chosen = known & (levels == level)
        stacks.append(difference[chosen])
        colours.append(LEVEL_COLOURS[level % len(LEVEL_COLOURS)])
        names.append(f"level {level} ({int(chosen.sum())})")
    if stacks:
        ax.hist(stacks, bins=bins, stacked=True, color=colours, label=names, edgecolor="white")
    top = ax.get_ylim()[1] * 1.18
    ax.set_ylim(0, top)
    edges = [0.0, *cut_points, hi]
    for cut in cut_points:
        ax.axvline(cut, color="#c0392b", linestyle="--", linewidth=1.2)
        ax.text(cut, top * 0.97, f" {cut:.3g}", color="#c0392b", fontsize=8, va="top")
    for level in used:
        if level + 1 < len(edges):
            centre = (edges[level] + edges[level + 1]) / 2
            ax.text(centre, top * 0.88, f"level {level}", ha="center", fontsize=9, weight="bold")
    cut_unaltered = 1.0 - unaltered_threshold
    ax.axvline(cut_unaltered, color=UNALTERED_COLOUR, linestyle=":", linewidth=1.2)
    ax.set_xlim(0, hi)
    ax.set_xlabel(
        "1 - SSIM of a fake video's faces vs its original's (mean per video; levels are cut "
        f"here, dashed; dotted: unaltered below {cut_unaltered:.3g})"
    )
    ax.set_ylabel("fake videos")
    top_axis = ax.secondary_xaxis("top", functions=(lambda d: 1 - d, lambda s: 1 - s))
    top_axis.set_xlabel("mean SSIM")
    if stacks:
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    return fig


def level_examples(
    table: pl.DataFrame, pairs: pl.DataFrame, data_dir: Path, per_level: int = 3
) -> np.ndarray | None:
    """Rows of (real, fake, mask) triplets, one row per level (seed 001's figure).

    `table` is the `fake_groups` rows (face_id, ssim, mask_path, fake_level); `pairs` gives
    each face_id its crop_160 and original_crop_160.
    """
    joined = table.join(
        pairs.select("face_id", "crop_160", "original_crop_160"), on="face_id"
    ).filter(pl.col("fake_level").is_not_null())
    if joined.is_empty():
        return None
    rows, labels = [], []
    for level in sorted(joined["fake_level"].unique().to_list()):
        of_level = joined.filter(pl.col("fake_level") == level).sort("ssim")
        sample = of_level.gather_every(max(1, of_level.height // per_level))
        row = []
        for r in sample.head(per_level).to_dicts():
            mask = read_png(data_dir / r["mask_path"])
            if mask.ndim == 2:
                mask = np.repeat(mask[..., None], 3, axis=2)
            row += [
                read_png(data_dir / r["original_crop_160"]),
                read_png(data_dir / r["crop_160"]),
                mask,
            ]
        rows.append(row)
        labels.append(f"level {level}")
    return grid(rows, labels, label_width=80)
