"""The offline demo dataset: DFDC layout, >= 8 real people, frame-aligned swaps, hostile entries.

The dataset is built once per module (tens of seconds on two cores) from face photos that
installed packages ship. A missing package fails the tests with the install hint instead of
skipping them: a demo that silently shrinks would hide a broken install.
"""

from __future__ import annotations

import importlib
import json
import string
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from deepfake_assets.demo import (
    HOSTILE_CASES,
    PART_NAMES,
    TRUTH_NAME,
    CatalogExpect,
    DemoSummary,
    _plan,
    build_demo_dataset,
    main,
)
from deepfake_assets.media.face_swap import apply_affine, similarity_transform, swap_face


def _require(module: str, hint: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # a fresh machine without the package: fail loudly, never skip
        pytest.fail(f"{module} is needed here ({hint}): {exc}")


av = _require("av", "PyAV, a core dependency")
FACE_PROB = 0.9


@pytest.fixture(scope="module")
def demo(demo_build) -> tuple[DemoSummary, dict[str, Any], list]:
    summary, messages = demo_build
    truth = json.loads(summary.truth_path.read_text(encoding="utf-8"))
    return summary, truth, messages


def _videos(truth: dict[str, Any], *expect: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in truth["videos"].items() if v["expect"] in expect}


def _decode(path: Path, keep: set[int] | None = None) -> tuple[int, dict[int, np.ndarray]]:
    """Decode every frame (so truncation or corruption anywhere shows); keep only ``keep``."""
    kept: dict[int, np.ndarray] = {}
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        for count, frame in enumerate(container.decode(stream), start=1):
            if keep is None or count - 1 in keep:
                kept[count - 1] = frame.to_ndarray(format="rgb24")
    return count, kept


def _picks(video: dict[str, Any]) -> list[int]:
    """Frames the face checks look at: first, middle, last (more for the no-face clip)."""
    n = video["frames"]
    if video["expect"] == "no_face":
        return list(range(0, n, max(1, n // 6)))
    return [0, n // 2, n - 1]


@pytest.fixture(scope="module")
def decoded(demo) -> dict[str, tuple[int, dict[int, np.ndarray]]]:
    """Per listed video: its decoded frame count and a few of its frames (not all: memory)."""
    summary, truth, _ = demo
    videos = _videos(truth, "ok", "no_face", "orphan_fake")
    return {key: _decode(summary.dest / key, set(_picks(v))) for key, v in videos.items()}


def test_summary_identities_and_counts(demo) -> None:
    summary, truth, messages = demo
    assert summary.n_identities >= 8
    assert set(summary.identities) == set(truth["identities"])
    for ident, info in truth["identities"].items():
        assert info["package"] and info["resource"] and info["version"], ident
    reals = Counter(v["identity"] for v in _videos(truth, "ok").values() if v["label"] == "REAL")
    assert set(reals) == set(truth["identities"])
    assert min(reals.values()) >= 2
    assert summary.n_real == sum(reals.values())
    assert summary.n_fake > summary.n_real  # like DFDC: more fakes than reals
    assert messages and messages[-1].startswith("done")
    assert "real" in str(summary) and str(summary.dest) in str(summary)


def test_metadata_is_dfdc_shaped(demo) -> None:
    summary, truth, _ = demo
    listed: set[str] = set()
    for part in PART_NAMES:
        meta = json.loads((summary.dest / part / "metadata.json").read_text(encoding="utf-8"))
        assert isinstance(meta, dict) and meta
        for key, entry in meta.items():
            listed.add(f"{part}/{key}")
            assert key.endswith(".mp4")
            assert set(entry) <= {"label", "split", "original"}
            assert entry["split"] == "train"
            assert entry["label"] in {"REAL", "FAKE"}
            if entry["label"] == "FAKE":
                assert isinstance(entry["original"], str) and "/" not in entry["original"]
            else:
                assert "original" not in entry
        names = [k for k in meta if "/" not in k]
        stems = {k[:-4] for k in names}
        assert all(len(s) == 10 and set(s) <= set(string.ascii_lowercase) for s in stems)
    hostile = {f"{h['part']}/{h['key']}" for h in truth["hostile"]}
    assert listed == set(truth["videos"]) | hostile


def test_every_fake_is_a_frame_aligned_swap_of_its_original(demo, decoded) -> None:
    summary, truth, _ = demo
    fakes = {k: v for k, v in _videos(truth, "ok").items() if v["label"] == "FAKE"}
    assert {v["alpha"] for v in fakes.values()} == {0.35, 0.6, 0.9}
    for key, fake in fakes.items():
        original = f"{fake['part']}/{fake['original']}"
        assert (summary.dest / original).is_file(), key
        assert truth["videos"][original]["identity"] == fake["target_identity"]
        assert fake["donor_identity"] != fake["target_identity"]
        assert fake["donor_identity"] in truth["identities"]
        (na, a), (nb, b) = decoded[key], decoded[original]
        assert na == nb == fake["frames"], key
        assert a[0].shape == b[0].shape == (fake["height"], fake["width"], 3), key
        mid = fake["frames"] // 2
        diff = np.abs(a[mid].astype(np.int16) - b[mid].astype(np.int16))
        assert diff.mean() > 0.5, f"{key} is not altered"
        # The swap is local: the frame corners (background) match up to compression.
        h, w = diff.shape[:2]
        corners = [
            diff[:16, :16],
            diff[:16, w - 16 :],
            diff[h - 16 :, :16],
            diff[h - 16 :, w - 16 :],
        ]
        assert max(float(c.mean()) for c in corners) < 3.0, key


def test_every_listed_video_decodes_with_its_geometry(demo, decoded) -> None:
    _, truth, _ = demo
    for key, video in _videos(truth, "ok", "no_face", "orphan_fake").items():
        count, frames = decoded[key]
        assert count == video["frames"], key
        assert frames[0].shape == (video["height"], video["width"], 3), key


def test_hostile_entries(demo) -> None:
    summary, truth, _ = demo
    dest = summary.dest
    by_kind: dict[str, list[dict[str, str]]] = {}
    for h in truth["hostile"]:
        by_kind.setdefault(h["kind"], []).append(h)
        assert h["expect"]
    assert {"no_face", "corrupt", "missing_file", "orphan_fake", "path_escape"} <= set(by_kind)
    metas = {p: json.loads((dest / p / "metadata.json").read_text()) for p in PART_NAMES}

    (corrupt,) = by_kind["corrupt"]
    path = dest / corrupt["part"] / corrupt["key"]
    assert path.is_file() and path.stat().st_size > 0
    with pytest.raises(av.FFmpegError):
        _decode(path)

    (missing,) = by_kind["missing_file"]
    assert missing["key"] in metas[missing["part"]]
    assert not (dest / missing["part"] / missing["key"]).exists()
    original = metas[missing["part"]][missing["key"]]["original"]
    assert (dest / missing["part"] / original).is_file()

    (orphan,) = by_kind["orphan_fake"]
    entry = metas[orphan["part"]][orphan["key"]]
    assert entry["label"] == "FAKE" and (dest / orphan["part"] / orphan["key"]).is_file()
    assert entry["original"] not in metas[orphan["part"]]
    assert not (dest / orphan["part"] / entry["original"]).exists()

    for h in by_kind["path_escape"]:
        assert h["key"] in metas[h["part"]] and h["key"].startswith("../")
        assert not (dest / h["part"] / h["key"]).exists()
    # Nothing outside dest; inside, only metadata, the truth file and listed videos.
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]
    listed = set(truth["videos"]) | {f"{h['part']}/{h['key']}" for h in truth["hostile"]}
    for path in dest.rglob("*"):
        rel = path.relative_to(dest).as_posix()
        if path.is_file():
            assert rel in listed or rel == TRUTH_NAME or path.name == "metadata.json", rel
        else:
            assert rel in PART_NAMES, rel


def test_the_truth_lists_every_hostile_case_of_the_table_once(demo) -> None:
    """`demo_truth.json`'s hostile entries are `HOSTILE_CASES`, with their typed expectations
    (the graph test compares them with the catalog)."""
    _, truth, _ = demo
    made = sorted((h["kind"], h["made"]) for h in truth["hostile"])
    assert made == sorted((c.kind, c.made) for c in HOSTILE_CASES)
    for h in truth["hostile"]:
        (case,) = [c for c in HOSTILE_CASES if (c.kind, c.made) == (h["kind"], h["made"])]
        assert h == case.entry(h["part"], h["key"])
        assert (case.part, case.key) in {(None, None), (h["part"], h["key"])}
        assert set(h["expect"]) == set(CatalogExpect.__dataclass_fields__)


def test_ingest_gives_each_hostile_entry_the_video_status_the_table_expects(demo, data_env) -> None:
    """The `videos` asset alone (no faces) already decides the `videos` half of each
    expectation: status and orphan flag (the graph test checks the faces half)."""
    import dagster as dg

    from deepfake_assets import cli
    from deepfake_assets.catalog import Catalog
    from deepfake_assets.definitions import defs

    summary, truth, _ = demo
    assert cli.main(["sources", "add", "demo", str(summary.dest), "--format", "dfdc"]) == 0
    ingest = defs.resolve_job_def("ingest_source").execute_in_process(
        instance=dg.DagsterInstance.get(),
        partition_key="demo",
        asset_selection=[dg.AssetKey("videos")],
    )
    assert ingest.success
    videos = {r["rel_path"]: r for r in Catalog().read("videos", "demo").to_dicts()}
    for h in truth["hostile"]:
        row = videos[f"{h['part']}/{h['key']}"]
        seen = (row["status"], bool(row["orphan_fake"]))
        assert seen == (h["expect"]["video_status"], h["expect"]["orphan_fake"]), (h, row)
    assert {r["status"] for r in videos.values()} == {"ok", "missing", "unreadable", "rejected"}


@pytest.mark.slow
def test_mtcnn_sees_exactly_one_face_in_every_real_and_fake(demo, decoded) -> None:
    torch = _require("torch", "a core dependency")
    facenet = _require("facenet_pytorch", "facenet-pytorch==2.5.3 ships the MTCNN weights")
    torch.set_num_threads(1)
    mtcnn = facenet.MTCNN(keep_all=True, device="cpu")
    _, truth, _ = demo
    problems = []
    for key, video in _videos(truth, "ok", "orphan_fake", "no_face").items():
        _, frames = decoded[key]
        picks = _picks(video)
        boxes, probs = mtcnn.detect([frames[i] for i in picks])
        want = 0 if video["expect"] == "no_face" else 1
        for i, found, prob in zip(picks, boxes, probs, strict=True):
            found = np.zeros((0, 4)) if found is None else np.asarray(found, dtype=float)
            prob = np.zeros(0) if prob is None else np.asarray(prob, dtype=float)
            # The no-face clip must give MTCNN nothing at all; on a face clip a lone
            # low-confidence blip (measured: 2 of ~2,700 frames, at 0.76 and 0.82, on hair or
            # an ear) is not a second face, so faces are detections at >= FACE_PROB.
            n = len(found) if want == 0 else int((prob >= FACE_PROB).sum())
            if n != want:
                problems.append(f"{key} frame {i}: {n} faces (p={prob.round(3)}), want {want}")
            elif n:
                x1, y1, x2, y2 = found[int(prob.argmax())]
                if min(x2 - x1, y2 - y1) < 80:
                    problems.append(f"{key} frame {i}: face only {x2 - x1:.0f} px wide")
    assert not problems, "\n".join(problems)


def test_plan_is_deterministic_per_seed() -> None:
    a, b, c = _plan(0), _plan(0), _plan(1)
    assert a == b
    assert [p.name for p in a[0]] != [p.name for p in c[0]]


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / PART_NAMES[0]).mkdir()
    with pytest.raises(FileExistsError):
        build_demo_dataset(tmp_path)
    assert main([str(tmp_path), "--quiet"]) == 2
    assert "not written by the demo" in capsys.readouterr().err


def test_swap_is_local_and_follows_the_landmarks() -> None:
    rng = np.random.default_rng(0)
    lm = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 72.0], [45.0, 92.0], [75.0, 92.0]])
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = lm @ rot.T + shift
    mat = similarity_transform(lm, moved)
    np.testing.assert_allclose(apply_affine(mat, lm), moved, atol=1e-9)

    frame = rng.uniform(0.2, 0.8, size=(160, 200, 3)).astype(np.float32)
    donor = np.full((140, 120, 3), 0.5, np.float32)
    out = swap_face(frame, lm + 20, donor, lm, alpha=0.9)
    assert out.shape == frame.shape
    assert np.array_equal(out[:, 170:], frame[:, 170:])  # far from the face: untouched
    centre = (slice(75, 105), slice(70, 110))
    assert np.abs(out[centre] - frame[centre]).mean() > 0.05  # the face region changed
