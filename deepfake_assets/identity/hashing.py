"""64-bit perceptual hashes (pHash) of frames and face crops, and their Hamming distances.

Why pHash and not aHash or dHash: the same picture reaches us re-encoded (a dataset re-saved
at another JPEG / H.264 quality), rescaled (360p vs 1080p copies of one video, crops resized to
160x160) and with small brightness / contrast shifts. aHash thresholds raw 8x8 means, so a small
global brightness or gamma change moves many pixels across the mean and flips bits; dHash
compares neighbouring pixels of a 9x8 thumbnail and is fragile under compression noise and
slight shifts in flat regions. pHash keeps only the low-frequency DCT coefficients of a 32x32
thumbnail (the coarse structure of the image), drops the DC term (overall brightness) and
thresholds at the median, so the hash is invariant to global gain/offset and largely to the
high-frequency noise that re-encoding and resampling add. Measured on face crops
(see ``deepfake_assets.identity.dedup`` for the numbers) it keeps re-encoded, rescaled and
re-lit copies within a few bits while different faces sit near 32 bits apart.

The hash is a ``uint64``; tables store it as a signed ``int64`` (Parquet / DuckDB have no
unsigned 64-bit type everywhere): use :func:`to_int64` and :func:`from_int64`, which reinterpret
the bits and never change them.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy.fft import dct

__all__ = [
    "HASH_BITS",
    "from_int64",
    "hamming",
    "phash",
    "phash_batch",
    "popcount64",
    "to_int64",
]

HASH_BITS = 64
_THUMB = 32  # side of the grayscale thumbnail whose DCT is taken
_LOW = 8  # side of the low-frequency block kept (8x8 = 64 bits)
_BITS_LE = (1 << np.arange(HASH_BITS - 1, -1, -1, dtype=np.uint64)).astype(np.uint64)
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    """A 32x32 float64 grayscale thumbnail; area interpolation averages away pixel noise."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 3 and img.shape[2] == 3:
        # ITU-R 601 luma of an RGB image (the project's images are RGB).
        gray = img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
    elif img.ndim == 3 and img.shape[2] == 1:
        gray = img[..., 0]
    elif img.ndim == 2:
        gray = img
    else:
        raise ValueError(f"expected HxW or HxWx{{1,3,4}} image, got shape {img.shape}")
    gray = np.asarray(gray, dtype=np.float64)
    if gray.shape[0] < 1 or gray.shape[1] < 1:
        raise ValueError("empty image")
    if gray.shape != (_THUMB, _THUMB):
        interp = (
            cv2.INTER_AREA
            if gray.shape[0] >= _THUMB and gray.shape[1] >= _THUMB
            else cv2.INTER_LINEAR
        )
        gray = cv2.resize(gray, (_THUMB, _THUMB), interpolation=interp)
    # Round off float noise of the luma weights / resampling: a flat image stays exactly flat.
    return np.round(gray, 3)


def phash_batch(images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """pHash of each image: one ``uint64`` per image, shape ``(N,)``.

    Images are HxW grayscale or HxWx3 RGB (uint8 or float in the same 0-255 scale), any size.
    Steps: 32x32 grayscale thumbnail (area resampling), 2-D DCT-II of the whole batch at once,
    the 8x8 low-frequency block *after* the DC row and column (coefficients [1:9, 1:9], as in
    the original pHash: row/column 0 carry the mean and the pure horizontal/vertical ramps of
    brightness), bit = coefficient > median of the 64. Bit 63 (the most significant) is
    coefficient (1, 1), then row-major.
    """
    if isinstance(images, np.ndarray) and images.ndim in (3, 4) and images.dtype != object:
        # A stacked batch (N,H,W) or (N,H,W,C).
        seq: Sequence[np.ndarray] = list(images)
    else:
        seq = list(images)
    if len(seq) == 0:
        return np.zeros(0, dtype=np.uint64)
    thumbs = np.stack([_thumbnail(im) for im in seq]).astype(np.float64)
    coeffs = dct(dct(thumbs, type=2, axis=1, norm="ortho"), type=2, axis=2, norm="ortho")
    low = coeffs[:, 1 : _LOW + 1, 1 : _LOW + 1].reshape(len(seq), _LOW * _LOW)
    # Round off float noise so a flat image gives all-zero coefficients and hash 0 (not noise).
    low = np.round(low, 6)
    med = np.median(low, axis=1, keepdims=True)
    bits = (low > med).astype(np.uint64)
    return (bits * _BITS_LE).sum(axis=1, dtype=np.uint64)


def phash(image: np.ndarray) -> np.uint64:
    """pHash of one image (see :func:`phash_batch`)."""
    return phash_batch([image])[0]


def popcount64(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 (vectorised; ``np.bitwise_count`` where it exists)."""
    arr = np.asarray(x, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(arr).astype(np.uint8)
    as_bytes = arr.reshape(-1).view(np.uint8).reshape(-1, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=1, dtype=np.uint8).reshape(arr.shape)


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Hamming distance between hashes, broadcasting like numpy (``a[:, None]`` vs ``b[None]``).

    Accepts uint64 or int64 (stored) hashes; int64 inputs are reinterpreted, not converted.
    """
    return popcount64(np.bitwise_xor(_as_u64(a), _as_u64(b)))


def _as_u64(x: np.ndarray | int) -> np.ndarray:
    """View any integer hash array as uint64 without changing its bits."""
    arr = np.asarray(x)
    if arr.dtype == np.uint64:
        return arr
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False).view(np.uint64)
    if arr.dtype == object:  # Python ints that do not fit one numpy integer type
        flat = [int(v) & 0xFFFFFFFFFFFFFFFF for v in arr.reshape(-1)]
        return np.asarray(flat, dtype=np.uint64).reshape(arr.shape)
    raise TypeError(f"hashes must be integers, got {arr.dtype}")


def to_int64(h: np.ndarray | int) -> np.ndarray:
    """Reinterpret uint64 hashes as int64 (same 64 bits) for Parquet / DuckDB columns."""
    return _as_u64(h).view(np.int64)


def from_int64(h: np.ndarray | int) -> np.ndarray:
    """Inverse of :func:`to_int64`: the stored int64 column back to uint64 hashes."""
    return _as_u64(h)
