"""Consumer formats over a small hand-built export: a bad file is a recorded row, never a crash."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import polars as pl
from skimage import data

from deepfake_assets.export.deepfakebench import DeepfakeBenchOptions, write_deepfakebench
from deepfake_assets.export.video_subset import write_video_subset
from deepfake_assets.faces.landmarks import BoxSource, landmarks_68
from deepfake_assets.media.images import write_png_atomic


def _face_299() -> np.ndarray:
    """scikit-image's astronaut, cropped around her face and resized like a 299 margin crop."""
    face = data.astronaut()[0:260, 120:380]
    return cv2.resize(face, (299, 299), interpolation=cv2.INTER_AREA)


def test_landmarks_68_on_a_real_face():
    marks = landmarks_68(_face_299())
    assert marks.points.shape == (68, 2) and marks.box_source is BoxSource.DLIB_DETECTOR
    # the eyes (points 36-47) lie above the mouth (48-67)
    assert marks.points[36:48, 1].mean() < marks.points[48:68, 1].mean()


def test_an_unreadable_crop_is_recorded_and_the_rest_exported(tmp_path):
    write_png_atomic(tmp_path / "faces/s/v1/000003_0_299.png", _face_299())
    (tmp_path / "faces/s/v1/000009_0_299.png").write_bytes(b"not a png")
    info = pl.DataFrame(
        {
            "path_299": ["faces/s/v1/000003_0_299.png", "faces/s/v1/000009_0_299.png"],
            "mask_path": [None, None],
            "label": ["REAL", "REAL"],
            "source": ["s", "s"],
            "video_id": ["v1", "v1"],
            "frame_index": [3, 9],
            "track": [0, 0],
            "split": ["train", "train"],
            "method": [None, None],
        },
        schema_overrides={"mask_path": pl.Utf8, "method": pl.Utf8},
    )
    summary = write_deepfakebench(info, tmp_path, DeepfakeBenchOptions(name="tiny"))
    assert len(summary.landmark_failures) == 1 and "000009" in summary.landmark_failures[0]
    root = tmp_path / "deepfakebench" / "tiny"
    assert np.load(root / "s/real/landmarks/v1/000003.npy").shape == (68, 2)
    tree = json.loads((tmp_path / "deepfakebench/dataset_json/tiny.json").read_text())["tiny"]
    assert set(tree) == {"s_real", "s_fake"}  # the fake label exists, empty, for every split
    assert tree["s_fake"] == {"train": {}, "val": {}, "test": {}}
    assert tree["s_real"]["train"]["v1"]["frames"] == [
        "./datasets/tiny/s/real/frames/v1/000003.png",
        "./datasets/tiny/s/real/frames/v1/000009.png",
    ]


def test_a_test_video_gone_from_disk_is_recorded(tmp_path):
    there = tmp_path / "src" / "a.mp4"
    there.parent.mkdir()
    there.write_bytes(b"\0" * 100)
    info = pl.DataFrame(
        {
            "split": ["test", "test"],
            "source": ["s", "s"],
            "video_id": ["a", "b"],
            "label": ["REAL", "REAL"],
            "method": [None, None],
            "original_video_id": [None, None],
            "actor_id": ["x", "y"],
            "fake_level": [None, None],
            "track": [0, 0],
            "frame_index": [1, 1],
        },
        schema_overrides={"method": pl.Utf8, "original_video_id": pl.Utf8, "fake_level": pl.Int8},
    )
    videos = pl.DataFrame(
        {
            "source": ["s", "s"],
            "video_id": ["a", "b"],
            "rel_path": ["a.mp4", "b.mp4"],
            "abs_path": [str(there), str(tmp_path / "src" / "b.mp4")],
            "size_bytes": [100, 100],
            "status": ["ok", "ok"],
        }
    )
    out = tmp_path / "export"
    summary = write_video_subset(info, videos, out, max_bytes=10_000, max_videos=10)
    assert summary.videos == 1 and len(summary.missing) == 1 and "b.mp4" in summary.missing[0]
    table = pl.read_csv(out / "test_videos.csv")
    assert table["video_id"].to_list() == ["a"]
    assert os.path.samefile(out / table["path"][0], there)


def test_webdataset_shards_are_the_bytes_tarfile_writes(tmp_path):
    """The shard writer builds ustar headers from a template; the archive must be what
    `tarfile` itself writes, including a name too long for ustar's name field."""
    import io
    import tarfile

    from deepfake_assets.export.webdataset import _write_shard

    images = []
    for i, size in enumerate((0, 1, 511, 512, 513, 3000)):
        image = tmp_path / f"{i}.png"
        image.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        images.append(image)
    keys = [f"src__v{i}__00000{i}_0" for i in range(5)] + ["s" * 80 + "/" + "k" * 60]
    samples = [(k, img, {"i": i}) for i, (k, img) in enumerate(zip(keys, images, strict=True))]
    _write_shard(tmp_path / "ours.tar", samples)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, image, meta in samples:
            for name, data in (
                (f"{key}.png", image.read_bytes()),
                (f"{key}.json", json.dumps(meta).encode()),
            ):
                member = tarfile.TarInfo(name)
                member.size, member.mode, member.mtime = len(data), 0o644, 0
                tar.addfile(member, io.BytesIO(data))
    assert (tmp_path / "ours.tar").read_bytes() == buf.getvalue()
