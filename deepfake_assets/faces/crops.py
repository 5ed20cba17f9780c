"""Face crops from a frame and a box, as seed 001 saved them.

All boxes are ``(x1, y1, x2, y2)`` in full-resolution pixel coordinates of the frame, floats
allowed, ``x2``/``y2`` exclusive. A box is turned into whole pixels by ``floor`` of the
start and ``ceil`` of the end, so a crop never loses a fraction of the face.

* ``crop_raw``: the box's pixels, clipped to the frame, not resized ("raw unresized").
* ``crop_stretch`` (160x160): the same pixels stretched to ``size x size`` regardless of the
  box's aspect ratio ("stretch resized 160x160"); what FaceNet embeddings are computed on.
* ``crop_margin`` (299x299): a square centred on the box centre with side
  ``max(w, h) * (1 + margin)`` (``margin=0.15``: the box's longer side grown by 15 %, 7.5 %
  on each side), so the face keeps its aspect ratio ("aspect resized with extended 15 %
  margin"). Parts of the square outside the frame are black. Then resized to ``size``.

Resizing uses ``cv2.INTER_AREA`` when shrinking and ``cv2.INTER_LINEAR`` when enlarging.
Frames are HxWx3 uint8 RGB; crops are the same dtype and channel order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = Sequence[float]


class CropError(ValueError):
    """The box does not overlap the frame (or is degenerate)."""


@dataclass(frozen=True)
class CropSpec:
    small: int = 160
    large: int = 299
    margin: float = 0.15


@dataclass(frozen=True)
class FaceCrops:
    small: np.ndarray  # stretch-resized, CropSpec.small square
    large: np.ndarray  # square with margin, black padded, CropSpec.large square
    raw: np.ndarray  # box pixels, clipped to the frame


def pixel_box(box: Box) -> tuple[int, int, int, int]:
    """Whole-pixel box: floor of the start, ceil of the end."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise CropError(f"box has non-finite coordinates: {box!r}")
    return math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2)


def clip_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """``pixel_box`` clipped to the frame; raises ``CropError`` when nothing is left."""
    x1, y1, x2, y2 = pixel_box(box)
    x1, x2 = max(0, min(x1, width)), max(0, min(x2, width))
    y1, y2 = max(0, min(y1, height)), max(0, min(y2, height))
    if x2 <= x1 or y2 <= y1:
        raise CropError(f"box {tuple(box)} lies outside the {width}x{height} frame")
    return x1, y1, x2, y2


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    shrink = width * height < img.shape[0] * img.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interp)


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise CropError(f"expected an HxWx3 uint8 frame, got {frame.shape} {frame.dtype}")


def crop_raw(frame: np.ndarray, box: Box) -> np.ndarray:
    """The box's pixels clipped to the frame (a copy)."""
    _check_frame(frame)
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = clip_box(box, w, h)
    return np.ascontiguousarray(frame[y1:y2, x1:x2])


def crop_stretch(frame: np.ndarray, box: Box, size: int = 160) -> np.ndarray:
    """The box's pixels (clipped to the frame) resized to ``size x size``, aspect ignored."""
    return _resize(crop_raw(frame, box), size, size)


def margin_square(box: Box, margin: float = 0.15) -> tuple[int, int, int, int]:
    """The whole-pixel square ``crop_margin`` cuts (may extend past the frame)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    if not math.isfinite(side) or side <= 0:
        raise CropError(f"degenerate box {tuple(box)}")
    s = max(1, math.floor(side + 0.5))  # round half up, not Python's half-to-even
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sx, sy = math.floor(cx - s / 2 + 0.5), math.floor(cy - s / 2 + 0.5)
    return sx, sy, sx + s, sy + s


def crop_margin(frame: np.ndarray, box: Box, size: int = 299, margin: float = 0.15) -> np.ndarray:
    """Square around the box grown by ``margin``, black outside the frame, resized to size."""
    _check_frame(frame)
    h, w = frame.shape[:2]
    sx1, sy1, sx2, sy2 = margin_square(box, margin)
    s = sx2 - sx1
    ix1, iy1, ix2, iy2 = max(sx1, 0), max(sy1, 0), min(sx2, w), min(sy2, h)
    if ix2 <= ix1 or iy2 <= iy1:
        raise CropError(f"box {tuple(box)} lies outside the {w}x{h} frame")
    canvas = np.zeros((s, s, 3), dtype=np.uint8)
    canvas[iy1 - sy1 : iy2 - sy1, ix1 - sx1 : ix2 - sx1] = frame[iy1:iy2, ix1:ix2]
    return _resize(canvas, size, size)


def make_crops(frame: np.ndarray, box: Box, spec: CropSpec | None = None) -> FaceCrops:
    """All three crops of one face."""
    spec = spec or CropSpec()
    return FaceCrops(
        small=crop_stretch(frame, box, spec.small),
        large=crop_margin(frame, box, spec.large, spec.margin),
        raw=crop_raw(frame, box),
    )


def scale_box(box: Box, sx: float, sy: float) -> tuple[float, float, float, float]:
    """A box in a frame resized by (sx, sy), e.g. a fake stored at another resolution."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return x1 * sx, y1 * sy, x2 * sx, y2 * sy
