"""One bad entry is one rejected row, never a silent choice nor a failed dataset (issue 14.5-6)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from deepfake_assets.sources import SourceFormatError, read_source

from .conftest import write_json


def _rows(table: pl.DataFrame) -> dict[str, dict]:
    return {r["rel_path"]: r for r in table.to_dicts()}


def _list(root):
    from deepfake_assets.sources import list_source

    return list_source(root)


def test_dfdc_duplicate_key_with_different_labels_is_rejected_naming_both(tmp_path):
    # json.load keeps the last of two equal keys; the text must be written by hand
    (tmp_path / "metadata.json").write_text(
        '{"a.mp4": {"label": "REAL"},\n'
        ' "b.mp4": {"label": "FAKE", "original": "a.mp4"},\n'
        ' "b.mp4": {"label": "REAL"}}'
    )
    rows = _rows(read_source(tmp_path))
    assert sorted(rows) == ["a.mp4", "b.mp4"]
    assert rows["a.mp4"]["reject_reason"] is None and rows["a.mp4"]["label"] == "REAL"
    bad = rows["b.mp4"]
    assert bad["label"] is None
    assert "listed twice" in bad["reject_reason"]
    assert '"FAKE"' in bad["reject_reason"] and '"REAL"' in bad["reject_reason"]
    assert "metadata.json" in bad["reject_reason"]


def test_dfdc_identical_duplicate_key_is_one_accepted_row(tmp_path):
    (tmp_path / "metadata.json").write_text(
        '{"a.mp4": {"label": "REAL", "split": "train"},\n'
        ' "a.mp4": {"label": "real", "split": "train"}}'
    )
    table = read_source(tmp_path)
    assert table.height == 1
    assert table["reject_reason"][0] is None and table["label"][0] == "REAL"


def test_dfdc_key_given_twice_inside_one_entry_is_rejected(tmp_path):
    (tmp_path / "metadata.json").write_text('{"a.mp4": {"label": "REAL", "label": "FAKE"}}')
    row = read_source(tmp_path).row(0, named=True)
    assert row["label"] is None and "'label' given twice" in row["reject_reason"]


def test_dfdc_same_file_described_differently_by_two_metadata_files_is_rejected(tmp_path):
    write_json(tmp_path / "metadata.json", {"p/a.mp4": {"label": "REAL"}, "p/ok.mp4": {"label": 0}})
    write_json(tmp_path / "p" / "metadata.json", {"a.mp4": {"label": "FAKE"}})
    rows = _rows(read_source(tmp_path))
    assert rows["p/ok.mp4"]["reject_reason"] is None
    reason = rows["p/a.mp4"]["reject_reason"]
    assert "metadata.json" in reason and "p/metadata.json" in reason
    assert "REAL" in reason and "FAKE" in reason


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ({"label": ""}, "unknown label ''"),
        ({"label": None}, "unknown label None"),
        ({}, "unknown label None"),
        ({"label": "SORTOF"}, "unknown label 'SORTOF'"),
        ({"label": "FAKE", "original": 5}, "'original' must be a file name"),
        ("REAL", "expected an object"),
    ],
)
def test_dfdc_bad_entry_is_one_rejected_row_and_the_rest_is_read(tmp_path, entry, why):
    write_json(
        tmp_path / "metadata.json",
        {"good.mp4": {"label": "REAL"}, "bad.mp4": entry, "fake.mp4": {"label": "FAKE"}},
    )
    rows = _rows(read_source(tmp_path))
    assert sorted(rows) == ["bad.mp4", "fake.mp4", "good.mp4"]
    assert rows["good.mp4"]["label"] == "REAL" and rows["good.mp4"]["reject_reason"] is None
    assert rows["fake.mp4"]["label"] == "FAKE"
    assert rows["bad.mp4"]["label"] is None
    assert why in rows["bad.mp4"]["reject_reason"]
    assert "metadata.json" in rows["bad.mp4"]["reject_reason"]


def test_dfdc_truncated_part_metadata_is_a_problem_and_the_other_parts_go_on(tmp_path):
    write_json(tmp_path / "part_0" / "metadata.json", {"a.mp4": {"label": "REAL"}})
    write_json(tmp_path / "part_2" / "metadata.json", {"c.mp4": {"label": "FAKE"}})
    broken = tmp_path / "part_1" / "metadata.json"
    broken.parent.mkdir()
    broken.write_text('{"b.mp4": {"label": "REAL"}, "b2.mp4": {"lab')
    listing = _list(tmp_path)
    assert sorted(listing.videos["rel_path"]) == ["part_0/a.mp4", "part_2/c.mp4"]
    assert [p.path for p in listing.problems] == ["part_1/metadata.json"]
    assert "invalid JSON" in listing.problems[0].reason
    assert str(tmp_path) not in listing.problems[0].reason  # paths relative to the dataset
    # the strict reader still refuses, naming the file
    with pytest.raises(SourceFormatError, match="part_1/metadata.json"):
        read_source(tmp_path)


def test_dfdc_with_no_readable_metadata_at_all_fails_clearly(tmp_path):
    (tmp_path / "metadata.json").write_text("[1, 2")
    with pytest.raises(SourceFormatError, match="invalid JSON"):
        _list(tmp_path)


def test_dfdc_part_that_is_not_an_object_is_a_problem(tmp_path):
    write_json(tmp_path / "part_0" / "metadata.json", {"a.mp4": {"label": "REAL"}})
    write_json(tmp_path / "part_1" / "metadata.json", ["b.mp4"])
    listing = _list(tmp_path)
    assert listing.videos["rel_path"].to_list() == ["part_0/a.mp4"]
    assert [p.path for p in listing.problems] == ["part_1/metadata.json"]
    assert "expected a JSON object" in listing.problems[0].reason


def _manifest(tmp_path, text: str) -> None:
    (tmp_path / "manifest.csv").write_text(text)


def test_manifest_same_path_with_different_label_is_rejected_naming_both(tmp_path):
    _manifest(tmp_path, "path,label,original\na.mp4,REAL,\nb.mp4,FAKE,a.mp4\nb.mp4,REAL,\n")
    rows = _rows(read_source(tmp_path))
    assert sorted(rows) == ["a.mp4", "b.mp4"]
    assert rows["a.mp4"]["reject_reason"] is None
    reason = rows["b.mp4"]["reject_reason"]
    assert rows["b.mp4"]["label"] is None
    assert "lines 3 and 4" in reason and "'FAKE'" in reason and "'REAL'" in reason
    assert "original" in reason


def test_manifest_identical_duplicate_rows_are_one_row(tmp_path):
    _manifest(tmp_path, "path,label\na.mp4,REAL\na.mp4,real\n")
    table = read_source(tmp_path)
    assert table.height == 1 and table["reject_reason"][0] is None


@pytest.mark.parametrize(("label", "why"), [("", "unknown label None"), ("perhaps", "'perhaps'")])
def test_manifest_bad_label_is_one_rejected_row(tmp_path, label, why):
    _manifest(tmp_path, f"path,label\na.mp4,REAL\nb.mp4,{label}\nc.mp4,1\n")
    rows = _rows(read_source(tmp_path))
    assert rows["a.mp4"]["label"] == "REAL" and rows["c.mp4"]["label"] == "FAKE"
    assert rows["b.mp4"]["label"] is None
    assert why in rows["b.mp4"]["reject_reason"] and "line 3" in rows["b.mp4"]["reject_reason"]


def test_manifest_row_with_too_many_fields_is_rejected(tmp_path):
    _manifest(tmp_path, "path,label\na.mp4,REAL\nb.mp4,REAL,extra\n")
    rows = _rows(read_source(tmp_path))
    assert rows["a.mp4"]["reject_reason"] is None
    assert "3 fields" in rows["b.mp4"]["reject_reason"]


def test_manifest_row_without_path_is_a_problem(tmp_path):
    _manifest(tmp_path, "path,label\na.mp4,REAL\n,FAKE\n")
    listing = _list(tmp_path)
    assert listing.videos["rel_path"].to_list() == ["a.mp4"]
    assert [p.path for p in listing.problems] == ["manifest.csv"]
    assert "line 3" in listing.problems[0].reason


def test_manifest_with_only_a_header_lists_nothing(tmp_path):
    _manifest(tmp_path, "path,label\n")
    listing = _list(tmp_path)
    assert listing.videos.height == 0 and listing.problems == ()


def test_a_fake_whose_original_is_rejected_is_an_orphan(tmp_path):
    from deepfake_assets.video_manifest import build_manifest

    write_json(
        tmp_path / "metadata.json",
        {"a.mp4": {"label": ""}, "f.mp4": {"label": "FAKE", "original": "a.mp4"}},
    )
    (tmp_path / "a.mp4").write_bytes(b"x")
    videos = build_manifest("s", tmp_path, read_source(tmp_path))
    row = videos.filter(pl.col("video_id") == "a").row(0, named=True)
    assert row["status"] == "rejected" and "unknown label ''" in row["reason"]
    assert row["abs_path"] is None  # never opened
    assert "reject_reason" not in videos.columns
    fake = videos.filter(pl.col("video_id") == "f").row(0, named=True)
    assert fake["orphan_fake"] and "rejected" in fake["orphan_reason"]
    json.dumps(videos.to_dicts())  # plain values only


def test_manifest_same_bad_row_twice_is_one_rejected_row(tmp_path):
    _manifest(tmp_path, "path,label\na.mp4,perhaps\nb.mp4,REAL\na.mp4,perhaps\n")
    rows = _rows(read_source(tmp_path))
    assert "unknown label 'perhaps'" in rows["a.mp4"]["reject_reason"]
    assert "listed on lines" not in rows["a.mp4"]["reject_reason"]
