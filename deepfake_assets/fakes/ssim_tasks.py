"""SSIM of fake crops against their originals' crops as executor tasks.

A task takes a batch of (fake crop, original crop) paths, writes each difference mask next to
the data folder's `masks/` (atomically, from the worker) and returns the scores, mask areas and
mask paths only. Batches are the stage's `batch_size` chunks in catalog order, so the scores do
not depend on the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_assets.fakes.ssim import diff_mask, mask_area, ssim_batch
from deepfake_assets.media.images import read_png
from deepfake_assets.media.written_files import WrittenFile, write_png_verified


@dataclass(frozen=True)
class SsimBatch:
    """What one task sends back (small: three numbers or a path per face)."""

    ssim: np.ndarray
    mask_area: np.ndarray
    mask_paths: list[str]
    written: list[WrittenFile]  # each mask as its writer verified it (media/written_files.py)


def mask_path(crop_160: str) -> str:
    """`faces/<source>/<video>/<name>.png` -> `masks/<source>/<video>/<name>_mask.png`."""
    rel = Path(crop_160).with_name(Path(crop_160).stem + "_mask.png")
    return str(Path("masks") / rel.relative_to("faces"))


def ssim_crop_files(data_dir: str, pairs: list[tuple[str, str]]) -> SsimBatch:
    """In a worker: SSIM and masks of `(fake crop_160, original crop_160)` pairs."""
    root = Path(data_dir)
    fake = np.stack([read_png(root / f) for f, _ in pairs])
    real = np.stack([read_png(root / r) for _, r in pairs])
    scores, maps = ssim_batch(fake, real)
    paths, written = [], []
    for (f, _), mask in zip(pairs, diff_mask(maps), strict=True):
        rel = mask_path(f)
        written.append(write_png_verified(root / rel, mask, rel))
        paths.append(rel)
    return SsimBatch(np.asarray(scores), np.asarray(mask_area(maps)), paths, written)
