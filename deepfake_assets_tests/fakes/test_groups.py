"""The `fake_groups` rows on plain tables: pairs, scores in pair order, levels per video."""

from __future__ import annotations

import numpy as np
import polars as pl

from deepfake_assets.fakes.groups import (
    FAKE_GROUPS_SCHEMA,
    empty_fake_groups,
    fake_pairs,
    group_fakes,
    scored_table,
)
from deepfake_assets.fakes.ssim_tasks import SsimBatch


def _faces() -> pl.DataFrame:
    """Real `r` (2 frames), its fakes `a` (both frames) and `b` (one), and an orphan fake `o`
    detected on itself (its own boxes: no original face to pair with)."""
    rows = [
        ("r", "REAL", "r", 0),
        ("r", "REAL", "r", 1),
        ("a", "FAKE", "r", 0),
        ("a", "FAKE", "r", 1),
        ("b", "FAKE", "r", 1),
        ("o", "FAKE", "o", 0),
    ]
    return pl.DataFrame(
        {
            "face_id": [f"s/{v}/{i:06d}/0" for v, _, _, i in rows],
            "source": ["s"] * len(rows),
            "video_id": [v for v, _, _, _ in rows],
            "label": [label for _, label, _, _ in rows],
            "box_source": [b for _, _, b, _ in rows],
            "frame_index": [i for _, _, _, i in rows],
            "track": pl.Series([0] * len(rows), dtype=pl.Int32),
            "crop_160": [f"faces/s/{v}/{i:06d}_0_160.png" for v, _, _, i in rows],
        }
    )


def test_each_fake_face_is_paired_with_its_original_at_the_same_frame_and_track():
    pairs = fake_pairs(_faces()).sort("video_id", "frame_index")
    assert pairs.select("video_id", "frame_index", "original_face_id").rows() == [
        ("a", 0, "s/r/000000/0"),
        ("a", 1, "s/r/000001/0"),
        ("b", 1, "s/r/000001/0"),
    ]
    assert pairs["original_crop_160"][2] == "faces/s/r/000001_0_160.png"


def test_scores_follow_the_pairs_and_levels_are_joined_per_video():
    pairs = fake_pairs(_faces()).sort("video_id", "frame_index")
    batches = [
        SsimBatch(np.array([0.5, 0.7]), np.array([0.3, 0.1]), ["m/a0.png", "m/a1.png"], []),
        SsimBatch(np.array([0.999]), np.array([0.0]), ["m/b1.png"], []),
    ]
    scored = scored_table(pairs, batches)
    assert scored["ssim"].to_list() == [0.5, 0.7, 0.999]
    assert scored["mask_path"].to_list() == ["m/a0.png", "m/a1.png", "m/b1.png"]
    assert scored["original_video_id"].to_list() == ["r", "r", "r"]
    groups = group_fakes(scored, method="quantile", n_levels=5, unaltered_ssim=0.995)
    assert groups.table.schema == pl.Schema(FAKE_GROUPS_SCHEMA)
    per_video = groups.table.unique("video_id").sort("video_id")
    assert per_video["video_ssim_mean"].to_list() == [0.6, 0.999]
    assert per_video["unaltered"].to_list() == [False, True]
    assert per_video["fake_level"].to_list() == [0, None]  # an unaltered fake gets no level
    assert groups.stats.height == 2
    assert groups.warnings == [
        "only 1 of 5 levels used: 1 altered fakes with 1 distinct differences"
    ]


def test_no_fakes_is_an_empty_table_with_the_schema():
    assert fake_pairs(_faces().filter(pl.col("label") == "REAL")).is_empty()
    assert empty_fake_groups().schema == pl.Schema(FAKE_GROUPS_SCHEMA)
