"""Train/val/test assignment: ratios, leakage, stratification, test-only sources, tiny datasets."""

from __future__ import annotations

import warnings

import polars as pl
import pytest

from deepfake_assets.splits.assign import SPLITS, assign_splits
from deepfake_assets_tests.splits.synthetic import synthetic_faces

RATIOS = {"train": 0.80, "val": 0.15, "test": 0.05}


@pytest.fixture(scope="module")
def faces() -> pl.DataFrame:
    return synthetic_faces(300, seed=0)


@pytest.fixture(scope="module")
def result(faces: pl.DataFrame):
    return assign_splits(faces, seed=0)


def _assign_recording(faces: pl.DataFrame, **kwargs):
    """assign_splits, returning the result and the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = assign_splits(faces, **kwargs)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert messages == res.warnings
    return res, messages


def _shares(table: pl.DataFrame, by: str | None = None) -> dict:
    keys = ["split"] if by is None else [by, "split"]
    counts = table.group_by(keys).len()
    if by is None:
        total = counts["len"].sum()
        return {r["split"]: r["len"] / total for r in counts.iter_rows(named=True)}
    out: dict = {}
    for cat, part in counts.group_by(by):
        total = part["len"].sum()
        out[cat[0]] = {r["split"]: r["len"] / total for r in part.iter_rows(named=True)}
    return out


def test_overall_ratios(result, faces: pl.DataFrame) -> None:
    assert result.faces.height == faces.height
    assert result.faces["face_id"].sort().equals(faces["face_id"].sort())
    shares = _shares(result.faces)
    for split, target in RATIOS.items():
        assert shares[split] == pytest.approx(target, abs=0.01)
    assert result.achieved() == pytest.approx(shares)
    assert not result.warnings


def test_no_actor_in_two_splits(result) -> None:
    per_actor = result.faces.group_by("actor_id").agg(pl.col("split").n_unique())
    assert per_actor["split"].max() == 1
    assert result.actors["actor_id"].is_unique().all()
    # each split has many actors, not a handful of big ones
    actors = result.actors.group_by("split").len()
    assert dict(actors.iter_rows())["test"] >= 5


def test_fakes_with_their_originals(result) -> None:
    f = result.faces
    videos = f.group_by("source", "video_id").agg(pl.col("split").n_unique())
    assert videos["split"].max() == 1
    originals = (
        f.filter(pl.col("label") == "REAL")
        .select(
            "source", pl.col("video_id").alias("original_video_id"), pl.col("split").alias("orig")
        )
        .unique()
    )
    fakes = f.filter(pl.col("label") == "FAKE").join(
        originals, on=["source", "original_video_id"], how="left"
    )
    assert fakes["orig"].null_count() == 0
    assert (fakes["split"] == fakes["orig"]).all()


@pytest.mark.parametrize("attr", ["gender", "source", "label", "race"])
def test_categories_close_to_ratio(result, attr: str) -> None:
    for category, shares in _shares(result.faces, attr).items():
        tol = 0.05 if category == "d" else 0.025  # race "d" has ~15 actors
        for split, target in RATIOS.items():
            assert shares.get(split, 0.0) == pytest.approx(target, abs=tol), (category, split)


def test_age_bands_close_to_ratio(result) -> None:
    ages = result.report.filter(pl.col("scope") == "age")
    assert set(ages["category"]) <= {"<20", "20-29", "30-39", "40-49", "50-59", "60+"}
    big = ages.filter(pl.col("actors").sum().over("category") >= 30)
    assert ((big["share"] - big["target"]).abs() < 0.04).all()


def test_report_schema(result) -> None:
    rep = result.report
    assert rep.columns == [
        "scope", "category", "split", "faces", "actors", "videos", "share", "target"
    ]  # fmt: skip
    assert set(rep["scope"]) == {"overall", "source", "label", "gender", "age", "race"}
    overall = rep.filter(pl.col("scope") == "overall")
    assert overall["split"].to_list() == list(SPLITS)
    assert overall["faces"].sum() == result.faces.height
    assert result.videos.columns == [
        "source", "video_id", "original_video_id", "label", "group_id", "split", "n_faces"
    ]  # fmt: skip
    assert result.videos["n_faces"].sum() == result.faces.height
    meta = result.metadata()
    assert set(meta["achieved"]) == set(SPLITS) and meta["warnings"] == []


def test_deterministic_and_row_order_free(faces: pl.DataFrame, result) -> None:
    again = assign_splits(faces, seed=0)
    assert again.faces.equals(result.faces)
    shuffled = assign_splits(faces.sample(fraction=1.0, shuffle=True, seed=3), seed=0)
    a = result.faces.select("face_id", "split").sort("face_id")
    b = shuffled.faces.select("face_id", "split").sort("face_id")
    assert a.equals(b)


def test_test_only_source_goes_to_test() -> None:
    faces = synthetic_faces(300, seed=1, test_only_source="dffd", test_only_share=0.03)
    res, messages = _assign_recording(faces, seed=0)
    assert any("ordinary sources went to test" in m for m in messages)
    f = res.faces
    assert (f.filter(pl.col("test_only"))["split"] == "test").all()
    # their actors are test actors everywhere, also in ordinary sources
    held_out = f.filter(pl.col("test_only"))["actor_id"].unique()
    assert (f.filter(pl.col("actor_id").is_in(held_out.to_list()))["split"] == "test").all()
    assert (
        res.forced_test_faces
        == f.filter(pl.col("actor_id").is_in(held_out.to_list()) & ~pl.col("test_only")).height
    )
    dffd = res.report.filter((pl.col("scope") == "source") & (pl.col("category") == "dffd"))
    assert dffd["target"].to_list() == [0.0, 0.0, 1.0]
    assert dffd["share"].to_list() == [0.0, 0.0, 1.0]
    ordinary = _shares(f.filter(~pl.col("actor_id").is_in(held_out.to_list())))
    assert ordinary["train"] / ordinary["val"] == pytest.approx(80 / 15, rel=0.15)


def test_test_only_larger_than_test_share_warns() -> None:
    faces = synthetic_faces(200, seed=2, test_only_source="dffd", test_only_share=0.2)
    res, messages = _assign_recording(faces, seed=0)
    assert any("in test-only sources hold" in m for m in messages)
    eff = res.effective_ratios
    assert eff[2] > 0.05 and eff[0] / eff[1] == pytest.approx(80 / 15)
    shares = res.achieved()
    assert shares["train"] / shares["val"] == pytest.approx(80 / 15, rel=0.1)


def test_fake_without_actor_follows_original_and_shared_videos_join_actors() -> None:
    rows = []
    for a in range(40):
        for f in range(10):
            rows.append(dict(face_id=f"r{a}_{f}", video_id=f"v{a}", actor_id=f"p{a}"))
            rows.append(dict(face_id=f"x{a}_{f}", video_id=f"v{a}_fake", actor_id=None,
                             original_video_id=f"v{a}", label="FAKE"))  # fmt: skip
    # actors p0 and p1 both appear in video "duo" (two faces per frame)
    rows += [dict(face_id=f"d{i}", video_id="duo", actor_id=f"p{i % 2}") for i in range(4)]
    faces = pl.DataFrame(rows, schema_overrides={"original_video_id": pl.Utf8})
    res = assign_splits(faces, seed=0)
    split = dict(res.faces.select("face_id", "split").iter_rows())
    for a in range(40):
        assert split[f"x{a}_0"] == split[f"r{a}_0"]
    assert split["r0_0"] == split["r1_0"] == split["d0"]
    assert res.groups.height == 39
    assert set(res.actors["actor_key"].str.slice(0, 2)) == {"a:"}  # fakes joined their actor


@pytest.mark.parametrize("n_actors", [1, 2, 3, 5])
def test_small_datasets_still_valid(n_actors: int) -> None:
    faces = synthetic_faces(n_actors, seed=n_actors)
    res, messages = _assign_recording(faces, seed=0)
    assert res.faces["split"].null_count() == 0
    per_actor = res.faces.group_by("actor_id").agg(pl.col("split").n_unique())
    assert per_actor["split"].max() == 1
    used = set(res.faces["split"])
    if n_actors >= 3:
        assert used == set(SPLITS)
    else:
        assert len(used) == n_actors and "train" in used
    if n_actors < 5:
        assert any("miss the target" in m for m in messages)
        assert any("vs 0.800" in m for m in messages)  # says by how much


def test_custom_ratios_and_validation(faces: pl.DataFrame) -> None:
    res = assign_splits(faces, ratios=(0.7, 0.2, 0.1), seed=1)
    shares = res.achieved()
    assert shares["train"] == pytest.approx(0.7, abs=0.01)
    assert shares["test"] == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ValueError, match="3 ratios"):
        assign_splits(faces, ratios=(0.5, 0.5))
    with pytest.raises(ValueError, match="unique"):
        assign_splits(pl.concat([faces.head(2), faces.head(1)]))
    with pytest.raises(ValueError, match="required"):
        assign_splits(faces.drop("video_id"))


def test_minimal_columns() -> None:
    faces = pl.DataFrame(
        {"face_id": [f"f{i}" for i in range(100)], "video_id": [f"v{i // 5}" for i in range(100)]}
    )
    res = assign_splits(faces)
    assert res.faces.columns == ["face_id", "video_id", "group_id", "split"]
    assert res.groups.height == 20  # one pseudo-actor per video
    assert res.achieved()["train"] == pytest.approx(0.8)
