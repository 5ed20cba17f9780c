"""Real faces for the identity tests: crops of known people and altered variants of each.

Two identities ship with every install (``skimage.data.astronaut()``, matplotlib's
``grace_hopper.jpg``); with ``../shared/fixtures`` there are eight more (the six people of the
group photo, the single portrait, the carphone video's speaker).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import skimage.data
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
CROP = 160
GROW = 0.10  # the face box is grown by 10 % of its size on each side, then stretch-resized

# Face boxes [x1, y1, x2, y2]: dlib's HOG detector on the packaged images (score > 1.1); the
# fixture photos' boxes come from ground_truth.json; the carphone box is dlib's on frame 0-119.
ASTRONAUT_BOX = (175, 76, 265, 166)
GRACE_HOPPER_BOX = (180, 139, 366, 325)
CARPHONE_BOXES = {
    0: (66, 42, 111, 87),
    20: (66, 37, 111, 82),
    40: (52, 47, 96, 92),
    80: (38, 27, 92, 81),
    100: (38, 39, 92, 93),
}


def crop_160(image: np.ndarray, box: tuple[float, float, float, float], grow: float = GROW):
    """The pipeline's 160 crop convention: box grown by ``grow`` per side, stretch-resized."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    x1, x2 = max(0, round(x1 - grow * w)), min(image.shape[1], round(x2 + grow * w))
    y1, y2 = max(0, round(y1 - grow * h)), min(image.shape[0], round(y2 + grow * h))
    region = image[y1:y2, x1:x2]
    interp = cv2.INTER_AREA if region.shape[0] >= CROP else cv2.INTER_CUBIC
    return cv2.resize(region, (CROP, CROP), interpolation=interp)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def rescale(image: np.ndarray, factor: float) -> np.ndarray:
    """Down- (or up-) sample and return at the original size: a lower-resolution copy."""
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def relight(image: np.ndarray, gain: float, gamma: float = 1.0) -> np.ndarray:
    x = np.clip(image.astype(np.float32) * gain, 0, 255) / 255.0
    return np.clip(255.0 * x**gamma, 0, 255).astype(np.uint8)


def rotate_about(image: np.ndarray, box, degrees: float) -> np.ndarray:
    x1, y1, x2, y2 = box
    m = cv2.getRotationMatrix2D(((x1 + x2) / 2, (y1 + y2) / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)


def shift_box(box, fx: float, fy: float):
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return (x1 + fx * w, y1 + fy * h, x2 + fx * w, y2 + fy * h)


VARIANTS = {
    "original": lambda im, box: crop_160(im, box),
    "scale_0.5": lambda im, box: crop_160(rescale(im, 0.5), box),
    "scale_0.7": lambda im, box: crop_160(rescale(im, 0.7), box),
    "darker": lambda im, box: crop_160(relight(im, 0.7, 1.2), box),
    "brighter": lambda im, box: crop_160(relight(im, 1.25, 0.85), box),
    "jpeg_30": lambda im, box: jpeg(crop_160(im, box), 30),
    "jpeg_15_half": lambda im, box: jpeg(crop_160(rescale(im, 0.6), box), 15),
    "rotate_+8": lambda im, box: crop_160(rotate_about(im, box, 8), box),
    "rotate_-8": lambda im, box: crop_160(rotate_about(im, box, -8), box),
    "box_shift": lambda im, box: crop_160(im, shift_box(box, 0.05, -0.04)),
}


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def packaged_people() -> dict[str, tuple[np.ndarray, tuple]]:
    """identity -> (image, face box) for the two faces every install has."""
    hopper = _rgb(matplotlib.cbook.get_sample_data("grace_hopper.jpg"))
    return {
        "astronaut": (skimage.data.astronaut(), ASTRONAUT_BOX),
        "grace_hopper": (hopper, GRACE_HOPPER_BOX),
    }


def video_frames(path: Path, indices: set[int] | None = None) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out, i = {}, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if indices is None or i in indices:
            out[i] = frame[:, :, ::-1].copy()
        i += 1
    cap.release()
    return out


def fixture_people() -> dict[str, list[tuple[np.ndarray, tuple]]]:
    """identity -> [(image, box), ...] from ../shared/fixtures (empty dict when absent)."""
    if not FIXTURES.is_dir():
        return {}
    truth = json.loads((FIXTURES / "ground_truth.json").read_text())
    out: dict[str, list[tuple[np.ndarray, tuple]]] = {}
    group = _rgb(FIXTURES / "faces" / "group_six_people.jpg")
    for person in truth["faces/group_six_people.jpg"]["people"]:
        out[person["id"]] = [(group, tuple(person["box"]))]
    single = truth["faces/single_portrait.png"]["people"][0]
    out[single["id"]] = [(_rgb(FIXTURES / "faces" / "single_portrait.png"), tuple(single["box"]))]
    (speaker,) = truth["videos/carphone_pristine.mp4"]["people"]
    frames = video_frames(FIXTURES / "videos" / "carphone_pristine.mp4", set(CARPHONE_BOXES))
    out[speaker] = [(frames[i], CARPHONE_BOXES[i]) for i in sorted(CARPHONE_BOXES)]
    return out


def variant_faces(with_fixtures: bool = True) -> tuple[np.ndarray, list[str], list[str]]:
    """All variants of every identity: (faces (N,160,160,3), identity per face, variant name)."""
    people: dict[str, list[tuple[np.ndarray, tuple]]] = {
        k: [v] for k, v in packaged_people().items()
    }
    if with_fixtures:
        people.update(fixture_people())
    faces, ids, names = [], [], []
    for pid, shots in people.items():
        for s, (image, box) in enumerate(shots):
            # Several shots (video frames): fewer variants each, same total per identity.
            chosen = list(VARIANTS) if len(shots) == 1 else list(VARIANTS)[s :: len(shots)]
            for vname in chosen:
                faces.append(VARIANTS[vname](image, box))
                ids.append(pid)
                names.append(f"{vname}@{s}")
    return np.stack(faces), ids, names
