"""Frame plans: reproducible, seed 001's first-and-even, uniform, seed 000's balanced."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deepfake_assets.faces.sampling import (
    PLAN_SCHEMA,
    SamplingParams,
    first_and_even_indices,
    plan_source,
    resample_plan,
    shift_indices,
    stable_seed,
    uniform_indices,
    water_fill,
)


def _family_table(n_reals: int = 12, fakes_per_real: int = 5) -> pl.DataFrame:
    """Reals of varying length, each with ``fakes_per_real`` fakes (some shorter)."""
    rows = []
    for r in range(n_reals):
        length = 40 + 37 * r  # 40 .. 447 frames
        rows.append(
            {
                "video_id": f"r{r:02d}",
                "label": "REAL",
                "original_video_id": None,
                "frame_count": length,
            }
        )
        for k in range(fakes_per_real):
            rows.append(
                {
                    "video_id": f"r{r:02d}_f{k}",
                    "label": "FAKE",
                    "original_video_id": f"r{r:02d}",
                    "frame_count": length,
                }
            )
    return pl.DataFrame(rows)


def test_stable_seed_is_not_pythons_hash():
    assert stable_seed(7, "video") == stable_seed(7, "video")
    assert stable_seed(7, "video") != stable_seed(8, "video")
    assert 0 <= stable_seed(7, "a") < 2**64


def test_first_and_even_takes_first_ten_then_seven_spread():
    idx = first_and_even_indices(300)
    assert idx[:10] == list(range(10))
    tail = idx[10:]
    assert len(tail) == 7 and len(set(tail)) == 7
    assert 10 <= tail[0] < tail[-1] < 300
    gaps = np.diff(tail)
    assert gaps.max() - gaps.min() <= 1  # evenly spaced
    assert tail[-1] > 250  # reaches the end of the video


def test_first_and_even_parameters_and_short_video():
    assert first_and_even_indices(100, first=3, evenly=2) == [0, 1, 2, 27, 75]
    assert first_and_even_indices(12) == list(range(12))
    assert first_and_even_indices(0) == []


def test_uniform_matches_deepfakebench_linspace():
    assert uniform_indices(100, 5) == [0, 24, 49, 74, 99]
    assert uniform_indices(3, 5) == [0, 1, 2]


def test_plan_is_deterministic_and_seed_dependent():
    table = _family_table(4, 2)
    a = plan_source(table, "balanced", seed=1)
    b = plan_source(table, "balanced", seed=1)
    c = plan_source(table, "balanced", seed=2)
    assert a.frames.equals(b.frames)
    assert not a.frames.equals(c.frames)
    assert a.frames.schema == pl.Schema(PLAN_SCHEMA)


def test_adding_a_video_does_not_change_other_first_and_even_plans():
    table = _family_table(3, 1)
    more = pl.concat([table, _family_table(4, 1).filter(pl.col("video_id").str.starts_with("r03"))])
    a = plan_source(table, "first_and_even", 0).as_dict()
    b = plan_source(more, "first_and_even", 0).as_dict()
    assert all(a[v] == b[v] for v in a)


def test_first_and_even_fakes_copy_their_original_and_short_videos_are_flagged():
    table = pl.DataFrame(
        {
            "video_id": ["real", "fake", "short_fake", "tiny", "orphan", "unknown"],
            "label": ["REAL", "FAKE", "FAKE", "REAL", "FAKE", "REAL"],
            "original_video_id": [None, "real", "real", None, "gone", None],
            "frame_count": [300, 300, 200, 12, 50, None],
        }
    )
    plan = plan_source(table, "first_and_even", seed=3)
    d = plan.as_dict()
    assert d["fake"] == d["real"] == first_and_even_indices(300)
    assert d["short_fake"] == [i for i in d["real"] if i < 200]
    assert d["tiny"] == list(range(12))
    assert d["orphan"] == first_and_even_indices(50)
    assert "unknown" not in d
    info = {r["video_id"]: r for r in plan.videos.iter_rows(named=True)}
    assert info["tiny"]["short"] and info["tiny"]["reason"].startswith("too_few_frames")
    assert info["short_fake"]["short"] and "shorter_than_original" in info["short_fake"]["reason"]
    assert info["orphan"]["reason"] == "orphan_fake"
    assert info["unknown"]["reason"] == "unknown_frame_count" and info["unknown"]["planned"] == 0
    assert not info["real"]["short"] and info["real"]["reason"] is None
    assert plan.videos.height == table.height


def test_balanced_equal_totals_with_five_fakes_per_real():
    table = _family_table(12, 5)
    plan = plan_source(table, "balanced", seed=11, frames_per_fake=4, max_frames_per_video=64)
    lab = plan.frames.join(table.select("video_id", "label"), on="video_id")
    counts = lab.group_by("label").len()
    totals = dict(zip(counts["label"], counts["len"], strict=True))
    assert totals["REAL"] == totals["FAKE"] == 12 * 5 * 4
    assert plan.balance["residual"] == 0
    d = plan.as_dict()
    for r in range(12):
        real = d[f"r{r:02d}"]
        assert len(real) == 20  # about five times the 4 frames each fake takes
        assert len(set(real)) == len(real) and max(real) < 40 + 37 * r
        for k in range(5):
            fake = d[f"r{r:02d}_f{k}"]
            assert len(fake) == 4 and set(fake) <= set(real)
    # different fakes of one original take different subsets (random, seeded by fake id)
    assert len({tuple(d[f"r00_f{k}"]) for k in range(5)}) > 1


def test_balanced_caps_short_reals_and_spreads_the_rest():
    rows = [
        {"video_id": "a", "label": "REAL", "original_video_id": None, "frame_count": 6},
        {"video_id": "b", "label": "REAL", "original_video_id": None, "frame_count": 500},
        {"video_id": "c", "label": "REAL", "original_video_id": None, "frame_count": 500},
    ]
    rows += [
        {"video_id": f"a{k}", "label": "FAKE", "original_video_id": "a", "frame_count": 6}
        for k in range(5)
    ]
    rows += [
        {"video_id": f"b{k}", "label": "FAKE", "original_video_id": "b", "frame_count": 500}
        for k in range(2)
    ]
    table = pl.DataFrame(rows)
    plan = plan_source(table, "balanced", seed=0, frames_per_fake=4, max_frames_per_video=64)
    d = plan.as_dict()
    assert len(d["a"]) == 6  # capped by its length, every frame taken
    assert len(d["a"]) + len(d["b"]) + len(d["c"]) == 7 * 4  # c, without fakes, takes a share
    assert abs(len(d["b"]) - len(d["c"])) <= 1
    assert plan.balance["residual"] == 0
    for k in range(5):
        assert set(d[f"a{k}"]) <= set(d["a"])


def test_balanced_trims_fakes_when_reals_are_too_short():
    rows = [{"video_id": "r", "label": "REAL", "original_video_id": None, "frame_count": 8}]
    rows += [
        {"video_id": f"f{k}", "label": "FAKE", "original_video_id": "r", "frame_count": 8}
        for k in range(5)
    ]
    plan = plan_source(pl.DataFrame(rows), "balanced", seed=5, frames_per_fake=4)
    d = plan.as_dict()
    assert len(d["r"]) == 8
    assert sum(len(d[f"f{k}"]) for k in range(5)) == 8
    assert plan.balance["residual"] == 0
    assert "trimmed" in plan.balance["note"]


def test_balanced_reports_residual_of_shorter_fake_and_handles_no_fakes():
    rows = [
        {"video_id": "r", "label": "REAL", "original_video_id": None, "frame_count": 400},
        {"video_id": "f", "label": "FAKE", "original_video_id": "r", "frame_count": 2},
    ]
    plan = plan_source(pl.DataFrame(rows), "balanced", seed=9, frames_per_fake=4)
    assert plan.balance["real_frames"] == 2
    assert plan.balance["fake_frames"] <= 2
    assert plan.balance["residual"] == plan.balance["real_frames"] - plan.balance["fake_frames"]

    reals_only = pl.DataFrame(
        {"video_id": ["x", "y"], "label": ["REAL", "REAL"], "frame_count": [100, 3]}
    )
    plan = plan_source(reals_only, "balanced", seed=9, real_only_frames=5)
    assert len(plan.indices("x")) == 5 and len(plan.indices("y")) == 3
    assert "no fakes" in plan.balance["note"]
    row = plan.videos.filter(pl.col("video_id") == "y").row(0, named=True)
    assert row["short"]


def test_water_fill_is_even_and_respects_caps_and_floors():
    rng = np.random.default_rng(0)
    a = water_fill([10, 10, 2, 10], 20, rng, floors=[7, 0, 0, 0])
    assert a.sum() == 20 and a[0] == 7 and a[2] == 2
    assert sorted(a.tolist()) == [2, 5, 6, 7]
    assert water_fill([3, 3], 100, rng).tolist() == [3, 3]


def test_resample_shifts_by_offset_and_wraps():
    assert shift_indices([0, 5, 95], 20, 100) == [15, 20, 25]
    assert shift_indices([0, 95], 20, None) == [20, 115]
    table = _family_table(2, 1)
    plan = plan_source(table, "first_and_even", 1)
    counts = table.select("video_id", "frame_count")
    again = resample_plan(plan.frames, 20, counts)
    assert again["plan_round"].unique().to_list() == [1]
    first = plan.indices("r01")
    assert again.filter(pl.col("video_id") == "r01")["frame_index"].to_list() == shift_indices(
        first, 20, 77
    )


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="strategy"):
        plan_source(_family_table(1, 1), "nope", 0)
    with pytest.raises(ValueError, match="columns"):
        plan_source(pl.DataFrame({"video_id": ["a"]}), "uniform", 0)
    with pytest.raises(TypeError):
        plan_source(_family_table(1, 1), "uniform", 0, not_a_param=3)
    assert SamplingParams(num_frames=8).num_frames == 8
