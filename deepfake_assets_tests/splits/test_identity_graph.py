"""The identity graph and the donor policies on hand-made tables: two-person videos,
FaceForensics++ pairs, a chain of swaps that forces drops, test-only pinning, folds."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from deepfake_assets.splits.assign import assign_splits
from deepfake_assets.splits.folds import assign_folds
from deepfake_assets.splits.groups import label_faces, with_groups
from deepfake_assets.splits.identity_graph import bridging_fakes, graph_stats
from deepfake_assets.splits.validation import identities_in_two_folds, identities_in_two_splits

SCHEMA = {
    "original_video_id": pl.Utf8,
    "actor_id": pl.Utf8,
    "second_actor_id": pl.Utf8,
    "donor_actor_id": pl.Utf8,
    "source": pl.Utf8,
    "test_only": pl.Boolean,
}


def real(actor: str, video: str, n: int = 10, source: str = "s", **extra) -> list[dict]:
    return [
        dict(face_id=f"{source}/{video}/{i}", source=source, video_id=video, label="REAL",
             actor_id=actor, **extra)
        for i in range(n)
    ]  # fmt: skip


def fake(original: str | None, video: str, donor: str | None, n: int = 10, source: str = "s",
         **extra) -> list[dict]:  # fmt: skip
    return [
        dict(face_id=f"{source}/{video}/{i}", source=source, video_id=video, label="FAKE",
             original_video_id=original, donor_actor_id=donor, **extra)
        for i in range(n)
    ]  # fmt: skip


def table(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides=SCHEMA, infer_schema_length=None)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def split_of(res) -> dict[str, str]:
    return dict(res.faces.select("face_id", "split").iter_rows())


def crowd(n: int, start: int = 100, faces: int = 10) -> list[dict]:
    """n people with one real video each and a fake without a donor: room for the ratios."""
    rows = []
    for a in range(start, start + n):
        rows += real(f"p{a}", f"v{a}", faces)
        rows += fake(f"v{a}", f"v{a}_f", None, faces)
    return rows


def test_second_person_of_a_two_person_video_travels_with_it() -> None:
    rows = crowd(40)
    # p0's video shows p1 too (second track); p1 has videos of their own, and a fake of the duo
    rows += real("p0", "duo", second_actor_id="p1")
    rows += fake("duo", "duo_fake", None, second_actor_id="p1")
    for k in range(5):
        rows += real("p1", f"p1_own{k}")
    res = quiet(assign_splits, table(rows), seed=0)
    split = split_of(res)
    assert split["s/duo/0"] == split["s/p1_own0/0"] == split["s/duo_fake/0"]
    assert identities_in_two_splits(res.faces).is_empty()
    base = label_faces(table(rows))
    assert graph_stats(base).n_second_links == 1
    # with the second person ignored (as before), p1 is free to land elsewhere: the check sees it
    leaky = res.faces.with_columns(
        pl.when(pl.col("video_id").str.starts_with("p1_own"))
        .then(pl.lit("test" if split["s/duo/0"] != "test" else "train"))
        .otherwise("split")
        .alias("split")
    )
    leaks = identities_in_two_splits(leaky)
    assert leaks["identity"].to_list() == ["p1"]
    assert leaks["through"].to_list() == [["main", "second"]]
    assert any("s/duo@" in v and "(second)" in v for v in leaks["videos"][0])


def ffpp_pairs(n_pairs: int) -> pl.DataFrame:
    """FaceForensics++-like: targets 2k and 2k+1 swap faces with each other (000_003, 003_000)."""
    rows = []
    for k in range(n_pairs):
        a, b = 2 * k, 2 * k + 1
        rows += real(f"p{a}", f"{a:03d}", 10 + k % 7)
        rows += real(f"p{b}", f"{b:03d}", 10 + k % 5)
        rows += fake(f"{a:03d}", f"{a:03d}_{b:03d}", f"p{b}", 10 + k % 7)
        rows += fake(f"{b:03d}", f"{b:03d}_{a:03d}", f"p{a}", 10 + k % 5)
    return table(rows)


def test_ffpp_pairs_stay_together_under_group_and_drop_nothing() -> None:
    faces = ffpp_pairs(40)
    res = quiet(assign_splits, faces, seed=0)
    assert res.donors_used == "group" and res.dropped.is_empty()
    assert res.faces.height == faces.height
    assert identities_in_two_splits(res.faces).is_empty()
    assert res.groups.height == 40  # one group per pair
    assert res.achieved()["train"] == pytest.approx(0.8, abs=0.02)
    # drop_bridging finds the same: every pair can be kept together, so nothing is dropped
    dropping = quiet(assign_splits, faces, seed=0, donors="drop_bridging")
    assert dropping.dropped.is_empty()
    assert identities_in_two_splits(dropping.faces).is_empty()
    assert dropping.search is not None and dropping.search.start_cost > 0  # the greedy start
    # ignore: the pairs are placed apart, and the donors' faces leak
    ignoring = quiet(assign_splits, faces, seed=0, donors="ignore")
    assert ignoring.groups.height == 80
    assert not identities_in_two_splits(ignoring.faces).is_empty()
    assert identities_in_two_splits(ignoring.faces, donors=False).is_empty()


def swap_chain(n: int, faces: int = 10) -> pl.DataFrame:
    """p0 <- p1 <- ... : the fake of p_i wears p_(i+1)'s face; one component of n people."""
    rows = []
    for a in range(n):
        rows += real(f"p{a}", f"v{a}", faces)
        rows += fake(f"v{a}", f"v{a}_f", f"p{(a + 1) % n}" if a + 1 < n else None, faces)
    return table(rows)


