"""Still images as one-frame items: probing, decoding to RGB, and a reader behind
``FrameReader``'s interface.

Image datasets (DFFD, folders of generated faces) go through the same per-video pipeline as
videos: an image is an item with one frame, index 0. What can be wrong with an image file is
different from a video, so the probe records it with a reason:

* ``empty`` (0 bytes) and ``unreadable`` (not an image, truncated, a decoder error);
* ``unusable``: too small for a face crop (shorter side under ``MIN_SIDE``) or too large to
  decode safely (over ``MAX_PIXELS``: a decompression bomb is never decoded);
* ``ok`` with a note: CMYK (converted to RGB), 16 bits per channel (scaled to 8), animated
  (GIF, APNG, WebP: frame 0 is the item, the note gives the frame count), palette / alpha /
  grey (converted to RGB), an EXIF orientation (applied, as phones rotate videos).

Pillow reads the header (format, mode, size, frames, EXIF) without decoding; the probe then
decodes fully, so a truncated file is ``unreadable`` at ingest, not a surprise later.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deepfake_assets.media.frames import DecodedFrames, VideoDecodeError
from deepfake_assets.media.probe import STATUS_EMPTY, STATUS_MISSING, STATUS_OK, VideoProbe
from deepfake_assets.media.reasons import relative_reason

STATUS_UNREADABLE = "unreadable"
STATUS_UNUSABLE = "unusable"
MIN_SIDE = 32  # px: below this no face crop (160x160) means anything
MAX_PIXELS = 64_000_000  # a 8000x8000 photo; larger is refused before decoding
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jfif"}
)
_EXIF_ORIENTATION = 0x0112
_ROTATION_OF_ORIENTATION = {3: 180, 6: 90, 8: 270, 5: 90, 7: 270}


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether a file name is a still image (by extension; hidden files never are)."""
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class ImageProblem(Exception):
    """An image that cannot be an item: ``status`` and a reason (the message)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class StillImage:
    """A decoded image: HxWx3 uint8 RGB, upright, and what was done to get there."""

    rgb: np.ndarray
    format: str | None
    mode: str  # as stored (CMYK, I;16, P, RGB, ...)
    frames: int  # > 1: animated, frame 0 decoded
    rotation: int  # clockwise degrees applied from the EXIF orientation
    notes: tuple[str, ...]


def _png_bit_depth(path: Path) -> int | None:
    """Bits per channel from a PNG header (Pillow hides 16-bit RGB behind mode RGB)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
    except OSError:
        return None
    if len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24]
    return None


def load_image(path: str | os.PathLike[str]) -> StillImage:
    """Decode ``path`` to upright RGB; raises ``ImageProblem`` with a status and reason."""
    path = Path(path)
    if not path.exists():
        raise ImageProblem(STATUS_MISSING, "listed in the metadata but not on disk")
    if path.stat().st_size == 0:
        raise ImageProblem(STATUS_EMPTY, "file is empty (0 bytes)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise ImageProblem(
                        STATUS_UNUSABLE,
                        f"too large: {width}x{height} = {width * height / 1e6:.0f} megapixels "
                        f"(limit {MAX_PIXELS / 1e6:.0f}); not decoded",
                    )
                if min(width, height) < MIN_SIDE:
                    raise ImageProblem(
                        STATUS_UNUSABLE,
                        f"too small: {width}x{height} (a face crop needs at least {MIN_SIDE} px "
                        "on each side)",
                    )
                fmt, mode = im.format, im.mode
                frames = int(getattr(im, "n_frames", 1) or 1)
                if frames > 1:
                    notes.append(f"animated: {frames} frames, frame 0 used")
                    im.seek(0)
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
                rotation = _ROTATION_OF_ORIENTATION.get(int(orientation), 0)
                im.load()
                rgb = _to_rgb(im, notes, _png_bit_depth(path) if fmt == "PNG" else None)
                if orientation not in (None, 1):
                    rgb = _apply_orientation(rgb, int(orientation))
                    notes.append(f"EXIF orientation {orientation} applied")
    except ImageProblem:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageProblem(STATUS_UNREADABLE, f"not a readable image: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated, bad chunks, ...
        raise ImageProblem(STATUS_UNREADABLE, f"cannot decode: {exc}") from exc
    return StillImage(np.ascontiguousarray(rgb), fmt, mode, frames, rotation, tuple(notes))


def _to_rgb(im: Image.Image, notes: list[str], png_depth: int | None) -> np.ndarray:
    """Any Pillow mode -> HxWx3 uint8, 16-bit data scaled (not clipped) to 8 bits."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        notes.append(f"16-bit ({mode}) scaled to 8 bits")
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=1))
        grey = np.clip((arr - lo) / max(hi - lo, 1e-9) * 255.0, 0, 255).astype(np.uint8)
        notes.append("32-bit float scaled to 8 bits")
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    elif png_depth == 16:
        notes.append("16 bits per channel reduced to 8")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _apply_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels upright as the EXIF orientation tag (1-8) says."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.transpose(a, (1, 0, 2)),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return op(rgb) if op else rgb


def probe_image(path: str | os.PathLike[str], rel_path: str | None = None) -> VideoProbe:
    """The manifest row of an image: one frame, its size and mode, or a status and reason.
    Never raises; reasons name the file by ``rel_path``."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else None
    try:
        image = load_image(path)
    except ImageProblem as problem:
        return VideoProbe(
            status=problem.status,
            reason=relative_reason(str(problem), path, rel_path),
            size_bytes=size,
        )
    height, width = image.rgb.shape[:2]
    return VideoProbe(
        status=STATUS_OK,
        reason="; ".join(image.notes) or None,
        codec=(image.format or "").lower() or None,
        pix_fmt=image.mode,
        fps=None,
        frame_count=1,
        duration_s=None,
        width=int(width),
        height=int(height),
        rotation=image.rotation,
        variable_frame_rate=None,
        size_bytes=size,
    )


class ImageReader:
    """A still image behind ``FrameReader``'s interface: frame 0 is the image, every other
    index is missing. Decoded once, on the first read."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = Path(path)
        self._rgb: np.ndarray | None = None

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._rgb = None

    @property
    def frame_count(self) -> int | None:
        return 1 if self._rgb is not None else None

    def read(self, indices: Sequence[int], upcoming: Sequence[int] = ()) -> DecodedFrames:
        wanted = sorted({int(i) for i in indices})
        if wanted and wanted[0] < 0:
            raise ValueError(f"frame indices must be >= 0, got {wanted[0]}")
        if self._rgb is None:
            try:
                self._rgb = load_image(self.path).rgb
            except ImageProblem as exc:
                raise VideoDecodeError(f"{self.path}: {exc}") from exc
        got = [i for i in wanted if i == 0]
        return DecodedFrames(
            indices=got,
            frames=[self._rgb.copy() for _ in got],
            missing=[i for i in wanted if i != 0],
            frame_count=1,
            decoded=len(got),
        )


def open_reader(path: str | os.PathLike[str], threads: int = 1):
    """``ImageReader`` for a still image, else the video ``FrameReader``."""
    from deepfake_assets.media.frames import FrameReader

    return ImageReader(path) if is_image_path(path) else FrameReader(path, threads)


def read_item_frames(path: str | os.PathLike[str], indices: Sequence[int]) -> DecodedFrames:
    """``read_frames`` for videos and images alike."""
    with open_reader(path) as reader:
        return reader.read(indices)
