"""Image files the catalog points to: written atomically, read back as RGB.

A crash or a killed worker must never leave a half-written PNG under its final name (a
resumed run trusts files that exist), so every write goes to a temporary name in the same
folder and is renamed with ``os.replace``, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import cv2
import numpy as np


class ImageIOError(OSError):
    """An image could not be encoded, written or read."""


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary sibling and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def encode_png(rgb: np.ndarray, compression: int = 3) -> bytes:
    """PNG bytes of an HxWx3 (RGB) or HxW uint8 image."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ImageIOError(f"expected HxWx3 or HxW uint8, got {arr.shape} {arr.dtype}")
    if arr.size == 0:
        raise ImageIOError("cannot encode an empty image")
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR) if arr.ndim == 3 else arr
    ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise ImageIOError("PNG encoding failed")
    return buf.tobytes()


def write_png_atomic(path: str | os.PathLike[str], rgb: np.ndarray, compression: int = 3) -> Path:
    """Encode ``rgb`` as PNG and write it atomically; returns the final path."""
    return write_bytes_atomic(path, encode_png(rgb, compression))


def read_png(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB (grey images are expanded to three channels)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ImageIOError(f"cannot decode image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


read_image = read_png
