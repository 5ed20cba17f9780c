"""Shared fixtures: an isolated data directory and Dagster instance, and small real videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """DEEPFAKE_DATA_DIR, DAGSTER_HOME and DEEPFAKE_SOURCES_DIR in a fresh temporary folder."""
    paths = {
        "data": tmp_path / "data",
        "home": tmp_path / "dagster_home",
        "sources": tmp_path / "sources",
    }
    for path in paths.values():
        path.mkdir()
    monkeypatch.setenv("DEEPFAKE_DATA_DIR", str(paths["data"]))
    monkeypatch.setenv("DAGSTER_HOME", str(paths["home"]))
    monkeypatch.setenv("DEEPFAKE_SOURCES_DIR", str(paths["sources"]))
    monkeypatch.setenv("DEEPFAKE_SOURCES_SETTLE_S", "0")
    (paths["home"] / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return paths


def grace_hopper() -> np.ndarray:
    """matplotlib's Grace Hopper photo (a real face), RGB uint8."""
    import matplotlib.pyplot as plt
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(plt.imread(handle, format="jpg"))[..., :3]


def face_frames(n: int = 12, size: int = 160, image: np.ndarray | None = None) -> np.ndarray:
    """`n` RGB frames panning slowly over a real face (scikit-image's astronaut by default)."""
    from skimage import data
    from skimage.transform import resize

    if image is None:
        image = data.astronaut()[:300, 100:400]
    frames = []
    for i in range(n):
        crop = image[i * 2 : i * 2 + 260, i * 2 : i * 2 + 260]
        frames.append((resize(crop, (size, size), anti_aliasing=True) * 255).astype(np.uint8))
    return np.stack(frames)


def make_dfdc_folder(root: Path, n_frames: int = 12) -> Path:
    """A tiny DFDC-layout dataset: one real video, its fake, one corrupt file, one escape."""
    from deepfake_assets.media.video_writer import write_h264

    part = root / "dfdc_train_part_0"
    part.mkdir(parents=True)
    frames = face_frames(n_frames)
    write_h264(part / "real.mp4", frames)
    write_h264(part / "fake.mp4", 255 - frames)
    (part / "broken.mp4").write_bytes((part / "real.mp4").read_bytes()[:300])
    metadata = {
        "real.mp4": {"label": "REAL", "split": "train"},
        "fake.mp4": {"label": "FAKE", "split": "train", "original": "real.mp4"},
        "broken.mp4": {"label": "REAL", "split": "train"},
        "lost.mp4": {"label": "FAKE", "split": "train", "original": "nowhere.mp4"},
        "../../escape.mp4": {"label": "REAL", "split": "train"},
    }
    (part / "metadata.json").write_text(json.dumps(metadata))
    return root


@pytest.fixture
def dfdc_folder(tmp_path: Path) -> Path:
    return make_dfdc_folder(tmp_path / "tiny_dfdc")


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory):
    """The demo dataset, built once per test session: (DemoSummary, progress messages)."""
    from deepfake_assets.demo import DemoSourceMissingError, build_demo_dataset

    dest = tmp_path_factory.mktemp("demo") / "dfdc_demo"
    messages: list[str] = []
    try:
        summary = build_demo_dataset(dest, seed=0, progress=messages.append)
    except DemoSourceMissingError as exc:
        pytest.fail(f"the demo's face photos are not installed: {exc}")
    return summary, messages


@pytest.fixture(scope="session")
def demo_graph(demo_build, tmp_path_factory):
    """The demo registered and materialised through the CLI, once per session: every test
    that reads the catalog or the export of a whole-graph run shares this one."""
    import json

    from deepfake_assets import cli
    from deepfake_assets.catalog import Catalog

    summary, _ = demo_build
    root = tmp_path_factory.mktemp("graph")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPFAKE_DATA_DIR", str(root / "data"))
        mp.setenv("DAGSTER_HOME", str(root / "home"))
        (root / "home").mkdir()
        (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        added = cli.main(
            ["sources", "add", "demo", str(summary.dest), "--format", "dfdc"]
            + ["--sampling", "balanced"]
        )
        assert added == 0
        # a small image source beside the videos, so the whole graph covers images too
        from deepfake_assets.demo_images import build_demo_images

        images = build_demo_images(root / "images_demo")
        assert cli.main(["sources", "add", "demo-images", str(images.dest)]) == 0  # auto
        rc = cli.main(["materialize"])
        truth = json.loads(summary.truth_path.read_text())
        image_truth = json.loads(images.truth_path.read_text())
        yield {
            "rc": rc,
            "catalog": Catalog(root / "data"),
            "truth": truth,
            "image_truth": image_truth,
            "root": root,
        }


@pytest.fixture(autouse=True)
def _no_leftover_defs_state_storage():
    """Each test starts without a current Dagster defs-state storage: one left behind by an
    earlier test's instance (a context variable Dagster sets while loading a code location)
    points at an instance that is gone, and the next `dg.materialize` fails on it."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield
