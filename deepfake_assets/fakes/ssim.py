"""SSIM of fake face crops against their original's crops, difference masks, per-video stats.

A fake face crop is cut from the same frame index with the same box as its original's crop
(see `faces/`), so the two images are pixel-aligned and a local SSIM map shows where the fake
was altered.

The SSIM is Wang et al. (2004) with an 11x11 gaussian window (sigma 1.5, truncated at 3.5
sigma), population covariance, K1=0.01, K2=0.03, data range 255 and mirror ("reflect" in
scipy's sense, edge sample repeated) padding: exactly what
``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, full=True)`` computes. As in skimage, the score is
the mean of the map with a 5-pixel border (the window radius) cropped away, and the returned
map is the full, uncropped one.

Colour: by default SSIM is computed on luminance (BT.601 luma, Y = 0.299 R + 0.587 G +
0.114 B, unrounded float). SSIM was defined on luminance, face-swap and reenactment artefacts
are structural (edges, texture, shading) and show in Y, and one channel costs a third of three.
``channels="mean"`` instead averages the SSIM of R, G and B (skimage's ``channel_axis=-1``),
which also sees pure hue shifts that keep luma; use it when that matters more than speed.

Backends: torch (separable ``conv2d``) and numpy/scipy (``scipy.ndimage.correlate1d``), both
vectorised over the batch and run in chunks so memory stays bounded. "auto" picks torch when
CUDA is available and scipy otherwise: on CPU scipy's 1-d correlation measured ~5-10x faster
than torch's single-channel conv2d (160x160 luma, one thread), see benchmarks/ssim_bench.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

__all__ = [
    "K1",
    "K2",
    "DATA_RANGE",
    "SIGMA",
    "TRUNCATE",
    "WIN_RADIUS",
    "DEFAULT_MASK_THRESHOLD",
    "gaussian_kernel1d",
    "to_luma",
    "ssim_batch",
    "diff_mask",
    "mask_area",
    "video_stats",
]

K1 = 0.01
K2 = 0.03
DATA_RANGE = 255.0
SIGMA = 1.5
TRUNCATE = 3.5
WIN_RADIUS = int(TRUNCATE * SIGMA + 0.5)  # 5 -> an 11x11 window, as scipy/skimage
C1 = (K1 * DATA_RANGE) ** 2
C2 = (K2 * DATA_RANGE) ** 2
# A pixel counts as "changed" when its local SSIM is below 1 - threshold, i.e. its diff_mask
# value is above threshold * 255 (64). A starting point, not tuned on labelled fakes: note that
# heavy re-encoding alone already exceeds it (the carphone fixture's low-quality replicate:
# mean SSIM 0.63, 59 % of the face area above 0.25), so fakes encoded much worse than their
# originals look "changed" everywhere.
DEFAULT_MASK_THRESHOLD = 0.25

_LUMA = np.array([0.299, 0.587, 0.114])

Channels = Literal["luma", "mean"]
Backend = Literal["auto", "torch", "numpy"]


def gaussian_kernel1d(sigma: float = SIGMA, truncate: float = TRUNCATE) -> np.ndarray:
    """The normalised 1-d gaussian scipy.ndimage.gaussian_filter uses (float64)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def to_luma(images: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """(..., 3) RGB -> (...) BT.601 luma as float, unrounded (range 0-255 for uint8 input)."""
    images = np.asarray(images)
    if images.shape[-1] != 3:
        raise ValueError(f"expected RGB images with a last axis of 3, got {images.shape}")
    return (images.astype(dtype, copy=False) @ _LUMA.astype(dtype)).astype(dtype, copy=False)


def _as_planes(images: np.ndarray, channels: Channels) -> np.ndarray:
    """(N,H,W,3) or (N,H,W) -> (N,C,H,W) float64 planes SSIM is computed on."""
    images = np.asarray(images)
    if images.ndim == 3:  # already single channel
        return images.astype(np.float64)[:, None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected (N,H,W,3) RGB or (N,H,W) images, got shape {images.shape}")
    if channels == "luma":
        return to_luma(images)[:, None]
    if channels == "mean":
        return np.moveaxis(images.astype(np.float64), -1, 1)
    raise ValueError(f"channels must be 'luma' or 'mean', got {channels!r}")


def _symmetric_index(n: int, r: int) -> np.ndarray:
    """Indices that pad an axis of length n by r on each side, mirroring with the edge kept."""
    idx = np.mod(np.arange(-r, n + r), 2 * n)
    return np.where(idx >= n, 2 * n - 1 - idx, idx).astype(np.int64)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _torch_device(device: str | None):
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def _ssim_from_moments(mx, my, mxx, myy, mxy, centre):
    """SSIM map from gaussian moments of centred planes (numpy arrays or torch tensors)."""
    vx = mxx - mx * mx
    vy = myy - my * my
    vxy = mxy - mx * my
    ux = mx + centre
    uy = my + centre
    return ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))


