"""`unknown_donors: drop` on hand-made tables: a swap fake whose donor nobody knows is left out
(reason ``donor_unknown``), a fake whose method keeps the identity or whose donor is known is
kept, and ``keep`` is today's split."""

from __future__ import annotations

import polars as pl
import pytest

from deepfake_assets.splits.assign import assign_splits
from deepfake_assets.splits.dataset import SplitSettings, build_splits
from deepfake_assets.splits.swaps import UnknownDonors, is_identity_swap, method_key
from deepfake_assets_tests.splits.test_identity_graph import fake, quiet, real, table


@pytest.mark.parametrize(
    "method",
    ["Face2Face", "NeuralTextures", "faceapp", "StarGAN", "stylegan", "StyleGAN2", "pggan_v1"],
)
def test_methods_that_keep_or_invent_the_identity_are_not_swaps(method: str) -> None:
    assert not is_identity_swap(method)


@pytest.mark.parametrize(
    "method",
    ["Deepfakes", "FaceSwap", "FaceShifter", "DeepFakeDetection", "celeb-synthesis", "DF-VAE",
     "some-new-method", None, "", "  "],
)  # fmt: skip
def test_swaps_and_unknown_methods_are_swaps(method: str | None) -> None:
    assert is_identity_swap(method)


def test_method_key_compares_spellings_of_one_method() -> None:
    assert method_key("StyleGAN2") == method_key("stylegan") == "stylegan"
    assert method_key("Face2Face") == "face2face"
    assert method_key("Neural-Textures") == "neuraltextures"


def _people(n: int = 30) -> list[dict]:
    """n people with a real video each and a fake of it whose donor is known (the next one)."""
    rows = []
    for a in range(n):
        rows += real(f"p{a}", f"v{a}")
        rows += fake(f"v{a}", f"v{a}_f", f"p{(a + 1) % n}", method="Deepfakes")
    return rows


def _with_unknown_donors() -> pl.DataFrame:
    rows = _people()
    rows += fake("v0", "swap_unknown", None, method="Deepfakes")
    rows += fake("v1", "swap_no_method", None, n=4)  # method unknown: taken as a swap
    rows += fake("v2", "f2f_unknown", None, method="Face2Face")
    rows += fake("v3", "nt_unknown", None, method="NeuralTextures", n=3)
    return table(rows)


def test_drop_leaves_out_swaps_with_an_unknown_donor_and_records_why() -> None:
    faces = _with_unknown_donors()
    res = quiet(assign_splits, faces, seed=0, search_restarts=2, unknown_donors="drop")
    unknown = res.dropped.filter(pl.col("reason") == "donor_unknown")
    assert sorted(unknown["video_id"].unique()) == ["swap_no_method", "swap_unknown"]
    assert unknown.height == 14  # every face of the two fakes
    assert unknown["place"].null_count() == unknown.height  # never placed
    kept = set(res.faces["video_id"])
    assert not {"swap_unknown", "swap_no_method"} & kept
    # expression swaps show their target only; fakes with a named donor stay as today
    assert {"f2f_unknown", "nt_unknown", "v0_f", "v1_f"} <= kept
    assert res.faces.height + res.dropped.height == faces.height
    assert "method" not in res.faces.columns
    meta = res.metadata()
    assert meta["unknown_donors"] == "drop"
    assert meta["donor_unknown_dropped"] == {"s": {"fakes": 2, "faces": 14}}
    assert meta["donor_unknown_kept"] == {}
    assert meta["dropped"]["by_reason"]["donor_unknown"] == {"fakes": 2, "faces": 14}
    assert any("unknown_donors: drop left out 2 swap fakes" in w for w in res.warnings)


def test_build_drops_unknown_donors_by_default() -> None:
    """`fold_splits`' default (SplitSettings): trust first, the swaps with no donor left out."""
    from deepfake_assets.assets.splits import SplitConfig

    assert SplitSettings().unknown_donors is UnknownDonors.DROP
    assert SplitConfig().unknown_donors == UnknownDonors.DROP.value


