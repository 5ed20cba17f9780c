"""The per-video pipeline end to end: real decoding, the real ensemble, real PNG files.

Videos are built here from scikit-image's astronaut (a real face) with PyAV, so these run on a
fresh clone; the fixture videos in ``../shared/fixtures`` add the cases only real footage
gives (a hard negative, a street scene) and are skipped when absent.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from deepfake_assets.faces.crops import CropSpec, make_crops
from deepfake_assets.faces.reasons import ReasonCode
from deepfake_assets.faces.sampling import first_and_even_indices, shift_indices
from deepfake_assets.faces.video_faces import (
    FACES_SCHEMA,
    Attempt,
    VideoFaces,
    VideoFacesConfig,
    VideoJob,
    _read_and_detect,
    crop_path,
    process_fake_video,
    process_orphan_fake,
    process_real_video,
    remove_orphan_crop_folders,
    run_job,
    safe_video_dir,
    video_dirs,
)
from deepfake_assets.media.frames import FrameReader, VideoDecodeError, read_frames
from deepfake_assets.media.images import read_png
from deepfake_assets_tests.fixture_paths import SHARED_FIXTURES, requires_fixtures

SIZE = 128  # small frames keep the detectors fast
# On a fresh clone BlazeFace's model may be absent; MTCNN + dlib agree on the astronaut.
FRESH_CLONE_ENSEMBLE = {"detectors": ("mtcnn", "dlib"), "proposers": ("mtcnn",), "threads": 1}


def astronaut_frames(n: int, size: int = SIZE) -> list[np.ndarray]:
    """Pan and zoom over the astronaut: her face (181..268, 62..172) stays in view."""
    import cv2
    from skimage import data

    img = data.astronaut()
    out = []
    for i in range(n):
        side = 300 - 2 * i
        x0, y0 = 90 + 2 * i, 5 + i
        crop = img[y0 : y0 + side, x0 : x0 + side]
        out.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
    return out


def empty_frames(n: int, size: int = SIZE) -> list[np.ndarray]:
    """A slowly moving colour gradient: nothing face-like."""
    y, x = np.mgrid[0:size, 0:size]
    return [
        np.stack([(x + 3 * i) % 256, (y * 2) % 256, np.full_like(x, 90)], -1).astype(np.uint8)
        for i in range(n)
    ]


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """H.264 mp4 with PyAV, every frame a keyframe-independent picture of ``frames``."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": "18", "preset": "veryfast", "g": "10"}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    real = astronaut_frames(30)
    with_face_then_empty = astronaut_frames(10) + empty_frames(40)
    return {
        "real": write_video(d / "real.mp4", real),
        # a replicate altered in the face region only: colours of the face box inverted
        "fake": write_video(d / "fake.mp4", [_alter(f) for f in real]),
        "short_fake": write_video(d / "short_fake.mp4", [_alter(f) for f in real[:12]]),
        "half_fake": write_video(
            d / "half_fake.mp4", [np.ascontiguousarray(f[::2, ::2]) for f in real]
        ),
        "wide_fake": write_video(d / "wide_fake.mp4", [np.concatenate([f, f], 1) for f in real]),
        "empty": write_video(d / "empty.mp4", empty_frames(40)),
        "partial": write_video(d / "partial.mp4", with_face_then_empty),
    }


def _alter(frame: np.ndarray) -> np.ndarray:
    out = frame.copy()
    out[20:90, 30:100] = 255 - out[20:90, 30:100]
    return out


@pytest.fixture(scope="module")
def ensemble():
    from deepfake_assets.faces.ensemble import EnsembleConfig, FaceEnsemble

    return FaceEnsemble(EnsembleConfig(**FRESH_CLONE_ENSEMBLE))