def _ssim_maps_numpy(xc: np.ndarray, yc: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(B,H,W) centred planes -> (B,H,W) SSIM maps via scipy's separable correlation."""
    from scipy.ndimage import correlate1d

    k = gaussian_kernel1d().astype(xc.dtype)

    def filt(a: np.ndarray) -> np.ndarray:
        a = correlate1d(a, k, axis=1, mode="reflect")
        return correlate1d(a, k, axis=2, mode="reflect")

    moments = (filt(xc), filt(yc), filt(xc * xc), filt(yc * yc), filt(xc * yc))
    return _ssim_from_moments(*moments, centre.astype(xc.dtype))


def _ssim_maps_torch(xc: np.ndarray, yc: np.ndarray, centre: np.ndarray, device) -> np.ndarray:
    """(B,H,W) centred planes -> (B,H,W) SSIM maps via two 1-d conv2d passes per moment."""
    import torch
    import torch.nn.functional as F

    tdtype = torch.float64 if xc.dtype == np.float64 else torch.float32
    b, h, w = xc.shape
    r = WIN_RADIUS
    with torch.no_grad():
        k = torch.as_tensor(gaussian_kernel1d(), dtype=tdtype, device=device)
        # scipy's "reflect" repeats the edge sample (numpy "symmetric"); torch's "reflect" pad
        # does not, so the padding is an explicit gather.
        ih = torch.as_tensor(_symmetric_index(h, r), device=device)
        iw = torch.as_tensor(_symmetric_index(w, r), device=device)
        tx = torch.as_tensor(xc, device=device)
        ty = torch.as_tensor(yc, device=device)
        stack = torch.stack([tx, ty, tx * tx, ty * ty, tx * ty], 1).reshape(b * 5, 1, h, w)
        stack = F.conv2d(stack.index_select(2, ih), k.view(1, 1, -1, 1))
        stack = F.conv2d(stack.index_select(3, iw), k.view(1, 1, 1, -1)).reshape(b, 5, h, w)
        tcentre = torch.as_tensor(centre, device=device)
        s = _ssim_from_moments(*stack.unbind(1), tcentre)
        return s.cpu().numpy()


def ssim_batch(
    fakes: np.ndarray,
    originals: np.ndarray,
    *,
    channels: Channels = "luma",
    backend: Backend = "auto",
    device: str | None = None,
    dtype: type = np.float32,
    batch_size: int = 64,
    return_maps: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """SSIM of each fake crop against its pixel-aligned original crop.

    Args:
        fakes, originals: (N,H,W,3) RGB uint8 (or float on a 0-255 scale), or (N,H,W) single
            channel; same shape; H and W at least 11.
        channels: "luma" (default; SSIM of BT.601 luma) or "mean" (mean of per-RGB-channel SSIM).
        backend: "torch", "numpy" (scipy) or "auto": torch on CUDA when available (or when
            `device` names a torch device), else numpy, the faster one on CPU.
        device: torch device; None picks CUDA when available, else CPU.
        dtype: float32 (default; moments are taken about each pair's mean, so float32 agrees
            with skimage's float64 to ~1e-5) or float64 (agrees to ~1e-12).
        batch_size: pairs per chunk; bounds memory (about 5 * 4 * H * W bytes per pair).
        return_maps: False returns None for the maps and saves the (N,H,W) float32 allocation.

    Returns:
        scores (N,) float64 mean SSIM over the map without its 5-pixel border (as skimage) and
        maps (N,H,W) float32 full SSIM maps (values in [-1, 1]; 1 = unchanged), or None.
    """
    fakes = np.asarray(fakes)
    originals = np.asarray(originals)
    if fakes.shape != originals.shape:
        raise ValueError(f"fakes {fakes.shape} and originals {originals.shape} differ in shape")
    if fakes.ndim not in (3, 4):
        raise ValueError(f"expected a batch (N,H,W,3) or (N,H,W), got shape {fakes.shape}")
    n, h, w = fakes.shape[:3]
    if min(h, w) < 2 * WIN_RADIUS + 1:
        raise ValueError(f"images must be at least {2 * WIN_RADIUS + 1} pixels a side")
    if backend not in ("auto", "torch", "numpy"):
        raise ValueError(f"unknown backend {backend!r}")
    np_dtype = np.dtype(dtype)
    if np_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError("dtype must be float32 or float64")
    use_torch = backend == "torch" or (backend == "auto" and (device is not None or _cuda()))
    tdevice = _torch_device(device) if use_torch else None

    scores = np.empty(n, dtype=np.float64)
    maps = np.empty((n, h, w), dtype=np.float32) if return_maps else None
    r = WIN_RADIUS
    step = max(1, int(batch_size))
    for start in range(0, n, step):
        stop = min(n, start + step)
        x = _as_planes(fakes[start:stop], channels)  # (B,C,H,W) float64
        y = _as_planes(originals[start:stop], channels)
        b, c = x.shape[:2]
        x = x.reshape(b * c, h, w)
        y = y.reshape(b * c, h, w)
        # Centre each pair on a shared constant: variances and covariance are unchanged, the
        # means are shifted back before the luminance term, and float32 loses far less to
        # cancellation in E[x^2] - E[x]^2 (pixel values 0-255, squares up to 65025).
        centre = 0.5 * (x.mean(axis=(1, 2)) + y.mean(axis=(1, 2)))[:, None, None]
        xc = (x - centre).astype(np_dtype)
        yc = (y - centre).astype(np_dtype)
        centre = centre.astype(np_dtype)
        if use_torch:
            s = _ssim_maps_torch(xc, yc, centre, tdevice)
        else:
            s = _ssim_maps_numpy(xc, yc, centre)
        s = s.reshape(b, c, h, w).mean(axis=1)
        scores[start:stop] = s[:, r : h - r, r : w - r].mean(axis=(1, 2), dtype=np.float64)
        if maps is not None:
            maps[start:stop] = s  # cast to float32
    return scores, maps


def diff_mask(ssim_map: np.ndarray) -> np.ndarray:
    """(1 - SSIM) scaled to 0-255 as uint8: 0 = unchanged, 255 = dissimilar (1-SSIM >= 1).

    Works on one (H,W) map or a stack; negative SSIM (anti-correlated structure) saturates.
    """
    m = (1.0 - np.asarray(ssim_map, dtype=np.float32)) * 255.0
    return np.clip(np.rint(m), 0, 255).astype(np.uint8)


def mask_area(
    ssim_maps: np.ndarray, threshold: float = DEFAULT_MASK_THRESHOLD, *, border: int = 0
) -> np.ndarray:
    """Fraction of pixels whose 1 - SSIM exceeds `threshold`, per map ((N,H,W) -> (N,)).

    `border` crops that many pixels off each side first (WIN_RADIUS drops the padded rim).
    """
    maps = np.asarray(ssim_maps)
    single = maps.ndim == 2
    if single:
        maps = maps[None]
    if border:
        maps = maps[:, border:-border, border:-border]
    area = ((1.0 - maps) > threshold).mean(axis=(1, 2))
    return area[0] if single else area


def video_stats(
    rows: pl.DataFrame | dict,
    *,
    by: str | Sequence[str] = "video_id",
    ssim_col: str = "ssim",
    area_col: str = "mask_area",
) -> pl.DataFrame:
    """Per fake video statistics from per-face rows.

    `rows` has one row per fake face with the grouping column(s) `by`, its SSIM score
    `ssim_col` and, optionally, the fraction of changed pixels `area_col` (see `mask_area`).
    Returns one row per group, sorted by `by`: the `by` columns, n_faces (u32), ssim_mean,
    ssim_median, ssim_p10 (10th percentile, linear), ssim_min (f64) and mask_area_mean (f64,
    null when there is no area column). Null scores are ignored.
    """
    df = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows)
    keys = [by] if isinstance(by, str) else list(by)
    s = pl.col(ssim_col).cast(pl.Float64)
    aggs = [
        s.count().cast(pl.UInt32).alias("n_faces"),
        s.mean().alias("ssim_mean"),
        s.median().alias("ssim_median"),
        s.quantile(0.10, interpolation="linear").alias("ssim_p10"),
        s.min().alias("ssim_min"),
    ]
    if area_col in df.columns:
        aggs.append(pl.col(area_col).cast(pl.Float64).mean().alias("mask_area_mean"))
    else:
        aggs.append(pl.lit(None, dtype=pl.Float64).alias("mask_area_mean"))
    return df.group_by(keys).agg(aggs).sort(keys)
