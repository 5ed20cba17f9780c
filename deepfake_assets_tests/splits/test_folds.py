"""Two-level folds (seed 001): actor-disjoint, 85/15 levels, five balanced folds per level."""

from __future__ import annotations

import warnings

import polars as pl
import pytest

from deepfake_assets.splits.folds import assign_folds
from deepfake_assets_tests.splits.synthetic import synthetic_faces


@pytest.fixture(scope="module")
def faces() -> pl.DataFrame:
    return synthetic_faces(300, seed=4, test_only_source="dffd", test_only_share=0.03)


@pytest.fixture(scope="module")
def folds(faces: pl.DataFrame):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = assign_folds(faces, seed=0)
    assert [str(w.message) for w in caught] == res.warnings
    return res


def test_levels_85_15(folds) -> None:
    kept = folds.faces.filter(pl.col("level").is_not_null())
    share = (kept["level"] == 1).mean()
    assert share == pytest.approx(0.85, abs=0.01)
    assert set(kept["level"]) == {1, 2}
    lv = folds.level_report.filter(pl.col("scope") == "overall")
    assert lv["share"].to_list() == pytest.approx([share, 1 - share])


def test_folds_balanced_within_levels(folds) -> None:
    kept = folds.faces.filter(pl.col("level").is_not_null())
    for level, part in kept.group_by("level"):
        counts = part.group_by("fold").len()
        assert sorted(counts["fold"].to_list()) == [0, 1, 2, 3, 4]
        shares = counts["len"] / part.height
        assert ((shares - 0.2).abs() < 0.02).all(), (level, shares.to_list())


def test_actor_disjoint(folds) -> None:
    kept = folds.faces.filter(pl.col("level").is_not_null())
    per_actor = kept.group_by("actor_id").agg(pl.struct("level", "fold").n_unique().alias("n"))
    assert per_actor["n"].max() == 1
    per_video = kept.group_by("source", "original_video_id", "video_id").agg(
        pl.struct("level", "fold").n_unique().alias("n")
    )
    assert per_video["n"].max() == 1
    fakes = kept.filter(pl.col("label") == "FAKE").join(
        kept.filter(pl.col("label") == "REAL").select(
            "source", pl.col("video_id").alias("original_video_id"),
            pl.col("level").alias("l0"), pl.col("fold").alias("f0"),
        ).unique(),
        on=["source", "original_video_id"],
    )  # fmt: skip
    assert (fakes["level"] == fakes["l0"]).all() and (fakes["fold"] == fakes["f0"]).all()


def test_test_only_left_out(folds, faces: pl.DataFrame) -> None:
    held_out = faces.filter(pl.col("test_only"))["actor_id"].unique().to_list()
    out = folds.faces.filter(pl.col("actor_id").is_in(held_out))
    assert out["level"].null_count() == out.height > 0
    assert folds.excluded_faces == out.height
    assert any("left out of the folds" in w for w in folds.warnings)
    included = assign_folds(faces, exclude_test_only=False, seed=0)
    assert included.faces["level"].null_count() == 0


def test_gender_spread_over_levels(folds) -> None:
    g = folds.level_report.filter(pl.col("scope") == "gender")
    assert ((g["share"] - g["target"]).abs() < 0.03).all()


def test_deterministic(faces: pl.DataFrame, folds) -> None:
    with pytest.warns(UserWarning, match="left out of the folds"):
        again = assign_folds(faces, seed=0)
    assert again.faces.equals(folds.faces)
    meta = again.metadata()
    assert meta["n_folds"] == 5 and len(meta["fold_faces"]) == 10


@pytest.mark.parametrize("n_actors", [1, 2, 4])
def test_small_datasets(n_actors: int) -> None:
    faces = synthetic_faces(n_actors, seed=n_actors, max_videos=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = assign_folds(faces, seed=0)
    assert res.faces["level"].null_count() == 0
    per_actor = res.faces.group_by("actor_id").agg(pl.struct("level", "fold").n_unique())
    assert per_actor["level"].max() == 1
    messages = [str(w.message) for w in caught]
    assert any("folds are empty" in m or "is empty" in m for m in messages)
    if n_actors >= 2:
        assert set(res.faces["level"]) == {1, 2}


def test_folds_of_split_output() -> None:
    from deepfake_assets.splits.assign import assign_splits

    faces = synthetic_faces(120, seed=5)
    splits = assign_splits(faces, seed=0)
    train_val = splits.faces.filter(pl.col("split") != "test")
    res = assign_folds(train_val, seed=0)
    assert res.faces.columns == [*faces.columns, "split", "group_id", "level", "fold"]
    assert res.faces.height == train_val.height
    assert res.faces["level"].null_count() == 0
    with pytest.raises(ValueError, match="level"):
        assign_folds(res.faces)


def test_every_group_test_only_leaves_no_folds_and_a_readable_summary() -> None:
    """An image source marked --test-only that shares a person with every other source puts
    every group in test: no folds at all, and the summary says so instead of failing."""
    faces = synthetic_faces(4, seed=3, max_videos=1).with_columns(pl.lit(True).alias("test_only"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = assign_folds(faces, seed=0)
    assert res.faces["level"].null_count() == res.faces.height == res.excluded_faces
    meta = res.metadata()
    assert meta["fold_faces"] == {} and meta["excluded_faces"] == res.faces.height
