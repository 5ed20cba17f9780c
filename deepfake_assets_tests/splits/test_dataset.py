"""The split build's inputs on plain DataFrames: duplicates left out, people joined on."""

from __future__ import annotations

import polars as pl

from deepfake_assets.splits.dataset import (
    balanced_sources,
    faces_for_splitting,
    fake_identity_pairs,
    kept_faces,
)


def _faces() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "face_id": ["s/a/000000/0", "s/a/000001/0", "s/b/000000/0", "s/f/000000/0"],
            "source": ["s"] * 4,
            "video_id": ["a", "a", "b", "f"],
            "frame_index": [0, 1, 0, 0],
            "track": [0, 0, 0, 0],
            "label": ["REAL", "REAL", "REAL", "FAKE"],
        }
    )


def test_kept_faces_leaves_out_dropped_faces_and_static_frames():
    duplicates = pl.DataFrame(
        {
            "kind": ["face", "frame", "face"],
            "face_id": ["s/b/000000/0", None, "s/a/000000/0"],
            "source": ["s", "s", "s"],
            "video_id": ["b", "a", "a"],
            "frame_index": [0, 1, 0],
            "is_duplicate": [True, True, True],
            "dropped": [True, True, False],  # the last one is reported, not dropped
        }
    )
    kept = kept_faces(_faces(), duplicates)
    assert kept["face_id"].to_list() == ["s/a/000000/0", "s/f/000000/0"]
    assert kept_faces(_faces(), pl.DataFrame()).height == 4


def test_faces_for_splitting_names_target_and_donor_of_a_fake():
    videos = pl.DataFrame(
        {
            "source": ["s"] * 3,
            "video_id": ["a", "b", "f"],
            "original_video_id": [None, None, "a"],
            "gender": ["f", None, None],
            "age": ["31", None, None],
            "race": [None, None, None],
            "official_split": [None, None, None],
            "test_only": [None, False, None],
        }
    )
    actors = pl.DataFrame(
        {"source": ["s"] * 3, "video_id": ["a", "b", "f"], "actor_id": ["p1", "p2", "p2"]}
    )
    identities = fake_identity_pairs(
        pl.DataFrame(
            {
                "source": ["s"],
                "video_id": ["f"],
                "target_actor_id": ["p1"],
                "donor_actor_id": ["p2"],
            }
        )
    )
    table = faces_for_splitting(_faces(), videos, actors, identities)
    fake = table.filter(pl.col("video_id") == "f").row(0, named=True)
    assert (fake["actor_id"], fake["donor_actor_id"]) == ("p1", "p2")
    assert table["test_only"].to_list() == [False] * 4
    assert table["age"].dtype == pl.Float64 and table["second_actor_id"].null_count() == 4
    without = faces_for_splitting(_faces(), videos, actors, fake_identity_pairs(None))
    assert without.filter(pl.col("video_id") == "f")["actor_id"].to_list() == ["p2"]
    assert without["donor_actor_id"].null_count() == 4


def test_balanced_sources_reads_the_plan_strategy():
    plans = pl.DataFrame(
        {"source": ["x", "y", "x"], "strategy": ["balanced", "uniform", "balanced"]}
    )
    assert balanced_sources(plans) == ["x"]
    assert balanced_sources(pl.DataFrame({"source": ["x"]})) == []


def test_split_build_counts_faces_and_drops_by_reason():
    from dataclasses import replace

    from deepfake_assets.splits.dataset import SplitSettings, build_splits
    from deepfake_assets_tests.splits.synthetic import synthetic_faces

    built = build_splits(synthetic_faces(40), [], SplitSettings(search_restarts=2))
    counts = built.counts()
    assert counts.columns == ["source", "split", "label", "len"]
    assert counts["len"].sum() == built.splits.height
    assert counts.select("source", "split", "label").is_unique().all()
    drops = pl.DataFrame(
        {
            "scope": ["splits", "splits", "splits", "folds"],
            "source": ["s", "s", "t", "s"],
            "video_id": ["f", "f", "f", "g"],
            "reason": ["bridging_fake", "bridging_fake", "bridging_fake", "rebalanced"],
        }
    )
    by_reason = replace(built, drops=drops).drops_by_reason()
    assert by_reason.rows() == [("folds", "rebalanced", 1, 1), ("splits", "bridging_fake", 2, 3)]
