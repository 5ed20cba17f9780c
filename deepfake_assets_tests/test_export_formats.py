"""The demo export read by its consumers: DeepfakeBench's loader rules, `datasets`,
`webdataset`, the video test subset, the data card's funnel and FiftyOne (when installed).

All of them read the one whole-graph run of the session (conftest.py `demo_graph`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from deepfake_assets.export.deepfakebench import (
    DeepfakeBenchError,
    DeepfakeBenchOptions,
    entry_name,
    label_dict_yaml,
    layout,
    safe_segment,
)
from deepfake_assets.export.video_subset import plan_subset
from deepfake_assets.export.webdataset import write_shards
from deepfake_assets.media.images import read_png

pytestmark = pytest.mark.slow

PREFIX = "./datasets/deepfake_assets/"


@pytest.fixture(scope="module")
def export(demo_graph) -> Path:
    assert demo_graph["rc"] == 0
    return demo_graph["root"] / "data" / "export"


@pytest.fixture(scope="module")
def info(export) -> pl.DataFrame:
    return pl.read_parquet(export / "info.parquet")


def _bench(export: Path, name: str) -> dict:
    return json.loads((export / "deepfakebench" / "dataset_json" / f"{name}.json").read_text())


def _on_disk(export: Path, frame: str) -> Path:
    """Where a JSON path lands once the dataset folder is DeepfakeBench's ./datasets/<name>."""
    assert frame.startswith(PREFIX), frame
    return export / "deepfakebench" / "deepfake_assets" / frame.removeprefix(PREFIX)


def test_deepfakebench_json_follows_the_loader(export, info):
    bench = _bench(export, "deepfake_assets")
    # abstract_dataset.py L165-169 + L190: the stem is the top-level key
    assert list(bench) == ["deepfake_assets"]
    tree = bench["deepfake_assets"]
    # L190-191: every label has every split key, even empty; labels per source (the demo's
    # video source and its image source)
    labels = {
        f"{source}_{label.lower()}": int(label == "FAKE")
        for source, label in info.select("source", "label").unique().iter_rows()
    }
    assert {"demo_real", "demo_fake"} <= set(labels)
    assert set(tree) == set(labels)
    assert all(set(splits) == {"train", "val", "test"} for splits in tree.values())
    # L204-206: every label is in the label_dict snippet, real 0 and fake 1
    snippet = yaml.safe_load((export / "deepfakebench" / "label_dict.yaml").read_text())
    assert snippet["label_dict"] == labels
    frames = 0
    for label, splits in tree.items():
        for split, entries in splits.items():
            for key, entry in entries.items():
                assert entry["label"] == label and entry["frames"]
                # L298-299: paths start with '.' (no rgb_dir + '\\' prefix), under ./datasets
                stems = [Path(f).stem for f in entry["frames"]]
                # L209-212: int(stem) is the frame number and the listed order is frame order
                assert all(s.isdigit() for s in stems)
                assert [int(s) for s in stems] == sorted(int(s) for s in stems)
                video, _, track = key.partition("_track")
                rows = info.filter(
                    (pl.col("video_id").map_elements(entry_name, return_dtype=pl.Utf8) == video)
                    & (pl.col("track") == (int(track) if track else 0))
                    & (pl.col("split") == split)
                )
                assert sorted(rows["frame_index"].to_list()) == [int(s) for s in stems]
                for frame in entry["frames"]:
                    assert "/frames/" in frame and frame.count("frames") == 1
                    assert _on_disk(export, frame).is_file()
                frames += len(entry["frames"])
    assert frames == info.height


def test_deepfakebench_masks_and_landmarks_are_found(export, info):
    tree = _bench(export, "deepfake_assets")["deepfake_assets"]
    with_mask = {entry_name(v) for v in info.filter(pl.col("mask_path").is_not_null())["video_id"]}
    checked = {"real": 0, "fake": 0}
    for label, splits in tree.items():
        for entries in splits.values():
            for key, entry in entries.items():
                for frame in entry["frames"]:
                    # L485-486: the loader's own derivation of the mask and landmark paths
                    mask = _on_disk(export, frame.replace("frames", "masks"))
                    marks = _on_disk(
                        export, frame.replace("frames", "landmarks").replace(".png", ".npy")
                    )
                    points = np.load(marks)
                    assert points.shape == (68, 2) and points.dtype == np.float32
                    assert points.min() >= 0 and points.max() < 256  # resolution 256
                    if label == "demo_real":
                        assert read_png(mask).max() == 0  # an explicit all-zero mask
                        checked["real"] += 1
                    elif key.split("_track")[0] in with_mask:
                        image = read_png(_on_disk(export, frame))
                        assert not np.array_equal(read_png(mask), image)  # not the crop itself
                        checked["fake"] += 1
    assert checked["real"] > 0 and checked["fake"] > 0


