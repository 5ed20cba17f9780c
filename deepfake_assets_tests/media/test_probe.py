"""The manifest's probe: bad files become rows whose reasons name them relative to the dataset."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from deepfake_assets.media.video_writer import write_h264
from deepfake_assets.sources import read_source
from deepfake_assets.video_manifest import build_manifest
from deepfake_assets_tests.conftest import face_frames


def test_reasons_name_bad_files_relative_to_the_dataset_folder(tmp_path: Path):
    root = tmp_path / "dataset"
    (root / "sub dir").mkdir(parents=True)
    write_h264(root / "good.mp4", face_frames(4, size=64))
    (root / "sub dir" / "broken.mp4").write_bytes((root / "good.mp4").read_bytes()[:300])
    (root / "sub dir" / "junk.mp4").write_bytes(b"\x00" * 4000)
    (root / "empty.mp4").write_bytes(b"")
    rows = ["good.mp4", "sub dir/broken.mp4", "sub dir/junk.mp4", "empty.mp4", "gone.mp4"]
    (root / "manifest.csv").write_text("path,label\n" + "".join(f"{r},REAL\n" for r in rows))
    table = build_manifest("t", root, read_source(root, "manifest"))
    by_path = {r["rel_path"]: r for r in table.to_dicts()}
    assert by_path["good.mp4"]["status"] == "ok"
    for rel in ("sub dir/broken.mp4", "sub dir/junk.mp4"):
        row = by_path[rel]
        assert row["status"] == "unreadable"
        assert rel in row["reason"], row["reason"]
        assert str(tmp_path) not in row["reason"] and "/dataset/" not in row["reason"]
    bad = table.filter(pl.col("status") != "ok")
    assert bad.height == 4
    assert not any(str(tmp_path) in reason for reason in bad["reason"].to_list())