def test_a_chain_of_swaps_falls_back_to_the_fewest_drops() -> None:
    faces = swap_chain(20)
    res = quiet(assign_splits, faces, seed=0)
    # one component: too large for 80:15:5, so `group` falls back and says why
    assert res.graph.n_components == 1 and res.graph.largest_component_share == 1.0
    assert res.donors == "group" and res.donors_used == "drop_bridging"
    assert "largest identity component holds 1.000" in res.donor_fallback
    assert any("fell back to drop_bridging" in w for w in res.warnings)
    # three splits along a chain need two cuts: the optimum, and what the search finds
    summary = res.metadata()["dropped"]
    assert summary["fakes"] == 2 and summary["faces"] == 20
    assert set(res.dropped["reason"]) == {"donor_in_other_split"}
    assert (res.dropped["place"] != res.dropped["donor_place"]).all()
    assert res.dropped["label"].unique().to_list() == ["FAKE"]
    assert res.faces.height == faces.height - 20
    assert res.faces.join(res.dropped, on="face_id", how="semi").is_empty()
    assert identities_in_two_splits(res.faces).is_empty()
    shares = res.achieved()
    assert shares["train"] == pytest.approx(0.8, abs=0.02)
    assert shares["test"] == pytest.approx(0.05, abs=0.02)


def test_dense_random_swaps_drop_fewer_than_the_greedy_start() -> None:
    rng = np.random.default_rng(3)
    rows = []
    n = 40
    for a in range(n):
        rows += real(f"p{a}", f"v{a}", int(rng.integers(8, 30)))
        for k in range(3):
            d = int(rng.integers(0, n - 1))
            rows += fake(f"v{a}", f"v{a}_f{k}", f"p{d + (d >= a)}", 8)
    res = quiet(assign_splits, table(rows), seed=0, donors="drop_bridging")
    assert identities_in_two_splits(res.faces).is_empty()
    s = res.search
    assert 0 < s.dropped_cost < s.start_cost
    assert s.dropped_cost == res.metadata()["dropped"]["fakes"]
    assert s.miss <= 0.02 + 1e-9  # within the tolerance of the targets
    again = quiet(assign_splits, table(rows), seed=0, donors="drop_bridging")
    assert again.faces.equals(res.faces)  # seeded: the same placement


def test_orphan_fake_joins_its_donor() -> None:
    rows = crowd(40)
    rows += real("p0", "v0")
    # an orphan: its original is not in the dataset, its face matched p0 (its donor)
    rows += fake("gone", "orphan", "p0")
    res = quiet(assign_splits, table(rows), seed=0)
    split = split_of(res)
    assert split["s/orphan/0"] == split["s/v0/0"]
    assert identities_in_two_splits(res.faces).is_empty()


def test_ignore_is_todays_assignment() -> None:
    faces = ffpp_pairs(30)
    ignoring = quiet(assign_splits, faces, seed=0, donors="ignore")
    without = quiet(assign_splits, faces.drop("donor_actor_id"), seed=0)
    assert ignoring.faces.drop("donor_actor_id").equals(without.faces)


def test_test_only_source_pins_its_people_and_their_donors() -> None:
    rows = crowd(60, start=0, faces=12)
    # a held-out method (test-only source) with fakes of p0..p5 wearing p10..p15's faces
    for a in range(6):
        rows += real(f"p{a}", f"h{a}", 12, source="held", test_only=True)
        rows += fake(f"h{a}", f"h{a}_f", f"p{a + 10}", 12, source="held", test_only=True)
    faces = table(rows).with_columns(pl.col("test_only").fill_null(False))
    for policy in ("group", "drop_bridging"):
        res = quiet(assign_splits, faces, seed=0, donors=policy)
        f = res.faces
        people = [*range(6), *range(10, 16)]
        videos = [f"v{a}" for a in people] + [f"v{a}_f" for a in people]
        moved = f.filter(~pl.col("test_only") & pl.col("video_id").is_in(videos))
        assert (moved["split"] == "test").all(), policy
        assert res.dropped.is_empty()
        assert identities_in_two_splits(f).is_empty()
        # their ordinary reals (12 faces each) and the fakes of them (12 each): 12 * 24
        assert moved.height == 12 * 24 == res.pinning["faces_moved_to_test"]
        assert res.pinning["actors_moved_to_test"] == 12
        # the ratios are judged against what is left after the pinned faces
        eff = res.effective_ratios
        total = faces.height
        pinned = res.pinning["pinned_faces"]
        assert eff[2] == pytest.approx(pinned / total)
        assert eff[0] / eff[1] == pytest.approx(80 / 15)
        shares = res.achieved()
        for i, name in enumerate(("train", "val", "test")):
            assert shares[name] == pytest.approx(eff[i], abs=0.02), (policy, name)
    assert res.pinning["pinned_as_donors"] == 6  # drop_bridging pinned the donors' groups