def test_deepfakebench_val_json_puts_val_in_the_test_slot(export):
    main = _bench(export, "deepfake_assets")["deepfake_assets"]
    val = _bench(export, "deepfake_assets_val")
    assert list(val) == ["deepfake_assets_val"]
    for label, splits in val["deepfake_assets_val"].items():
        assert splits["test"] == main[label]["val"]
        assert splits["train"] == main[label]["train"]
    assert any(main[label]["val"] for label in main)


def test_deepfakebench_layout_options_and_names():
    info = pl.DataFrame(
        {
            "source": ["ff", "ff", "ff", "ff"],
            "video_id": ["000", "000_003", "001_frames.png", "000_003"],
            "label": ["REAL", "FAKE", "FAKE", "FAKE"],
            "method": [None, "Deepfakes", "FaceSwap", "Deepfakes"],
            "track": [0, 0, 0, 1],
            "frame_index": [12, 12, 7, 12],
            "split": ["train", "train", "test", "train"],
        }
    )
    laid = layout(info, DeepfakeBenchOptions(per_method_labels=True))
    assert laid["dfb_label"].to_list() == ["ff_real", "ff_Deepfakes", "ff_FaceSwap", "ff_Deepfakes"]
    # one entry per video and track; stems are frame numbers; no stray 'frames' / '.png'
    assert laid["dfb_key"].to_list() == [
        "000",
        "000_003",
        entry_name("001_frames.png"),
        "000_003_track1",
    ]
    assert laid["dfb_frame"][0] == "ff/real/frames/000/000012.png"
    assert laid["dfb_mask"][2] == f"ff/FaceSwap/masks/{entry_name('001_frames.png')}/000007.png"
    assert entry_name("001_frames.png").startswith("001_frame_s_png-")
    assert entry_name("a b") != entry_name("a_b")  # one folder per video
    assert laid["dfb_landmark"][3] == "ff/Deepfakes/landmarks/000_003_track1/000012.npy"
    assert safe_segment("a/b\\c") == "a_b_c"
    multi = yaml.safe_load(label_dict_yaml(["ff_Deepfakes", "ff_FaceSwap", "ff_real"], "x", True))
    assert multi["label_dict"] == {"ff_Deepfakes": 1, "ff_FaceSwap": 2, "ff_real": 0}
    for bad in (
        DeepfakeBenchOptions(name="FF-DF"),  # the loader's FaceForensics++ branch
        DeepfakeBenchOptions(name="my_frames"),
        DeepfakeBenchOptions(prefix="/data/datasets"),  # gets rgb_dir + '\\' prepended
    ):
        with pytest.raises(DeepfakeBenchError):
            bad.validate()


def test_hugging_face_datasets_loads_the_export(export, info):
    datasets = pytest.importorskip("datasets", reason="the `datasets` package (a dev extra)")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(export / "hf"))
    assert set(loaded) == {"train", "validation", "test"}
    names = {"train": "train", "validation": "val", "test": "test"}
    for split, ours in names.items():
        part = loaded[split]
        expected = info.filter(pl.col("split") == ours)
        assert part.num_rows == expected.height
        for column in ("label", "source", "video_id", "actor_id", "fake_level", "method"):
            assert column in part.column_names
        row = part[0]
        assert row["image"].size == (299, 299)
        match = expected.filter(
            (pl.col("video_id") == row["video_id"])
            & (pl.col("frame_index") == row["frame_index"])
            & (pl.col("track") == row["track"])
        )
        assert match.height == 1
        assert match["label"][0] == row["label"] and match["actor_id"][0] == row["actor_id"]
        stored = read_png(export / match["path_299"][0])
        assert np.array_equal(np.asarray(row["image"].convert("RGB")), stored)
    assert loaded["train"].features["fake_level"].dtype == "int8"


