"""The whole graph on file names a hostile or careless user gives: names that slug alike, a
formula where a method name should be, a corrupt file in a folder with a space.

Built from test faces (scikit-image's astronaut, matplotlib's Grace Hopper) on every run.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import polars as pl
import pytest

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog
from deepfake_assets.faces.crops import make_crops
from deepfake_assets.media.frames import read_frames
from deepfake_assets.media.images import read_png
from deepfake_assets.media.video_writer import write_h264
from deepfake_assets_tests.conftest import face_frames, grace_hopper

pytestmark = pytest.mark.slow

FORMULA = "=cmd()|' /C calc'!A0"


def make_hostile_names(root: Path) -> Path:
    """Two pairs of real videos whose names slug alike (`a b`/`a_b` with equal frame plans,
    `vidé`/`vidè` with different ones), a fake whose method is a formula, a corrupt file."""
    root.mkdir(parents=True)
    hopper = grace_hopper()[100:460, 60:420]
    write_h264(root / "a b.mp4", face_frames(14, size=160))
    write_h264(root / "a_b.mp4", face_frames(14, size=160, image=hopper))
    write_h264(root / "vidé.mp4", face_frames(14, size=192))
    write_h264(root / "vidè.mp4", face_frames(20, size=160, image=hopper))
    (root / "fakes").mkdir()
    write_h264(root / "fakes" / "a b.mp4", 255 - face_frames(14, size=160))
    (root / "sub dir").mkdir()
    (root / "sub dir" / "broken.mp4").write_bytes((root / "a b.mp4").read_bytes()[:300])
    lines = [
        "path,label,original,method",
        "a b.mp4,REAL,,",
        "a_b.mp4,REAL,,",
        "vidé.mp4,REAL,,",
        "vidè.mp4,REAL,,",
        f'fakes/a b.mp4,FAKE,a b.mp4,"{FORMULA}"',
        "sub dir/broken.mp4,REAL,,",
    ]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder = make_hostile_names(root / "dataset")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPFAKE_DATA_DIR", str(root / "data"))
        mp.setenv("DAGSTER_HOME", str(root / "home"))
        (root / "home").mkdir()
        (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        assert cli.main(["sources", "add", "names", str(folder)]) == 0
        rc = cli.main(["materialize"])
        yield {"rc": rc, "root": root, "data": root / "data", "folder": folder}


def test_the_graph_runs_through_and_the_export_is_complete(graph):
    assert graph["rc"] == 0
    data = graph["data"]
    assert not list(data.glob(".export.*")), "a half-built export was left behind"
    info = pl.read_parquet(data / "export" / "info.parquet")
    assert info.height > 0
    for column in ("path", "path_299", "path_raw", "mask_path"):
        for rel in info[column].drop_nulls():
            assert (data / "export" / rel).is_file(), rel


def test_videos_whose_names_slug_alike_keep_their_own_crops(graph):
    faces = Catalog(graph["data"]).read("faces", "names")
    reals = faces.filter(pl.col("label") == "REAL")
    assert sorted(reals["video_id"].unique()) == ["a b", "a_b", "vidè", "vidé"]
    for column in ("crop_160", "crop_299", "crop_raw"):
        assert faces[column].n_unique() == faces.height, f"two faces share a {column} file"
    folders: dict[str, set[str]] = {}
    for row in faces.iter_rows(named=True):
        for column in ("crop_160", "crop_299", "crop_raw"):
            folders.setdefault(row["video_id"], set()).add(str(Path(row[column]).parent))
    assert all(len(f) == 1 for f in folders.values()), folders  # one folder per video
    assert len({f.pop() for f in folders.values()}) == len(folders) == 5  # not shared
    # each row's crop is the crop of its own video's frame at its own box
    for video_id, rows in reals.group_by("video_id"):
        frames = read_frames(graph["folder"] / f"{video_id[0]}.mp4", rows["frame_index"])
        by_index = dict(zip(frames.indices, frames.frames, strict=True))
        for row in rows.iter_rows(named=True):
            box = (row["x1"], row["y1"], row["x2"], row["y2"])
            want = make_crops(by_index[row["frame_index"]], box).raw
            got = read_png(graph["data"] / row["crop_raw"])
            assert got.shape == want.shape and (got == want).all(), row["face_id"]


def test_formulas_are_neutralised_in_info_csv_only(graph):
    export = graph["data"] / "export"
    with open(export / "info.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # no cell of the CSV starts a formula: every such text is quoted with a leading '
    starts = ("=", "+", "-", "@", "\t", "\r")

    def is_number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    cells = [v for r in rows for v in r.values() if v and not is_number(v)]
    assert not [v for v in cells if v.startswith(starts)]
    methods = {r["method"] for r in rows if r["label"] == "FAKE"}
    info = pl.read_parquet(export / "info.parquet")
    if methods:  # the fake can be left out by the identity-disjoint split (split_drops)
        assert methods == {"'" + FORMULA}
        assert set(info.filter(pl.col("label") == "FAKE")["method"]) == {FORMULA}
    assert any(r["frame_index"] == "0" for r in rows)  # numbers stay numbers


def test_reasons_name_files_relative_to_the_dataset_folder(graph):
    catalog = Catalog(graph["data"])
    videos = catalog.read("videos", "names")
    broken = videos.filter(pl.col("rel_path") == "sub dir/broken.mp4").row(0, named=True)
    assert broken["status"] == "unreadable" and "sub dir/broken.mp4" in broken["reason"]
    reasons = videos["reason"].drop_nulls().to_list()
    reasons += catalog.read("face_videos", "names")["reason"].drop_nulls().to_list()
    for reason in reasons:
        assert str(graph["root"]) not in reason and str(graph["folder"]) not in reason, reason


def test_a_staged_video_whose_crops_are_gone_is_computed_again(graph):
    """The resume staging under data/work must not bring back rows whose crops are gone (a crop
    folder deleted, or named by an older layout)."""
    import shutil

    from deepfake_assets.faces.video_faces import safe_video_dir

    data = graph["data"]
    shutil.rmtree(data / "faces" / "names" / safe_video_dir("a b"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPFAKE_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(graph["root"] / "home"))
        assert cli.main(["materialize", "--source", "names", "--sources-only"]) == 0
    faces = Catalog(data).read("faces", "names")
    assert faces.filter(pl.col("video_id") == "a b").height == 14
    for rel in faces["crop_160"].to_list() + faces["crop_raw"].to_list():
        assert (data / rel).is_file(), rel


def test_a_failed_export_keeps_the_previous_one_and_leaves_no_build_folder(graph):
    """Runs last: it breaks the export on purpose (a crop gone from disk), then mends it."""
    import dagster as dg

    from deepfake_assets.assets.export import exported_dataset
    from deepfake_assets.resources import ComputeResource, DataDirResource

    data = graph["data"]
    abandoned = data / ".export.999999999.building"  # a run killed while exporting
    (abandoned / "faces").mkdir(parents=True)
    before = (data / "export" / "info.csv").read_bytes()
    crop = data / pl.read_parquet(data / "export" / "info.parquet")["path"][0]
    crop.unlink()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DEEPFAKE_DATA_DIR", str(data))
            result = dg.materialize(
                [exported_dataset],
                resources={"data": DataDirResource(), "compute": ComputeResource()},
                raise_on_error=False,
            )
        assert not result.success
        assert not list(data.glob(".export.*")), "a build folder was left behind"
        assert (data / "export" / "info.csv").read_bytes() == before
    finally:
        os.link(data / "export" / crop.relative_to(data), crop)
