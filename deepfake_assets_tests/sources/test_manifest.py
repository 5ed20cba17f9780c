import pytest

from deepfake_assets.sources import SourceFormatError, detect_format, read_source, resolve_inside


def _write(tmp_path, text):
    (tmp_path / "manifest.csv").write_text(text)


def test_manifest_columns_labels_and_originals(tmp_path):
    _write(
        tmp_path,
        "Path,Label,original,actor,method,gender,age,race,split\n"
        "reals/a.mp4,real,,p1,,F,34,asian,train\n"
        "fakes/b.mp4,1,reals/a.mp4,p1,FaceSwap,f,,,test\n"
        "fakes/c.mp4,FAKE,reals/a,p1,,,,,\n"
        "fakes/d.mp4,fake,elsewhere/z.mp4,,,,,,holdout\n"
        "../outside.mp4,0,,,,,,,\n",
    )
    assert detect_format(tmp_path) == "manifest"
    rows = {r["video_id"]: r for r in read_source(tmp_path).to_dicts()}
    assert sorted(rows) == ["../outside", "fakes/b", "fakes/c", "fakes/d", "reals/a"]
    real = rows["reals/a"]
    assert real["label"] == "REAL" and real["gender"] == "female" and real["age"] == "34"
    assert real["race"] == "asian" and real["official_split"] == "train"
    assert rows["fakes/b"]["original_video_id"] == "reals/a"  # by path
    assert rows["fakes/c"]["original_video_id"] == "reals/a"  # by id
    assert rows["fakes/d"]["original_video_id"] == "elsewhere/z"  # missing: nominal id
    assert rows["fakes/d"]["official_split"] is None and rows["fakes/d"]["notes"] == "split=holdout"
    assert rows["fakes/b"]["method"] == "FaceSwap" and rows["fakes/b"]["label"] == "FAKE"
    # a path escaping the folder is kept for reporting, never resolved
    assert rows["../outside"]["rel_path"] == "../outside.mp4"
    assert resolve_inside(tmp_path, "../outside.mp4") is None


def test_manifest_donor_column(tmp_path):
    """The optional donor column names whose face a fake shows, in the actor column's ids."""
    _write(
        tmp_path,
        "path,label,original,actor,Donor\n"
        "reals/a.mp4,REAL,,p1,\n"
        "reals/b.mp4,REAL,,p2,p9\n"
        "fakes/ab.mp4,FAKE,reals/a.mp4,p1,p2\n"
        "fakes/orphan.mp4,FAKE,gone/x.mp4,p3,p1\n"
        "fakes/silent.mp4,FAKE,reals/a.mp4,p1,\n",
    )
    rows = {r["video_id"]: r for r in read_source(tmp_path).to_dicts()}
    assert rows["fakes/ab"]["donor_hint"] == "p2" == rows["reals/b"]["actor_hint"]
    assert (rows["fakes/orphan"]["actor_hint"], rows["fakes/orphan"]["donor_hint"]) == ("p3", "p1")
    assert rows["fakes/silent"]["donor_hint"] is None
    assert rows["reals/b"]["donor_hint"] is None and "donor=p9 ignored" in rows["reals/b"]["notes"]
    _write(tmp_path, "path,label,donor_id\nf.mp4,FAKE,p7\n")
    assert read_source(tmp_path)["donor_hint"].to_list() == ["p7"]
    _write(tmp_path, "path,label\nf.mp4,FAKE\n")
    assert read_source(tmp_path)["donor_hint"].to_list() == [None]


def test_manifest_overrides_other_markers(tmp_path):
    (tmp_path / "Celeb-real").mkdir()
    _write(tmp_path, "path,label\nx.mp4,REAL\n")
    assert detect_format(tmp_path) == "manifest"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # bad rows are rejected rows (test_rejections.py); these are whole-file errors
        ("path,kind\na.mp4,REAL\n", r"missing required column\(s\) \['label'\]"),
        ("path,label\n,REAL\n", r"manifest.csv: 1 row\(s\) without a path skipped \(line 2\)"),
        ("", "empty file"),
    ],
)
def test_manifest_errors_name_the_row(tmp_path, text, match):
    _write(tmp_path, text)
    with pytest.raises(SourceFormatError, match=match):
        read_source(tmp_path, "manifest")


def test_same_stem_different_extensions_get_full_path_ids(tmp_path):
    _write(tmp_path, "path,label\nv.mp4,0\nv.avi,1\n")
    assert sorted(read_source(tmp_path)["video_id"]) == ["v.avi", "v.mp4"]
