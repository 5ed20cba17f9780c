"""The level histogram: cut points, level names and bars on one axis (1 - SSIM per video)."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from deepfake_assets.fakes.figures import DPI, HISTOGRAM_SIZE, ssim_histogram
from deepfake_assets.fakes.levels import apply_levels


def test_cut_points_and_level_names_sit_on_the_axis_the_levels_are_cut_on() -> None:
    rng = np.random.default_rng(0)
    difference = np.concatenate([rng.uniform(0.02, 0.3, 40), [0.001, 0.002, np.nan]])
    cuts = [0.08, 0.15, 0.22]
    levels = apply_levels(difference, cuts)
    levels[difference < 0.005] = -1  # unaltered
    fig = ssim_histogram(difference, levels, cuts, unaltered_threshold=0.995)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())
    assert image.shape[:2] == (round(HISTOGRAM_SIZE[1] * DPI), round(HISTOGRAM_SIZE[0] * DPI))
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("1 - SSIM")
    vertical = sorted(
        round(line.get_xdata()[0], 6)
        for line in ax.get_lines()
        if isinstance(line, Line2D) and line.get_linestyle() == "--"
    )
    assert vertical == cuts
    # each level's name is drawn inside its band between the cut points
    edges = [0.0, *cuts, ax.get_xlim()[1]]
    names = {
        t.get_text(): t.get_position()[0] for t in ax.texts if t.get_text().startswith("level")
    }
    assert sorted(names) == ["level 0", "level 1", "level 2", "level 3"]
    for level in range(4):
        assert edges[level] < names[f"level {level}"] < edges[level + 1]
    # every video with a score is counted once: bars of all levels and the unaltered add up
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == 42
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "unaltered (2)"


def test_the_mean_ssim_axis_mirrors_the_difference_axis() -> None:
    fig = ssim_histogram(np.array([0.1, 0.2]), np.array([0, 1]), [0.15], 0.995)
    top = [a for a in fig.axes[0].child_axes]
    assert top and top[0].get_xlabel() == "mean SSIM"
