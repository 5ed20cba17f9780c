"""A deliberately leaking dataset fails the blocking checks, names the rows, and the CLI exits 1.

The leak is made the way it happens in practice: a dataset ships the same video twice under two
names with official splits train and test, and the user asks to keep official splits and keep
duplicates. The same actor then sits in two splits, and a near-duplicate face too.
"""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog
from deepfake_assets.media.video_writer import write_h264
from deepfake_assets.splits import validation
from deepfake_assets_tests.conftest import face_frames, grace_hopper

pytestmark = pytest.mark.slow


def make_leaky_dataset(root):
    part = root / "dfdc_train_part_0"
    part.mkdir(parents=True)
    write_h264(part / "astro.mp4", face_frames(16))
    shutil.copyfile(part / "astro.mp4", part / "astro_again.mp4")
    write_h264(part / "grace.mp4", face_frames(16, image=grace_hopper()[100:460, 60:420]))
    write_h264(part / "astro_fake.mp4", face_frames(16)[:, :, ::-1].copy())
    metadata = {
        "astro.mp4": {"label": "REAL", "split": "train"},
        "astro_again.mp4": {"label": "REAL", "split": "test"},
        "grace.mp4": {"label": "REAL", "split": "train"},
        "astro_fake.mp4": {"label": "FAKE", "split": "train", "original": "astro.mp4"},
    }
    (part / "metadata.json").write_text(json.dumps(metadata))
    return root


def test_leaking_dataset_fails_the_checks_and_the_cli(data_env, tmp_path, capsys):
    folder = make_leaky_dataset(tmp_path / "leaky")
    config = tmp_path / "leak.yaml"
    config.write_text(
        "ops:\n"
        "  fold_splits: {config: {pin_official_splits: true}}\n"
        "  duplicate_groups: {config: {drop_duplicates: false}}\n"
    )
    assert cli.main(["sources", "add", "leaky", str(folder)]) == 0
    assert cli.main(["materialize", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "check no_identity_leakage on fold_splits failed" in err
    assert "check no_near_duplicates_across_splits on fold_splits failed" in err

    catalog = Catalog()
    actors = catalog.read("video_actors")
    astro_actor = actors.filter(pl.col("video_id") == "astro")["actor_id"][0]
    assert astro_actor in err  # the offending actor is named
    assert actors.filter(pl.col("video_id") == "astro_again")["actor_id"][0] == astro_actor
    leaks = validation.actors_in_two_splits(catalog.read("splits"))
    assert leaks["actor_id"].to_list() == [astro_actor]
    assert "leaky/astro_again/" in err  # a near-duplicate face named
    # the export did not run: a failed blocking check stops the graph
    assert not (data_env["data"] / "export" / "info.csv").exists()


def test_the_same_dataset_without_pins_passes(data_env, tmp_path):
    folder = make_leaky_dataset(tmp_path / "leaky")
    assert cli.main(["sources", "add", "leaky", str(folder)]) == 0
    assert cli.main(["materialize"]) == 0
    splits = Catalog().read("splits")
    assert validation.actors_in_two_splits(splits).is_empty()
    # the duplicated video is dropped as a duplicate of the first copy
    assert splits.filter(pl.col("video_id") == "astro_again").is_empty()
