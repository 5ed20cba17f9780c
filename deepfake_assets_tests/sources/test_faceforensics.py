import json

import pytest

from deepfake_assets.sources import SourceFormatError, detect_format, read_source

from .conftest import make_files

LAYOUT = [
    "original_sequences/youtube/c23/videos/000.mp4",
    "original_sequences/youtube/c23/videos/003.mp4",
    "original_sequences/youtube/c40/videos/000.mp4",
    "original_sequences/actors/c23/videos/01__exit_phone_room.mp4",
    "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
    "manipulated_sequences/Deepfakes/c40/videos/000_003.mp4",
    "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4",  # masks are not videos to use
    "manipulated_sequences/FaceSwap/c23/videos/003_000.mp4",
    "manipulated_sequences/FaceSwap/c23/videos/._003_000.mp4",  # macOS junk
    "manipulated_sequences/NeuralTextures/c23/videos/999_998.mp4",  # original not downloaded
    "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__exit_phone_room__YVGY8LOK.mp4",
    "manipulated_sequences/DeepFakeDetection/c23/videos/04_01__walking__ABCDEFGH.mp4",
]


def _by_id(table):
    return {row["video_id"]: row for row in table.to_dicts()}


def test_compressions_are_rows_and_fakes_point_at_same_compression(tmp_path):
    make_files(tmp_path, LAYOUT)
    assert detect_format(tmp_path) == "faceforensics"
    rows = _by_id(read_source(tmp_path))
    assert sorted(rows) == [
        "c23/000",
        "c23/003",
        "c23/01__exit_phone_room",
        "c23/DeepFakeDetection/01_02__exit_phone_room__YVGY8LOK",
        "c23/DeepFakeDetection/04_01__walking__ABCDEFGH",
        "c23/Deepfakes/000_003",
        "c23/FaceSwap/003_000",
        "c23/NeuralTextures/999_998",
        "c40/000",
        "c40/Deepfakes/000_003",
    ]
    df23, df40 = rows["c23/Deepfakes/000_003"], rows["c40/Deepfakes/000_003"]
    assert df23["original_video_id"] == "c23/000" and df40["original_video_id"] == "c40/000"
    assert df23["method"] == "Deepfakes" and df23["variant"] == "c23" and df23["label"] == "FAKE"
    assert df23["rel_path"] == "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4"
    # FF++ names a youtube sequence's person by the sequence id: target 000, donor 003
    assert df23["actor_hint"] == "000" and df23["donor_hint"] == "003"
    assert rows["c23/FaceSwap/003_000"]["original_video_id"] == "c23/003"
    # missing original: the nominal id, for the manifest asset to flag
    assert rows["c23/NeuralTextures/999_998"]["original_video_id"] == "c23/999"
    assert rows["c23/000"]["label"] == "REAL" and rows["c23/000"]["actor_hint"] == "000"


def test_deepfakedetection_originals_and_actors(tmp_path):
    make_files(tmp_path, LAYOUT)
    rows = _by_id(read_source(tmp_path, "ff++"))
    dfd = rows["c23/DeepFakeDetection/01_02__exit_phone_room__YVGY8LOK"]
    assert dfd["original_video_id"] == "c23/01__exit_phone_room"
    assert dfd["actor_hint"] == "01"
    assert rows["c23/01__exit_phone_room"]["actor_hint"] == "01"
    assert rows["c23/01__exit_phone_room"]["label"] == "REAL"
    missing = rows["c23/DeepFakeDetection/04_01__walking__ABCDEFGH"]
    assert missing["original_video_id"] == "c23/04__walking"
    # an orphan fake still names its target and its donor
    assert missing["actor_hint"] == "04" and missing["donor_hint"] == "01"


def test_donor_hint_is_the_source_id_in_the_originals_id_space(tmp_path):
    """A fake's donor hint equals the actor hint of the donor's own original video, so the
    catalog can tie the face a fake shows to that person's real videos."""
    make_files(tmp_path, LAYOUT)
    rows = _by_id(read_source(tmp_path))
    assert rows["c23/DeepFakeDetection/01_02__exit_phone_room__YVGY8LOK"]["donor_hint"] == "02"
    swap = rows["c23/FaceSwap/003_000"]
    assert (swap["actor_hint"], swap["donor_hint"]) == ("003", "000")
    assert rows[swap["original_video_id"]]["actor_hint"] == "003"
    donor_originals = [r for r in rows.values() if r["label"] == "REAL"]
    assert swap["donor_hint"] in {r["actor_hint"] for r in donor_originals}
    orphan = rows["c23/NeuralTextures/999_998"]
    assert (orphan["actor_hint"], orphan["donor_hint"]) == ("999", "998")
    assert all(r["donor_hint"] is None for r in donor_originals)


def test_official_split_json(tmp_path):
    make_files(tmp_path, LAYOUT)
    (tmp_path / "test.json").write_text(json.dumps([["000", "003"]]))
    rows = _by_id(read_source(tmp_path))
    assert rows["c23/Deepfakes/000_003"]["official_split"] == "test"
    assert rows["c23/FaceSwap/003_000"]["official_split"] == "test"
    assert rows["c40/000"]["official_split"] == "test"
    assert rows["c23/NeuralTextures/999_998"]["official_split"] is None
    (tmp_path / "test.json").write_text(json.dumps([["000"]]))
    with pytest.raises(SourceFormatError, match=r"test.json: item 0"):
        read_source(tmp_path)
