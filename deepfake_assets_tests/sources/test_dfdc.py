import json

import pytest

from deepfake_assets.sources import SourceFormatError, detect_format, read_source, resolve_inside

from .conftest import make_files, write_json


def _row(table, vid):
    rows = table.filter(table["video_id"] == vid).to_dicts()
    assert len(rows) == 1, vid
    return rows[0]


def test_parts_labels_splits_and_originals(tmp_path):
    write_json(
        tmp_path / "dfdc_train_part_0" / "metadata.json",
        {
            "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
            "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            "ccc.mp4": {"label": "FAKE", "split": "train", "original": "gone.mp4"},
        },
    )
    write_json(
        tmp_path / "dfdc_train_part_1" / "metadata.json",
        {"ddd.mp4": {"label": "FAKE", "split": "validation", "original": "aaa.mp4"}},
    )
    make_files(tmp_path, ["dfdc_train_part_0/aaa.mp4", "dfdc_train_part_0/bbb.mp4"])

    assert detect_format(tmp_path) == "dfdc"
    table = read_source(tmp_path)
    assert table["video_id"].to_list() == ["aaa", "bbb", "ccc", "ddd"]
    fake = _row(table, "bbb")
    assert fake["rel_path"] == "dfdc_train_part_0/bbb.mp4"
    assert fake["label"] == "FAKE" and fake["original_video_id"] == "aaa"
    assert fake["official_split"] == "train"
    # an original in another part is still found by its unique file name
    assert _row(table, "ddd")["original_video_id"] == "aaa"
    assert _row(table, "ddd")["official_split"] == "val"
    # an original that is not in the folder keeps the id the metadata names
    assert _row(table, "ccc")["original_video_id"] == "gone"
    assert _row(table, "aaa")["original_video_id"] is None
    assert read_source(tmp_path).equals(table)  # stable across runs


def test_same_stem_in_two_parts_gets_part_prefixed_ids(tmp_path):
    for part in ("p0", "p1"):
        write_json(
            tmp_path / part / "metadata.json",
            {
                "x.mp4": {"label": "REAL"},
                "y.mp4": {"label": "FAKE", "original": "x.mp4"},
                f"only_{part}.mp4": {"label": "REAL"},
            },
        )
    table = read_source(tmp_path, "dfdc")
    assert sorted(table["video_id"]) == ["only_p0", "only_p1", "p0/x", "p0/y", "p1/x", "p1/y"]
    # each fake points at the original in its own part
    assert _row(table, "p1/y")["original_video_id"] == "p1/x"
    assert _row(table, "p0/y")["original_video_id"] == "p0/x"


def test_root_metadata_and_dotdot_path_kept_but_not_resolvable(tmp_path):
    write_json(
        tmp_path / "metadata.json",
        {
            "../../etc/passwd.mp4": {"label": "FAKE", "original": "a.mp4"},
            "a.mp4": {"label": "REAL"},
            "/abs/b.mp4": {"label": "REAL"},
        },
    )
    make_files(tmp_path, ["a.mp4"])
    table = read_source(tmp_path)
    evil = _row(table, "passwd")
    assert evil["rel_path"] == "../../etc/passwd.mp4"
    assert evil["original_video_id"] == "a"
    assert _row(table, "b")["rel_path"] == "/abs/b.mp4"
    assert resolve_inside(tmp_path, evil["rel_path"]) is None
    assert resolve_inside(tmp_path, "/abs/b.mp4") is None
    assert resolve_inside(tmp_path, "a.mp4") == (tmp_path / "a.mp4").resolve()


def test_broken_json_names_file_and_problem(tmp_path):
    bad = tmp_path / "part_3" / "metadata.json"
    bad.parent.mkdir()
    bad.write_text('{"a.mp4": {"label": "REAL",}}')
    assert detect_format(tmp_path) == "dfdc"
    with pytest.raises(SourceFormatError) as err:
        read_source(tmp_path)
    message = str(err.value)
    assert str(bad) in message and "invalid JSON" in message and "line 1" in message


def test_metadata_that_is_not_an_object_gives_a_clear_error(tmp_path):
    # bad entries are rejected rows (test_rejections.py); a file of the wrong shape lists nothing
    (tmp_path / "metadata.json").write_text(json.dumps(["a.mp4"]))
    with pytest.raises(SourceFormatError, match="expected a JSON object"):
        read_source(tmp_path, "dfdc")


def test_same_file_in_root_and_part_metadata_is_one_row(tmp_path):
    write_json(tmp_path / "metadata.json", {"p/a.mp4": {"label": "REAL"}})
    write_json(tmp_path / "p" / "metadata.json", {"a.mp4": {"label": "REAL", "split": "test"}})
    table = read_source(tmp_path)
    assert table.height == 1 and table["official_split"][0] == "test"
    write_json(tmp_path / "p" / "metadata.json", {"a.mp4": {"label": "FAKE"}})
    row = read_source(tmp_path).row(0, named=True)
    assert row["label"] is None and "listed twice" in row["reject_reason"]


def test_metadata_is_found_at_most_three_folders_down_by_the_shared_walker(tmp_path) -> None:
    """DFDC's search is `walk_files` with a depth bound: hidden folders and deeper files are
    not metadata, and a symlink loop is walked once."""
    from deepfake_assets.sources.common import walk_files
    from deepfake_assets.sources.dfdc import MAX_DEPTH, find_metadata_files

    deep = tmp_path
    found = []
    for depth in range(MAX_DEPTH + 2):
        (deep / "metadata.json").write_text("{}")
        if depth <= MAX_DEPTH:
            found.append(deep / "metadata.json")
        deep = deep / f"level{depth + 1}"
        deep.mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "metadata.json").write_text("{}")
    (tmp_path / "level1" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert find_metadata_files(tmp_path) == sorted(found)
    assert [p.name for p in walk_files(tmp_path, max_depth=0)] == ["metadata.json"]
    assert len(list(walk_files(tmp_path))) == MAX_DEPTH + 2  # every level, the loop once
