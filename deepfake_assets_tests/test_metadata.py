"""Metadata tables people read in the UI: key columns first, floats short, cuts said."""

from __future__ import annotations

import math

import polars as pl

from deepfake_assets.assets import metadata as md


def _names(value) -> list[str]:
    return [c.name for c in value.schema.columns]


def _rows(value) -> list[dict]:
    return [r.data for r in value.records]


def test_key_columns_come_after_the_identifier_and_before_the_rest() -> None:
    df = pl.DataFrame(
        {
            "label": ["REAL"],
            "role": ["real"],
            "tries": [2],
            "num_faces": [17],
            "reason": ["no_face"],
            "status": ["discarded"],
            "video_id": ["a.mp4"],
        }
    )
    value = md.table(df)
    assert _names(value) == ["video_id", "status", "reason", "num_faces", "label", "role", "tries"]
    # the values travel with their columns
    assert _rows(value) == [
        {
            "video_id": "a.mp4",
            "status": "discarded",
            "reason": "no_face",
            "num_faces": 17,
            "label": "REAL",
            "role": "real",
            "tries": 2,
        }
    ]


def test_first_overrides_the_default_order() -> None:
    df = pl.DataFrame({"ssim_mean": [0.9], "level": [1], "video_id": ["v"]})
    assert _names(md.table(df, first=("ssim_mean",))) == ["ssim_mean", "video_id", "level"]
    # columns the frame lacks are ignored
    assert _names(md.table(df, first=("nowhere",))) == ["video_id", "level", "ssim_mean"]


def test_floats_are_rounded_to_three_significant_digits() -> None:
    df = pl.DataFrame(
        {
            "video_id": ["a", "b", "c", "d", "e"],
            "ssim": [0.983456789, 0.0123456, 1234.5678, 0.0, float("nan")],
            "n": [1, 2, 3, 4, 5],
        }
    )
    rows = _rows(md.table(df))
    assert [r["ssim"] for r in rows] == [0.983, 0.0123, 1235.0, 0.0, "nan"]
    assert [r["n"] for r in rows] == [1, 2, 3, 4, 5]  # integers untouched
    assert md.round_sig(-0.0004567) == -0.000457
    assert md.round_sig(math.inf) == math.inf
    assert md.round_sig(0.983456789, digits=2) == 0.98


def test_a_cut_table_says_showing_n_of_m() -> None:
    df = pl.DataFrame({"video_id": [f"v{i}" for i in range(57)], "num_faces": list(range(57))})
    rows = _rows(md.table(df, limit=20, where="catalog table face_videos"))
    assert len(rows) == 21
    assert rows[-1] == {
        "video_id": "… showing 20 of 57 rows (all in catalog table face_videos)",
        "num_faces": None,
    }
    assert rows[19] == {"video_id": "v19", "num_faces": 19}


def test_a_whole_table_has_no_note() -> None:
    df = pl.DataFrame({"video_id": ["a", "b"], "num_faces": [1, 2]})
    for limit in (2, 20):
        rows = _rows(md.table(df, limit=limit))
        assert [r["video_id"] for r in rows] == ["a", "b"]
    assert _rows(md.table(df.clear())) == []
