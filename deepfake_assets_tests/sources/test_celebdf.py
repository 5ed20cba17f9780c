from deepfake_assets.sources import detect_format, read_source

from .conftest import make_files


def test_celebdf_v2_layout(tmp_path):
    make_files(
        tmp_path,
        [
            "Celeb-real/id3_0001.mp4",
            "Celeb-real/id0_0000.mp4",
            "Celeb-synthesis/id3_id0_0001.mp4",
            "Celeb-synthesis/id9_id3_0002.mp4",  # original id9_0002 not in the folder
            "YouTube-real/00170.mp4",
            "YouTube-real/00171.mp4",
        ],
    )
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id3_id0_0001.mp4\n\n"
    )
    assert detect_format(tmp_path) == "celebdf"
    rows = {r["video_id"]: r for r in read_source(tmp_path).to_dicts()}
    assert sorted(rows) == [
        "00170",
        "00171",
        "id0_0000",
        "id3_0001",
        "id3_id0_0001",
        "id9_id3_0002",
    ]
    fake = rows["id3_id0_0001"]
    assert fake["label"] == "FAKE" and fake["method"] == "celeb-synthesis"
    assert fake["original_video_id"] == "id3_0001" and fake["actor_hint"] == "id3"
    assert fake["official_split"] == "test"
    assert fake["donor_hint"] == "id0" == rows["id0_0000"]["actor_hint"]
    orphan = rows["id9_id3_0002"]
    assert orphan["original_video_id"] == "id9_0002"
    # the original is missing, but the name still says whose clip (id9) and whose face (id3)
    assert (orphan["actor_hint"], orphan["donor_hint"]) == ("id9", "id3")
    assert all(rows[v]["donor_hint"] is None for v in ("id3_0001", "id0_0000", "00170"))
    assert rows["id3_0001"]["actor_hint"] == "id3" and rows["id3_0001"]["label"] == "REAL"
    youtube = rows["00170"]
    assert youtube["label"] == "REAL" and youtube["actor_hint"] is None
    assert youtube["official_split"] == "test" and rows["00171"]["official_split"] == "train"
    assert youtube["rel_path"] == "YouTube-real/00170.mp4"


def test_without_test_list_split_is_unknown(tmp_path):
    make_files(tmp_path, ["Celeb-real/id1_0000.mp4"])
    table = read_source(tmp_path, "celeb-df")
    assert table["official_split"].to_list() == [None]
