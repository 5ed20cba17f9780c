from deepfake_assets.sources import detect_format, read_source

from .conftest import make_files


def test_deeperforensics_layout(tmp_path):
    make_files(
        tmp_path,
        [
            "manipulated_videos/end_to_end/000_M101.mp4",
            "manipulated_videos/end_to_end_level_3/000_M101.mp4",
            "manipulated_videos/reenact_postprocess/012_W017.mp4",
            "source_videos/W017/light_up/surprise/camera_down/W017_light_up_surprise.mp4",
            "source_videos/M101/BlendShape/camera_front/M101_BlendShape.mp4",
        ],
    )
    meta = tmp_path / "lists" / "manipulated_videos_distortions_meta"
    meta.mkdir(parents=True)
    (meta / "end_to_end_level_3_meta.txt").write_text("000_M101.mp4 CS 3\n")
    splits = tmp_path / "lists" / "splits"
    splits.mkdir()
    (splits / "test.txt").write_text("000_M101.mp4\n")
    (splits / "train.txt").write_text("012_W017.mp4\n")

    assert detect_format(tmp_path) == "deeperforensics"
    rows = {r["video_id"]: r for r in read_source(tmp_path).to_dicts()}
    fake = rows["end_to_end_level_3/000_M101"]
    assert fake["label"] == "FAKE" and fake["method"] == "DF-VAE"
    assert fake["variant"] == "end_to_end_level_3"
    # the face shown is actor M101's (the donor); the target is FF++ youtube 000
    assert fake["donor_hint"] == "M101" and fake["gender"] == "male"
    assert fake["actor_hint"] == "000"
    # the target is an FF++ youtube video that this folder does not hold
    assert fake["original_video_id"] == "000"
    assert "distortions=CS 3" in fake["notes"]
    assert fake["official_split"] == "test"
    plain = rows["end_to_end/000_M101"]
    assert "distortions" not in plain["notes"] and plain["official_split"] == "test"
    woman = rows["reenact_postprocess/012_W017"]
    assert woman["gender"] == "female" and woman["official_split"] == "train"
    source = rows["source_videos/W017/light_up/surprise/camera_down/W017_light_up_surprise"]
    assert source["label"] == "REAL" and source["actor_hint"] == "W017"
    assert source["gender"] == "female" and source["original_video_id"] is None
    assert woman["donor_hint"] == source["actor_hint"] and source["donor_hint"] is None


def test_distortion_listing_inside_manipulated_videos(tmp_path):
    make_files(
        tmp_path,
        [
            "manipulated_videos/end_to_end_mix_2_distortions/103_W018.mp4",
            "source_videos/W018/a.mp4",
        ],
    )
    listing = tmp_path / "manipulated_videos" / "distortions" / "end_to_end_mix_2_distortions.txt"
    listing.parent.mkdir()
    listing.write_text("file distortions\n103_W018.mp4 GB 2, JPEG 4\n")
    table = read_source(tmp_path, "deeperforensics")
    fake = table.filter(table["label"] == "FAKE").to_dicts()[0]
    assert fake["notes"].endswith("distortions=GB 2 JPEG 4")
    assert table.height == 2