def test_keep_is_todays_split() -> None:
    faces = _with_unknown_donors()
    today = quiet(assign_splits, faces.drop("method"), seed=0, search_restarts=2)
    keep = quiet(assign_splits, faces, seed=0, search_restarts=2, unknown_donors="keep")
    assert keep.unknown_donors == UnknownDonors.KEEP.value
    assert keep.faces.sort("face_id").equals(today.faces.sort("face_id"))
    assert keep.dropped.equals(today.dropped)
    assert keep.metadata()["donor_unknown_dropped"] == {}
    # what keep placed with no known donor, per source: the two swaps (not the expression fakes)
    assert keep.metadata()["donor_unknown_kept"] == {"s": {"fakes": 2, "faces": 14}}


def test_a_known_donor_is_never_dropped_as_unknown() -> None:
    faces = table(_people())
    res = quiet(assign_splits, faces, seed=0, search_restarts=2, unknown_donors="drop")
    assert res.dropped.filter(pl.col("reason") == "donor_unknown").is_empty()
    assert res.metadata()["donor_unknown_dropped"] == {}


def _balanced_source() -> pl.DataFrame:
    """20 people, each a real video and a Face2Face fake of it (10 faces each, REAL == FAKE),
    and ten face swaps (10 faces each) whose donor nobody knows."""
    rows = []
    for a in range(20):
        rows += real(f"p{a}", f"v{a}")
        rows += fake(f"v{a}", f"v{a}_f2f", None, method="Face2Face")
    for a in range(0, 20, 2):
        rows += fake(f"v{a}", f"v{a}_unknown", None, method="FaceSwap")
    return table(rows).with_columns(
        pl.lit(None, dtype=pl.Utf8).alias(c) for c in ("gender", "age", "race", "official_split")
    )


def test_build_balances_the_faces_that_stay_and_records_every_face_left_out() -> None:
    """In a `balanced` source the thinning for REAL == FAKE draws on the fakes that stay: the
    swaps left out cost no real face, and all their faces are in `split_drops`."""
    faces = _balanced_source()
    settings = SplitSettings(search_restarts=2, unknown_donors=UnknownDonors.DROP)
    built = build_splits(faces, ["s"], settings)
    unknown = built.drops.filter(pl.col("reason") == "donor_unknown")
    assert set(unknown["scope"]) == {"splits"}
    assert unknown["video_id"].n_unique() == 10 and unknown.height == 100
    assert built.thinned == 0 and set(built.drops["reason"]) == {"donor_unknown"}
    labels = dict(built.splits.group_by("label").len().iter_rows())
    assert labels == {"REAL": 200, "FAKE": 200}
    assert not set(unknown["face_id"]) & set(built.splits["face_id"])
    assert not set(unknown["face_id"]) & set(built.folds.faces["face_id"])
    assert "method" not in built.splits.columns and "method" not in built.folds.faces.columns
    # keep: the swaps stay and the thinning takes 100 fake faces instead
    keep = SplitSettings(search_restarts=2, unknown_donors=UnknownDonors.KEEP)
    kept = build_splits(faces, ["s"], keep)
    assert kept.drops.filter(pl.col("reason") == "donor_unknown").is_empty()
    assert kept.thinned == 100 and kept.splits.height == 400


def test_build_thins_the_reals_to_the_fakes_that_stay() -> None:
    """Where the fakes that stay are fewer than the reals, the reals are thinned to them."""
    faces = _balanced_source().filter(~pl.col("video_id").str.ends_with("_f2f"))
    built = build_splits(faces, ["s"], SplitSettings(unknown_donors=UnknownDonors.DROP))
    # no fake stays: nothing to balance against, the reals stay whole
    assert built.splits["label"].unique().to_list() == ["REAL"] and built.thinned == 0
    some = _balanced_source().filter(
        ~pl.col("video_id").str.ends_with("_f2f") | pl.col("video_id").is_in(["v1_f2f", "v3_f2f"])
    )
    built = build_splits(some, ["s"], SplitSettings(unknown_donors=UnknownDonors.DROP))
    labels = dict(built.splits.group_by("label").len().iter_rows())
    assert labels == {"REAL": 20, "FAKE": 20} and built.thinned == 180