def synthetic_original(video_id: str = "real", size: int = SIZE) -> VideoFaces:
    """An ``ok`` original made by hand: one box per frame, as a real run would record."""
    rows = []
    for fi in [0, 1, 2, 10, 20]:
        rows.append(
            {
                "video_id": video_id,
                "frame_index": fi,
                "track": 0,
                "x1": 40.0 + fi,
                "y1": 20.0,
                "x2": 90.0 + fi,
                "y2": 85.0,
                "score": 0.97,
                "agreement": 2,
                "detectors": ["mtcnn", "dlib"],
                "interpolated": fi == 1,
                "box_source": video_id,
                "crop_160": None,
                "crop_299": None,
                "crop_raw": None,
            }
        )
    return VideoFaces(
        video_id=video_id,
        role="real",
        status="ok",
        reason=None,
        frame_indices=[0, 1, 2, 10, 20],
        tries=1,
        faces=rows,
        frame_size=(size, size),
        frame_count=30,
    )


# ----------------------------------------------------------------- fakes (no model needed)


def _assert_written_as_named(res, root):
    """Every crop the rows name is recorded once, with the key the file has now."""
    named = sorted(r[f"crop_{k}"] for r in res.faces for k in ("160", "299", "raw"))
    assert sorted(w.path for w in res.written) == named
    for w in res.written:
        st = (root / w.path).stat()
        assert (w.size, w.mtime_ns, w.ino) == (st.st_size, st.st_mtime_ns, st.st_ino)


def test_fake_reuses_the_originals_frames_and_boxes(videos, tmp_path):
    orig = synthetic_original()
    res = process_fake_video(videos["fake"], "fake", orig, tmp_path)
    assert res.status == "ok" and res.reason is None and res.role == "fake"
    assert res.frame_indices == orig.frame_indices and res.tries == 1
    got = res.faces_frame()
    assert got.schema == FACES_SCHEMA
    want = orig.faces_frame()
    cols = ["frame_index", "track", "x1", "y1", "x2", "y2", "interpolated", "score"]
    assert got.select(cols).equals(want.select(cols))
    assert set(got["box_source"]) == {"real"} and set(got["video_id"]) == {"fake"}
    row = got.row(0, named=True)
    assert row["crop_160"] == f"{safe_video_dir('fake')}/000000_0_160.png"
    assert read_png(tmp_path / row["crop_160"]).shape == (160, 160, 3)
    assert read_png(tmp_path / row["crop_299"]).shape == (299, 299, 3)
    assert read_png(tmp_path / row["crop_raw"]).shape == (65, 50, 3)
    _assert_written_as_named(res, tmp_path)


def test_fake_shorter_than_original_keeps_what_it_has(videos, tmp_path):
    res = process_fake_video(videos["short_fake"], "short", synthetic_original(), tmp_path)
    assert res.status == "ok"
    assert res.frame_indices == [0, 1, 2, 10]
    assert "fake_shorter_than_original: 1 of 5 frames missing" in res.reason