def test_folds_keep_every_person_in_one_fold() -> None:
    faces = swap_chain(30)
    folds = quiet(assign_folds, faces, seed=0)
    assert folds.donors_used == "drop_bridging"
    assert identities_in_two_folds(folds.faces).is_empty()
    reasons = set(folds.dropped["reason"])
    assert reasons <= {"donor_in_other_level", "donor_in_other_fold"} and reasons
    kept = folds.faces.filter(pl.col("level").is_not_null())
    assert kept.join(folds.dropped, on="face_id", how="semi").is_empty()
    # a chain over 2 levels x 5 folds: at least 9 cuts, and not many more
    n = folds.dropped.select(pl.struct("source", "video_id").n_unique()).item()
    assert 9 <= n <= 12
    pairs = quiet(assign_folds, ffpp_pairs(40), seed=0)
    assert pairs.donors_used == "group" and pairs.dropped.is_empty()
    assert identities_in_two_folds(pairs.faces).is_empty()


def test_bridging_fakes_lists_donors_in_other_groups_only() -> None:
    rows = real("p0", "v0") + real("p1", "v1") + fake("v0", "v0_f", "p1")
    rows += fake("v1", "v1_f", "p1")  # donor == target: no bridge
    rows += fake("v1", "v1_g", "nobody")  # a donor with no faces here: tied to v1, no bridge
    df, nodes = with_groups(label_faces(table(rows)), donor_edges=False)
    br = bridging_fakes(df, nodes)
    assert br["video_id"].to_list() == ["v0_f"]
    assert br["n_faces"].to_list() == [10]
    grouped, _ = with_groups(label_faces(table(rows)), donor_edges=True)
    assert grouped["group_id"].n_unique() == 1


def faceless_donor(n_targets: int) -> pl.DataFrame:
    """A chain of swaps (dense enough to force drop_bridging) plus one person the dataset names
    as a donor (`person:s:x`, FF++/Celeb-DF style) who has no face of their own here, pasted
    into fakes of `n_targets` different people."""
    rows = swap_chain(30).to_dicts()
    for a in range(0, 3 * n_targets, 3):
        rows += fake(f"v{a}", f"v{a}_x", "person:s:x", 4)
    return table(rows)


def test_a_donor_without_faces_keeps_its_fakes_in_one_fold_and_one_split() -> None:
    """Regression: a named donor with no face in the catalog had no group of its own, so under
    drop_bridging its fakes were never bridges and landed in several folds of level 1 (the
    person's face on both sides; `no_identity_leakage` failed at scale). Such a donor links
    its fakes' families as an actor's faces link theirs."""
    faces = faceless_donor(8)
    folds = quiet(assign_folds, faces, seed=0)
    assert folds.donors_used == "drop_bridging"
    assert identities_in_two_folds(folds.faces).is_empty(), identities_in_two_folds(folds.faces)
    res = quiet(assign_splits, faces, seed=0, donors="drop_bridging")
    assert identities_in_two_splits(res.faces).is_empty(), identities_in_two_splits(res.faces)
    # the donor's fakes are kept together (not all dropped): one place for person:s:x
    kept = res.faces.filter(pl.col("donor_actor_id") == "person:s:x")
    assert kept["split"].n_unique() == 1 and kept.height >= 4


def test_ignore_ties_nothing_through_a_donor_without_faces() -> None:
    """Regression: `donors: ignore` (seed 001's rule) still tied the fakes of a donor with no
    face of their own (`person:<source>:<name>`) into one group, so it was not the assignment
    made without the donor column. Under `ignore` no donor edge of any kind exists."""
    rows = crowd(40)
    for a in range(100, 124):
        rows += fake(f"v{a}", f"v{a}_x", "person:s:x", 4)
    faces = table(rows)
    ignoring = quiet(assign_splits, faces, seed=0, donors="ignore")
    without = quiet(assign_splits, faces.drop("donor_actor_id"), seed=0)
    assert ignoring.faces.drop("donor_actor_id").equals(without.faces)
    # the 24 families stay 24 groups: the faceless donor joined none of them
    assert (
        ignoring.faces.filter(pl.col("donor_actor_id") == "person:s:x")["group_id"].n_unique() == 24
    )
    folds_ignoring = quiet(assign_folds, faces, seed=0, donors="ignore")
    folds_without = quiet(assign_folds, faces.drop("donor_actor_id"), seed=0)
    assert folds_ignoring.faces.drop("donor_actor_id").equals(folds_without.faces)
    # the other policies still keep that person in one place
    for policy in ("group", "drop_bridging"):
        res = quiet(assign_splits, faces, seed=0, donors=policy)
        assert res.faces.filter(pl.col("donor_actor_id") == "person:s:x")["split"].n_unique() == 1
