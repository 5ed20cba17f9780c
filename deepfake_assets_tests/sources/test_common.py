import polars as pl
import pytest

from deepfake_assets.sources import VIDEO_TABLE_SCHEMA, SourceFormatError, empty_video_table
from deepfake_assets.sources.common import assign_unique_ids, normalise_label, normalise_split
from deepfake_assets.sources.schema import build_video_table


def test_empty_table_has_exact_schema():
    table = empty_video_table()
    assert table.height == 0
    assert table.schema == VIDEO_TABLE_SCHEMA
    assert table.columns[:3] == ["video_id", "rel_path", "label"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("REAL", "REAL"),
        ("fake", "FAKE"),
        (" Real ", "REAL"),
        ("0", "REAL"),
        ("1", "FAKE"),
        (1, "FAKE"),
    ],
)
def test_labels_normalise(raw, expected):
    assert normalise_label(raw, "row 3") == expected


def test_unknown_label_names_the_row():
    with pytest.raises(SourceFormatError, match=r"row 7.*'maybe'"):
        normalise_label("maybe", "row 7")


def test_split_aliases_and_unknown_kept_as_note():
    assert normalise_split("Validation") == ("val", None)
    assert normalise_split("holdout") == (None, "split=holdout")
    assert normalise_split(None) == (None, None)


def test_unique_ids_only_collisions_move_and_order_does_not_matter():
    rows = [["a", "p1/a"], ["a", "p2/a"], ["b", "p1/b"]]
    assert assign_unique_ids(rows) == ["p1/a", "p2/a", "b"]
    assert assign_unique_ids(rows[::-1]) == ["b", "p2/a", "p1/a"]
    with pytest.raises(SourceFormatError, match="unique"):
        assign_unique_ids([["x"], ["x"]])


def test_build_rejects_duplicate_ids_and_sorts():
    table = build_video_table(
        [
            {"video_id": "b", "rel_path": "b.mp4", "label": "REAL"},
            {"video_id": "a", "rel_path": "a.mp4", "label": "FAKE", "original_video_id": "b"},
        ]
    )
    assert table["video_id"].to_list() == ["a", "b"]
    assert table.schema == VIDEO_TABLE_SCHEMA
    with pytest.raises(SourceFormatError, match="duplicate"):
        build_video_table([{"video_id": "a", "rel_path": "x", "label": "REAL"}] * 2)
    assert isinstance(table, pl.DataFrame)