def test_fake_at_half_resolution_gets_scaled_boxes(videos, tmp_path):
    res = process_fake_video(videos["half_fake"], "half", synthetic_original(), tmp_path)
    assert res.status == "ok" and "geometry_differs" in res.reason
    assert res.frame_size == (SIZE // 2, SIZE // 2)
    assert res.faces[0]["x1"] == pytest.approx(20.0) and res.faces[0]["y2"] == pytest.approx(42.5)


def test_fake_with_other_aspect_is_discarded(videos, tmp_path):
    res = process_fake_video(videos["wide_fake"], "wide", synthetic_original(), tmp_path)
    assert res.status == "discarded" and res.reason.startswith("geometry_mismatch")
    assert not res.faces


def test_fake_of_a_discarded_or_failed_original(videos, tmp_path):
    orig = synthetic_original()
    orig.status, orig.reason, orig.faces = "discarded", "no_face", []
    res = process_fake_video(videos["fake"], "fake", orig, tmp_path)
    assert res.status == "discarded" and res.reason == "original_not_ok: discarded (no_face)"
    orig.status = "failed"
    assert process_fake_video(videos["fake"], "fake", orig, tmp_path).status == "failed"


def test_bad_files_become_statuses_not_exceptions(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4000)
    res = process_real_video(junk, "junk", [0, 1, 2], None, tmp_path)  # never reaches detection
    assert res.status == "discarded" and res.reason.startswith("decode_error")
    res = process_real_video(tmp_path / "missing.mp4", "missing", [0], None, tmp_path)
    assert res.status == "discarded" and res.reason.startswith("decode_error")
    res = process_fake_video(junk, "junk_fake", synthetic_original(), tmp_path)
    assert res.status == "discarded" and res.reason.startswith("decode_error")
    res = process_real_video(junk, "nothing", [], None, tmp_path)
    assert res.status == "discarded" and res.reason.startswith("too_few_frames")


# ----------------------------------------------------------------- crop folders


@pytest.mark.parametrize(
    ("one", "other", "slug"),
    [("a b", "a_b", "a_b"), ("vidé", "vidè", "vide"), ("part0/x", "part0_x", "part0_x")],
)
def test_names_that_slug_alike_get_their_own_crop_folders(tmp_path, one, other, slug):
    first, second = crop_path(tmp_path, one, 3, 0, "160"), crop_path(tmp_path, other, 3, 0, "160")
    assert first != second
    assert first.parent.parent == second.parent.parent == tmp_path  # one folder per video
    # readable: the folder starts with a slug of the name
    assert safe_video_dir(one).startswith(slug + "-") and safe_video_dir(other).startswith(slug)
    assert safe_video_dir(one) == safe_video_dir(one)  # stable across calls and runs


@pytest.mark.parametrize("video_id", ["../../up", ".hidden", "/abs/x", "", "é" * 300, "a" * 400])
def test_a_crop_folder_is_one_safe_path_component(tmp_path, video_id):
    name = safe_video_dir(video_id)
    assert "/" not in name and not name.startswith(".") and len(name.encode()) <= 120
    assert crop_path(tmp_path, video_id, 0, 0, "raw").parent.parent == tmp_path


def test_crop_folders_no_video_owns_are_swept(tmp_path):
    """After the naming changed, the old folders (``a_b/``) would hold crops forever."""
    kept = crop_path(tmp_path, "a b", 0, 0, "160")
    old = tmp_path / "a_b" / "000000_0_160.png"
    foreign = tmp_path / "notes" / "README.txt"
    for path in (kept, old, foreign):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert remove_orphan_crop_folders(tmp_path, ["a b", "gone"]) == 1
    assert kept.is_file() and not old.parent.exists() and foreign.is_file()
    assert video_dirs(["a b", "a_b"]) == {"a b": kept.parent.name, "a_b": safe_video_dir("a_b")}


def test_two_videos_whose_names_slug_alike_keep_their_own_crops(videos, tmp_path):
    """Same frames and boxes for both ("a b" and "a_b"), different pixels: before crop folders
    were unique, the second overwrote the first's crops and its rows pointed at them."""
    orig = synthetic_original()
    short = synthetic_original()
    short.faces = short.faces[:3]  # another frame plan: the stale-crop sweep must not bite
    first = process_fake_video(videos["real"], "a b", orig, tmp_path)
    second = process_fake_video(videos["fake"], "a_b", orig, tmp_path)
    third = process_fake_video(videos["real"], "vidé", orig, tmp_path)
    fourth = process_fake_video(videos["fake"], "vidè", short, tmp_path)
    results = [first, second, third, fourth]
    assert all(r.status == "ok" for r in results)
    paths = [tmp_path / f[k] for r in results for f in r.faces for k in ("crop_160", "crop_raw")]
    assert len(set(paths)) == len(paths) and all(p.is_file() for p in paths)
    for r, video in zip(results, ("real", "fake", "real", "fake"), strict=True):
        frames = read_frames(videos[video], [f["frame_index"] for f in r.faces])
        for row, frame in zip(r.faces, frames.frames, strict=True):
            box = (row["x1"], row["y1"], row["x2"], row["y2"])
            assert np.array_equal(read_png(tmp_path / row["crop_raw"]), make_crops(frame, box).raw)


def test_decode_reasons_name_the_file_relative_to_its_dataset(videos, tmp_path):
    """Reasons reach the catalog and the UI: the machine's folders stay out of them."""
    folder = tmp_path / "dataset" / "sub dir"
    folder.mkdir(parents=True)
    junk = folder / "junk.mp4"
    junk.write_bytes(b"\x00" * 4000)
    gone = folder / "gone.mp4"
    rel = "sub dir/junk.mp4"
    out = tmp_path / "out"
    results = [
        process_real_video(junk, "junk", [0, 1], None, out, rel_path=rel),
        process_orphan_fake(junk, "junk", [0, 1], None, out, rel_path=rel),
        process_fake_video(junk, "junk", synthetic_original(), out, rel_path=rel),
        run_job(  # how the faces asset calls it
            VideoJob("junk", str(junk), "fake", original_video_id="real", rel_path=rel),
            None,
            out,
            VideoFacesConfig(),
            synthetic_original(),
        ),
    ]
    for res in results:
        assert res.reason is not None and "decode_error" in res.reason
        assert rel in res.reason and str(tmp_path) not in res.reason, res.reason
    # without a relative path a reason names the file alone, never its folder
    for path in (junk, gone):
        res = process_real_video(path, "x", [0, 1], None, out)
        assert path.name in res.reason and str(tmp_path) not in res.reason, res.reason


def test_result_round_trips_through_json():
    orig = synthetic_original()
    again = VideoFaces.from_dict(json.loads(json.dumps(orig.to_dict())))
    assert again == orig


# ----------------------------------------------------------------- real detection


@pytest.mark.slow
def test_real_video_face_in_every_frame(videos, ensemble, tmp_path):
    plan = first_and_even_indices(30, first=4, evenly=3)
    cfg = VideoFacesConfig(relative_to=tmp_path.parent)
    res = process_real_video(videos["real"], "astro/real 1", plan, ensemble, tmp_path, cfg)
    assert res.status == "ok", res.reason
    assert res.tries == 1 and res.frame_indices == plan and res.frame_size == (SIZE, SIZE)
    df = res.faces_frame()
    main = df.filter(df["track"] == 0)
    assert main["frame_index"].to_list() == plan
    assert main["agreement"].min() >= 2 and not main["interpolated"].any()
    row = main.row(0, named=True)
    folder = safe_video_dir("astro/real 1")
    assert folder.startswith("astro_real_1-")
    assert row["crop_160"] == f"{tmp_path.name}/{folder}/000000_0_160.png"
    assert read_png(tmp_path.parent / row["crop_299"]).shape == (299, 299, 3)
    w, h = row["x2"] - row["x1"], row["y2"] - row["y1"]
    raw = read_png(tmp_path.parent / row["crop_raw"])
    assert abs(raw.shape[1] - w) <= 2 and abs(raw.shape[0] - h) <= 2
    # the fake replicate takes exactly these frames and boxes
    fake = process_fake_video(videos["fake"], "astro_fake", res, tmp_path, cfg)
    assert fake.status == "ok" and fake.frame_indices == res.frame_indices
    cols = ["frame_index", "track", "x1", "y1", "x2", "y2"]
    assert fake.faces_frame().select(cols).equals(df.select(cols))
    assert not np.array_equal(
        read_png(tmp_path.parent / fake.faces[0]["crop_raw"]), raw
    )  # same box, altered pixels
    _assert_written_as_named(res, tmp_path.parent)
    _assert_written_as_named(fake, tmp_path.parent)


@pytest.mark.slow
def test_rerun_rewrites_and_removes_stale_crops(videos, ensemble, tmp_path):
    stale = crop_path(tmp_path, "real", 999, 0, "160")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    cfg = VideoFacesConfig(crops=CropSpec(small=32, large=48))
    res = process_real_video(videos["real"], "real", [0, 5], ensemble, tmp_path, cfg)
    assert res.status == "ok"
    assert not stale.exists()
    names = sorted(p.name for p in stale.parent.iterdir())
    assert names == sorted(f"{fi:06d}_0_{k}.png" for fi in (0, 5) for k in ("160", "299", "raw"))


@pytest.mark.slow
def test_no_face_is_discarded_after_five_resamples(videos, ensemble, tmp_path):
    plan = [0, 1, 30]
    res = process_real_video(videos["empty"], "empty", plan, ensemble, tmp_path)
    assert res.status == "discarded" and res.reason == "no_face"
    assert [a.offset for a in res.attempts] == [0, 20, 40, 60, 80, 100]
    # 40 frames: +40 and +80 wrap onto the first try's frames, +60 and +100 onto the second's
    assert res.tries == 2 and not res.faces
    assert [a.skipped is None for a in res.attempts] == [True, True] + [False] * 4
    assert not (tmp_path / safe_video_dir("empty")).exists()


class CountingEnsemble:
    """The real ensemble, counting the frames it is asked to look at."""

    def __init__(self, inner) -> None:
        self.inner, self.frames = inner, 0

    def detect(self, frames):
        self.frames += len(frames)
        return self.inner.detect(frames)


def assert_same_verdict(a: VideoFaces, b: VideoFaces) -> None:
    """Same status, reason, tries, frames and faces; boxes within 0.01 px (MTCNN's float
    arithmetic differs in the last bits between batch sizes)."""
    assert (a.status, a.reason, a.tries, a.frame_indices) == (
        b.status,
        b.reason,
        b.tries,
        b.frame_indices,
    )
    assert [(r["frame_index"], r["track"]) for r in a.faces] == [
        (r["frame_index"], r["track"]) for r in b.faces
    ]
    cols = ("x1", "y1", "x2", "y2")
    box_a = np.array([[r[k] for k in cols] for r in a.faces], dtype=float).reshape(-1, 4)
    box_b = np.array([[r[k] for k in cols] for r in b.faces], dtype=float).reshape(-1, 4)
    np.testing.assert_allclose(box_a, box_b, atol=0.01, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("video", "plan"),
    [
        ("empty", [0, 1, 30]),
        ("partial", [0, 1, 2, 30]),
        ("partial", [30, 35, 38]),
        ("real", [0, 5]),
    ],
)
def test_first_frame_probe_gives_the_same_verdict_for_less_work(
    videos, ensemble, tmp_path, video, plan
):
    """A try whose first frame has no face can never be complete: the probe stops it there."""
    probed, full = CountingEnsemble(ensemble), CountingEnsemble(ensemble)
    a = process_real_video(videos[video], video, plan, probed, tmp_path / "a")
    b = process_real_video(
        videos[video], video, plan, full, tmp_path / "b", VideoFacesConfig(probe_first_frame=False)
    )
    assert_same_verdict(a, b)
    assert probed.frames <= full.frames
    stopped = [t for t in a.attempts if t.stopped_early]
    assert probed.frames == full.frames - sum(t.requested - 1 for t in stopped)
    if video == "empty":  # every try stops at its first frame: one frame detected per try
        assert probed.frames == a.tries == len(stopped) == 2
        assert all(t.frames_with_face == 0 and "stopped" in t.verdict for t in stopped)


class _BrokenAfterFirstFrame(FrameReader):
    """A real reader over a real file whose frames after the first fail to decode."""

    def read(self, indices, upcoming=()):
        if min(indices) > 0:
            raise VideoDecodeError("frames after the first are corrupt")
        return super().read(indices, upcoming)


@pytest.mark.slow
def test_probe_keeps_the_first_frame_when_the_rest_does_not_decode(videos, ensemble):
    """As one read of the whole try would: the first frame, the rest reported missing."""
    with _BrokenAfterFirstFrame(videos["real"]) as reader:
        decoded, dets, stopped = _read_and_detect(reader, [0, 5, 9], ensemble, probe=True)
    assert not stopped and decoded.indices == [0] and decoded.missing == [5, 9]
    assert dets is not None and len(dets) == 1 and len(dets[0]) == 1
    assert "corrupt" in " ".join(decoded.errors)


@pytest.mark.slow
def test_incomplete_track_is_discarded_after_five_resamples(videos, ensemble, tmp_path):
    plan = [0, 1, 2, 30]  # a face in 0-9 only
    res = process_real_video(videos["partial"], "partial", plan, ensemble, tmp_path)
    assert res.status == "discarded"
    assert res.reason == "incomplete_track_after_5_resamples"
    assert res.tries == 5  # +100 wraps (mod 50) onto the first try
    assert res.attempts[0].frames_with_face == 3
    assert res.frame_count == 50


@pytest.mark.slow
def test_resampling_finds_a_complete_window(videos, ensemble, tmp_path):
    plan = [30, 35, 38]  # no face there; +20 wraps (mod 50) to frames 0, 5, 8: the face
    res = process_real_video(videos["partial"], "partial", [0, 15], ensemble, tmp_path)
    assert res.status == "discarded"  # frame 15 and its shifts never all show the face
    res = process_real_video(videos["partial"], "partial", plan, ensemble, tmp_path)
    assert res.status == "ok", res.attempts
    assert res.tries == 2 and res.frame_indices == shift_indices(plan, 20, 50)
    assert res.reason == "resampled with offset 20"


@pytest.mark.slow
def test_seed000_rule_keeps_frames_with_faces_without_resampling(videos, ensemble, tmp_path):
    cfg = VideoFacesConfig(rule="seed000", write_crops=False)
    res = process_real_video(videos["partial"], "partial", [0, 5, 30, 45], ensemble, tmp_path, cfg)
    assert res.status == "ok" and res.tries == 1
    assert res.frame_indices == [0, 5]
    assert "dropped frames [30, 45]" in res.reason
    assert res.faces[0]["crop_160"] is None


@pytest.mark.slow
def test_orphan_fake_is_detected_and_flagged(videos, ensemble, tmp_path):
    res = process_orphan_fake(videos["fake"], "orphan", [0, 29], ensemble, tmp_path)
    assert res.role == "orphan_fake" and res.reason.startswith("orphan_fake")


@pytest.mark.slow
def test_many_videos_on_the_executor_in_spawned_workers(videos, tmp_path):
    """Many videos through the local executor's spawned pool (``faces.families``)."""
    from deepfake_assets.compute import LocalExecutor
    from deepfake_assets.faces.ensemble import EnsembleConfig
    from deepfake_assets.faces.families import run_families

    def run_videos(jobs, workers, out_dir, cfg, **kw):
        with LocalExecutor(workers, 1) as executor:
            return [r for r, _ in run_families(executor, jobs, out_dir, cfg, **kw)]

    jobs = [
        VideoJob("real", str(videos["real"]), "real", (0, 10, 20)),
        VideoJob("fake", str(videos["fake"]), "fake", original_video_id="real"),
        VideoJob("short", str(videos["short_fake"]), "fake", original_video_id="real"),
        VideoJob("empty_fake", str(videos["fake"]), "fake", original_video_id="empty"),
        VideoJob("empty", str(videos["empty"]), "real", (0,)),
        VideoJob("lost", str(videos["fake"]), "fake", original_video_id="nowhere"),
    ]
    cfg = VideoFacesConfig(max_resamples=1, crops=CropSpec(small=32, large=48))
    results = run_videos(
        jobs,
        workers=1,
        out_dir=tmp_path,
        cfg=cfg,
        ensemble_config=EnsembleConfig(**FRESH_CLONE_ENSEMBLE),
    )
    by_id = {r.video_id: r for r in results}
    assert sorted(by_id) == sorted(j.video_id for j in jobs) and len(results) == len(jobs)
    order = [r.video_id for r in results]
    assert order.index("real") < order.index("fake") and order.index("empty") < order.index(
        "empty_fake"
    )
    assert by_id["real"].status == "ok" and by_id["fake"].status == "ok"
    assert by_id["fake"].frame_indices == by_id["real"].frame_indices == [0, 10, 20]
    assert by_id["short"].frame_indices == [0, 10]
    assert by_id["empty"].status == "discarded" and by_id["empty"].tries == 2
    assert by_id["empty_fake"].reason.startswith("original_not_ok")
    assert by_id["lost"].status == "failed" and by_id["lost"].reason == "original_not_processed"

    # resuming: the original's result comes from a previous run, only the fake is redone
    again = run_videos(
        [jobs[1]], workers=0, out_dir=tmp_path, cfg=cfg, originals={"real": by_id["real"]}
    )
    assert [r.video_id for r in again] == ["fake"] and again[0].faces == by_id["fake"].faces


# ----------------------------------------------------------------- shared fixture videos


def _fixture(name: str) -> Path:
    return SHARED_FIXTURES / "videos" / name


@pytest.fixture(scope="module")
def full_ensemble():
    from deepfake_assets.faces.ensemble import EnsembleConfig, FaceEnsemble

    return FaceEnsemble(EnsembleConfig(threads=1))


@requires_fixtures
@pytest.mark.slow
def test_carphone_pristine_and_its_distorted_replicate(full_ensemble, tmp_path):
    plan = first_and_even_indices(120)
    real = process_real_video(
        _fixture("carphone_pristine.mp4"), "carphone", plan, full_ensemble, tmp_path
    )
    assert real.status == "ok", real.attempts
    assert real.tries == 1 and real.frame_indices == plan
    main = real.faces_frame().filter(track=0)
    assert main["frame_index"].to_list() == plan  # a face in every sampled frame
    fake = process_fake_video(_fixture("carphone_distorted.mp4"), "distorted", real, tmp_path)
    assert fake.status == "ok" and fake.reason is None
    cols = ["frame_index", "track", "x1", "y1", "x2", "y2"]
    assert fake.faces_frame().select(cols).equals(real.faces_frame().select(cols))


@requires_fixtures
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bigbuckbunny.mp4", "no_face"),
        ("bikes.mp4", "incomplete_track_after_5_resamples"),
    ],
)
def test_fixture_videos_without_steady_faces_are_discarded(full_ensemble, tmp_path, name, reason):
    # seed 001's plan shape at a smaller size (3 first + 2 even) keeps 6 tries to seconds
    frame_count = json.loads((SHARED_FIXTURES / "ground_truth.json").read_text())[f"videos/{name}"][
        "frames"
    ]
    plan = first_and_even_indices(frame_count, first=3, evenly=2)
    res = process_real_video(_fixture(name), name, plan, full_ensemble, tmp_path)
    assert res.status == "discarded" and res.reason == reason, res.attempts
    assert res.tries == 6 and not res.faces
    full = process_real_video(
        _fixture(name),
        name,
        plan,
        full_ensemble,
        tmp_path,
        VideoFacesConfig(probe_first_frame=False),
    )
    assert_same_verdict(full, res)  # the probe changes the work, not the verdict


