"""Runs that survive faults: a SIGKILL mid-way, an unwritable output folder, a vanished source."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog
from deepfake_assets.media.video_writer import write_h264
from deepfake_assets_tests.conftest import face_frames, grace_hopper, make_dfdc_folder

pytestmark = pytest.mark.slow


def make_many_videos(root: Path, n: int = 6) -> Path:
    """`n` real videos (astronaut and Grace Hopper, different crops) and one fake."""
    part = root / "dfdc_train_part_0"
    part.mkdir(parents=True)
    hopper = grace_hopper()[100:460, 60:420]
    metadata = {}
    for i in range(n):
        image = hopper if i == 1 else None
        frames = face_frames(14, size=160 + 16 * i, image=image)
        write_h264(part / f"v{i}.mp4", frames)
        metadata[f"v{i}.mp4"] = {"label": "REAL", "split": "train"}
    write_h264(part / "fake0.mp4", face_frames(14, size=160)[:, :, ::-1].copy())
    metadata["fake0.mp4"] = {"label": "FAKE", "split": "train", "original": "v0.mp4"}
    (part / "metadata.json").write_text(json.dumps(metadata))
    return root


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


def test_sigkill_in_the_faces_step_then_rerun_gives_every_face_once(data_env, tmp_path):
    folder = make_many_videos(tmp_path / "many")
    assert cli.main(["sources", "add", "many", str(folder)]) == 0
    staging = data_env["data"] / "work" / "many" / "faces"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepfake_assets.cli", "materialize", "--sources-only"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if staging.exists() and any(staging.glob("*.json")):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its face workers
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished_before = len(list(staging.glob("*.json")))
    assert 1 <= finished_before < 7
    catalog = Catalog()
    assert not catalog.has("faces", "many")  # nothing half-published

    assert cli.main(["materialize", "--sources-only"]) == 0
    faces = catalog.read("faces", "many")
    assert faces["face_id"].n_unique() == faces.height > 0
    face_videos = catalog.read("face_videos", "many")
    assert face_videos.height == 7 and (face_videos["status"] == "ok").all()
    assert sorted(faces["video_id"].unique()) == ["fake0", "v0", "v1", "v2", "v3", "v4", "v5"]
    assert temp_files(data_env["data"]) == []
    for rel in faces["crop_160"].to_list():
        assert (data_env["data"] / rel).is_file()


def test_unwritable_output_folder_fails_clearly_and_keeps_the_catalog(
    data_env, dfdc_folder, capsys
):
    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    blocked = data_env["data"] / "faces" / "tiny"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the crop folder should be")
    assert cli.main(["materialize", "--sources-only"]) == 1
    err = capsys.readouterr().err
    assert "cannot write the face crops of 'tiny'" in err
    catalog = Catalog()
    assert catalog.has("videos", "tiny") and not catalog.has("faces", "tiny")

    blocked.unlink()  # the user frees the folder: the next run completes
    assert cli.main(["materialize", "--sources-only"]) == 0
    assert catalog.read("faces", "tiny").height > 0


def test_a_source_folder_that_vanished_is_reported(data_env, tmp_path, capsys):
    folder = make_dfdc_folder(tmp_path / "gone")
    assert cli.main(["sources", "add", "gone", str(folder)]) == 0
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    assert cli.main(["materialize", "--sources-only"]) == 1
    assert "does not exist any more" in capsys.readouterr().err


def test_a_video_deleted_after_the_manifest_is_a_recorded_row(data_env, dfdc_folder):
    from deepfake_assets.definitions import defs

    assert cli.main(["sources", "add", "tiny", str(dfdc_folder)]) == 0
    import dagster as dg

    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def("ingest_source")
    first = job.execute_in_process(
        instance=instance, partition_key="tiny", asset_selection=[dg.AssetKey("videos")]
    )
    assert first.success
    (dfdc_folder / "dfdc_train_part_0" / "real.mp4").unlink()  # vanishes mid-run
    rest = job.execute_in_process(
        instance=instance,
        partition_key="tiny",
        asset_selection=[
            dg.AssetKey("sampled_frames"),
            dg.AssetKey("face_detections"),
            dg.AssetKey("face_crops"),
        ],
    )
    assert rest.success
    face_videos = Catalog().read("face_videos", "tiny")
    real = face_videos.filter(pl.col("video_id") == "real").row(0, named=True)
    assert real["status"] == "discarded" and "decode_error" in real["reason"]
    fake = face_videos.filter(pl.col("video_id") == "fake").row(0, named=True)
    assert fake["status"] == "discarded" and "original_not_ok" in fake["reason"]