def test_webdataset_reads_the_shards_back(export, info, tmp_path):
    wds = pytest.importorskip("webdataset", reason="the `webdataset` package (a dev extra)")
    # the export's own shards, through the shard list file
    for split in ("train", "val", "test"):
        listed = (export / "wds" / f"{split}.txt").read_text().split()
        urls = [str(export / "wds" / name) for name in listed]
        samples = list(wds.WebDataset(urls, shardshuffle=False).decode("rgb"))
        assert len(samples) == info.filter(pl.col("split") == split).height
        assert len({s["__key__"] for s in samples}) == len(samples)
        first = samples[0]
        assert first["png"].shape == (299, 299, 3)
        assert first["json"]["split"] == split and first["json"]["label"] in {"REAL", "FAKE"}
    # a configurable shard size: ceil(n / size) shards, each at most `size` samples
    summary = write_shards(info, export, shard_size=10, seed=1, out=tmp_path / "wds")
    train = info.filter(pl.col("split") == "train").height
    assert len(summary.shards["train"]) == -(-train // 10)
    pattern = json.loads((tmp_path / "wds" / "shards.json").read_text())["train"]["pattern"]
    counts = [
        len(list(wds.WebDataset(str(tmp_path / "wds" / name), shardshuffle=False)))
        for name in summary.shards["train"]
    ]
    assert max(counts) == 10 and sum(counts) == train
    total = len(list(wds.WebDataset(str(tmp_path / "wds" / pattern), shardshuffle=False)))
    assert total == train


def test_video_test_subset_links_the_test_videos(export, info, demo_graph):
    table = pl.read_csv(export / "test_videos.csv")
    assert table.columns == [
        "path",
        "label",
        "source",
        "video_id",
        "method",
        "actor_id",
        "fake_level",
    ]
    test_videos = set(info.filter(pl.col("split") == "test")["video_id"].to_list())
    assert set(table["video_id"].to_list()) == test_videos
    videos = demo_graph["catalog"].read("videos")
    for row in table.iter_rows(named=True):
        shipped = export / row["path"]
        source = videos.filter(pl.col("video_id") == row["video_id"])["abs_path"][0]
        assert os.path.samefile(shipped, source)  # linked, not a copy
    # the size cap keeps whole (original + fakes) groups
    capped, left_out = plan_subset(info, videos, max_bytes=1, max_videos=100)
    assert capped.height == 0 and left_out == table.height
    one_group, _ = plan_subset(info, videos, max_bytes=2**40, max_videos=2)
    assert one_group.height <= 2


def test_data_card_funnel(export, info, demo_graph):
    funnel = pl.read_csv(export / "funnel.csv").filter(pl.col("source") == "demo")
    assert funnel["step"].to_list() == [
        "listed",
        "probed ok",
        "faces found",
        "deduplicated",
        "balanced + split",
        "exported",
    ]
    videos = demo_graph["catalog"].read("videos", "demo")
    steps = {r["step"]: r for r in funnel.iter_rows(named=True)}
    assert steps["listed"]["videos"] == videos.height
    assert steps["probed ok"]["lost"] == videos.filter(pl.col("status") != "ok").height
    assert "missing" in steps["probed ok"]["why"]
    assert "no_face" in steps["faces found"]["why"]
    assert steps["exported"]["faces"] == info.filter(pl.col("source") == "demo").height
    face_steps = ("faces found", "deduplicated", "balanced + split", "exported")
    for earlier, later in zip(face_steps, face_steps[1:], strict=False):
        assert steps[earlier]["faces"] - steps[later]["faces"] == steps[later]["lost"]
    card = (export / "DATA_CARD.md").read_text()
    assert "## Funnel" in card and "| demo | probed ok | 55 |" in card


def test_fiftyone_loads_the_export(export, info, demo_graph):
    pytest.importorskip(
        "fiftyone",
        reason="fiftyone is an optional extra (`pip install -e .[fiftyone]`); it pins an older "
        "opencv, so the dev environment does not install it",
    )
    from deepfake_assets.export.fiftyone_browse import load_fiftyone

    dataset = load_fiftyone(export, demo_graph["catalog"], name="test_demo_export")
    try:
        exported = dataset.match({"split": {"$ne": "dropped"}})
        assert len(exported) == info.height
        fields = dataset.get_field_schema()
        for field in ("split", "label", "source", "actor_id", "fake_level", "ssim", "mask"):
            assert field in fields
        assert len(dataset.match({"split": "dropped"})) > 0
        assert len(dataset.exists("identity_embedding")) > 0
        _screenshot_of_the_app(dataset)
    finally:
        dataset.delete()


def _screenshot_of_the_app(dataset) -> None:
    """Where Chromium and Playwright are present: the App's grid, saved as a test artefact."""
    import shutil
    import socket

    chromium = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if not chromium or sync_playwright is None:
        print("no Chromium / Playwright: no screenshot of the FiftyOne App")
        return
    import fiftyone as fo

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = fo.launch_app(dataset, address="127.0.0.1", port=port, remote=True)
    out = Path(__file__).resolve().parents[1] / "test-artifacts" / "fiftyone" / "grid.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            # the grid: one tile per sample, each a <canvas> or <img> once its crop has loaded
            page.wait_for_selector("canvas, [data-cy=looker] img", timeout=120_000)
            page.wait_for_timeout(8000)  # tiles fade in; the picture is for a person, not a test
            for button in ("Dismiss", "Disable"):  # first-visit pop-ups over the grid
                found = page.get_by_role("button", name=button)
                if found.count():
                    found.first.click()
            page.screenshot(path=str(out))
            browser.close()
        print(f"screenshot: {out}")
    finally:
        session.close()