def test_reasons_keep_their_code_apart_from_the_detail(videos, ensemble, tmp_path):
    """Callers count videos by ``reason_code``; nothing splits the text back apart."""
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4000)
    broken = process_real_video(junk, "junk", [0, 1], None, tmp_path / "out")
    assert broken.reason_code is ReasonCode.DECODE_ERROR
    assert broken.reason == f"decode_error: {broken.reason_detail}"
    assert str(tmp_path) not in broken.reason_detail
    orphan = process_orphan_fake(junk, "junk", [0, 1], None, tmp_path / "out")
    assert orphan.reason_code is ReasonCode.DECODE_ERROR and orphan.reason.startswith("orphan_")
    partial = process_real_video(videos["partial"], "partial", [0, 1, 2, 30], ensemble, tmp_path)
    assert (partial.reason_code, partial.reason_detail) == (
        ReasonCode.INCOMPLETE_TRACK,
        "after 5 resamples",
    )
    assert sum(a.stopped_early for a in partial.attempts) <= partial.tries
    again = VideoFaces.from_dict(json.loads(json.dumps(partial.to_dict())))
    assert again == partial and isinstance(again.attempts[0], Attempt)
    fake = process_fake_video(junk, "f", synthetic_original(), tmp_path / "out")
    assert fake.reason_code is ReasonCode.DECODE_ERROR and fake.status == "discarded"
