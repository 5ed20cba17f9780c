"""A classic landmark face swap: similarity warp, feathered ellipse mask, LAB colour transfer.

Pure numpy/OpenCV (no dagster). Used by the offline demo dataset to make FAKE videos that are
frame-aligned with their originals, so the later SSIM/mask stages see a real localised
alteration whose strength is controlled by ``alpha``.

Landmarks are five points in MTCNN order: left eye, right eye, nose tip, left mouth corner,
right mouth corner (image left/right), as ``(5, 2)`` float arrays in pixel coordinates.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = [
    "apply_affine",
    "face_ellipse",
    "feathered_ellipse_mask",
    "match_colour_lab",
    "similarity_transform",
    "swap_face",
]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping ``src`` onto ``dst``.

    Umeyama's closed form without reflection; returns a 2x3 matrix for ``cv2.warpAffine``.
    Written out instead of ``cv2.estimateAffinePartial2D`` because that one runs RANSAC, whose
    result is not guaranteed to be the exact least-squares fit.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    scale = float((sig * d).sum() / var_s) if var_s > 0 else 1.0
    mat = np.empty((2, 3))
    mat[:, :2] = scale * rot
    mat[:, 2] = mu_d - scale * rot @ mu_s
    return mat


def apply_affine(mat: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map ``(n, 2)`` points through a 2x3 affine matrix."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ np.asarray(mat)[:, :2].T + np.asarray(mat)[:, 2]


def face_ellipse(landmarks: np.ndarray) -> tuple[np.ndarray, tuple[float, float], float]:
    """The inner-face ellipse (brows to chin, cheek to cheek) implied by five landmarks.

    Returns ``(center_xy, (semi_axis_across, semi_axis_along), angle_deg)`` where "along" is
    the eyes -> mouth direction. Proportions are the usual adult-face ratios in units of the
    eye distance and the eye-to-mouth distance. A turned head (nose off the eyes' midpoint)
    shows more of one cheek: the ellipse moves that way and narrows, so it does not reach
    past the near cheek into hair or background.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes = lm[:2].mean(axis=0)
    mouth = lm[3:5].mean(axis=0)
    down = mouth - eyes
    eye_mouth = float(np.hypot(*down)) or 1.0
    eye_vec = lm[1] - lm[0]
    eye_dist = float(np.hypot(*eye_vec)) or 1.0
    turn = float(np.clip((lm[2] - eyes) @ eye_vec / eye_dist**2, -0.6, 0.6))
    # A turned head shortens the eye distance but not the eye-mouth distance.
    across = max(0.95 * eye_dist, 0.8 * eye_mouth) * (1.0 - 0.4 * abs(turn))
    along = 1.2 * eye_mouth
    center = eyes + 0.5 * down - turn * eye_vec
    angle = math.degrees(math.atan2(down[1], down[0])) - 90.0
    return center, (across, along), angle


def feathered_ellipse_mask(
    shape: tuple[int, int],
    landmarks: np.ndarray,
    *,
    shrink: float = 0.88,
    feather: float = 0.16,
    offset: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """A float32 mask in [0, 1] of ``shape`` (h, w): the face ellipse with a soft edge.

    ``offset`` is the (x, y) of the mask's top-left corner in the landmarks' frame, so the mask
    can be drawn for a region of interest only. The edge is a Gaussian-like ramp (a smoothstep
    over +-2 sigma, sigma = ``feather`` eye distances) centred on the ellipse shrunk by
    ``shrink``, so the blend fades out near the face outline instead of on the background. It
    is computed in closed form (no blur pass) because it runs twice per fake frame.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    center, (across, along), angle = face_ellipse(lm)
    eye_dist = float(np.hypot(*(lm[1] - lm[0])))
    sigma = max(1.0, feather * max(eye_dist, 0.8 * along / 1.2))
    a, b = max(1.0, across * shrink), max(1.0, along * shrink)
    h, w = shape
    th = math.radians(angle)
    c, s = math.cos(th), math.sin(th)
    xs = (np.arange(w, dtype=np.float32) + offset[0] - center[0])[None, :]
    ys = (np.arange(h, dtype=np.float32) + offset[1] - center[1])[:, None]
    u = (xs * c + ys * s) / a  # along the ellipse's first axis (across the face)
    v = (-xs * s + ys * c) / b  # along the second (eyes -> mouth)
    r = np.sqrt(u * u + v * v)
    # Signed distance to the ellipse in pixels (exact on the axes, close elsewhere).
    dist = (r - 1.0) * (a * np.abs(u) + b * np.abs(v)) / np.maximum(r, 1e-6)
    t = np.clip(0.5 - dist / (4.0 * sigma), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def match_colour_lab(src: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shift ``src``'s LAB mean/std to ``ref``'s, both measured where ``weight`` is high.

    Inputs are float32 RGB in [0, 1]; returns float32 RGB in [0, 1]. This is the Reinhard
    transfer that classic face-swap pipelines use so skin tone and lighting follow the target.
    """
    sel = weight > 0.5
    if int(sel.sum()) < 16:
        return src
    lab_s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB)
    px_s = lab_s[sel]
    px_r = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB)[sel]
    mean_s, mean_r = px_s.mean(axis=0), px_r.mean(axis=0)
    std_s, std_r = px_s.std(axis=0) + 1e-3, px_r.std(axis=0) + 1e-3
    gain = np.clip(std_r / std_s, 0.25, 4.0).astype(np.float32)
    out = (lab_s - mean_s) * gain + mean_r
    out[..., 0] = np.clip(out[..., 0], 0.0, 100.0)
    out[..., 1:] = np.clip(out[..., 1:], -127.0, 127.0)
    return np.clip(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB), 0.0, 1.0)


def swap_face(
    frame: np.ndarray,
    frame_landmarks: np.ndarray,
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    *,
    alpha: float,
) -> np.ndarray:
    """Paste ``donor``'s face onto the face at ``frame_landmarks`` in ``frame``.

    ``frame`` and ``donor`` are RGB images (uint8 or float32 in [0, 1]); returns float32 RGB in
    [0, 1] of ``frame``'s shape. Only a region around the target face is touched, so pixels
    outside the feathered mask are exactly the input's.
    """
    out = frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.copy()
    src = donor.astype(np.float32) / 255.0 if donor.dtype == np.uint8 else donor
    h, w = out.shape[:2]
    center, (across, along), _ = face_ellipse(frame_landmarks)
    reach = 1.6 * max(across, along)
    x0, y0 = max(0, int(center[0] - reach)), max(0, int(center[1] - reach))
    x1, y1 = min(w, int(center[0] + reach) + 1), min(h, int(center[1] + reach) + 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return out
    roi = out[y0:y1, x0:x1]
    mat = similarity_transform(donor_landmarks, frame_landmarks)
    mat[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(
        src, mat, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    mask = feathered_ellipse_mask((y1 - y0, x1 - x0), frame_landmarks, offset=(x0, y0))
    # Only the donor's face may be pasted, not its hair or background: intersect with the
    # donor's own face ellipse carried along by the same warp (mat is in ROI coordinates).
    donor_mask = feathered_ellipse_mask((y1 - y0, x1 - x0), apply_affine(mat, donor_landmarks))
    mask = np.minimum(mask, donor_mask)
    warped = match_colour_lab(warped, roi, mask)
    m = (alpha * mask)[..., None]
    out[y0:y1, x0:x1] = roi * (1.0 - m) + warped * m
    return out
