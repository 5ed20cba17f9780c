from __future__ import annotations

import polars as pl

from deepfake_assets.splits.balance import rebalance
from deepfake_assets.splits.validation import real_fake_imbalance


def faces(source: str, real: int, fake: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "face_id": [f"{source}/r{i}" for i in range(real)]
            + [f"{source}/f{i}" for i in range(fake)],
            "source": source,
            "label": ["REAL"] * real + ["FAKE"] * fake,
        }
    )


def test_balanced_sources_are_thinned_to_the_smaller_class_only():
    table = pl.concat([faces("a", 30, 70), faces("b", 10, 50), faces("c", 5, 0)])
    out = rebalance(table, ["a", "c"], seed=1)
    counts = out.group_by("source", "label").len().sort("source", "label").rows()
    assert counts == [
        ("a", "FAKE", 30),
        ("a", "REAL", 30),
        ("b", "FAKE", 50),
        ("b", "REAL", 10),
        ("c", "REAL", 5),
    ]
    assert real_fake_imbalance(out, ["a"], 0.0).is_empty()
    assert real_fake_imbalance(out, ["b"], 0.1)["source"].to_list() == ["b"]


def test_the_draw_is_stable_and_seeded():
    table = faces("a", 20, 60)
    first = rebalance(table, ["a"], seed=3)["face_id"].to_list()
    assert rebalance(table.sample(fraction=1.0, shuffle=True, seed=9), ["a"], seed=3)[
        "face_id"
    ].sort().to_list() == sorted(first)
    assert sorted(rebalance(table, ["a"], seed=4)["face_id"].to_list()) != sorted(first)
