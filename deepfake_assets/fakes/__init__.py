"""Fakes: SSIM of fake face crops against their originals, difference masks, levels 0-4."""

from deepfake_assets.fakes.levels import LevelResult, apply_levels, assign_levels
from deepfake_assets.fakes.ssim import diff_mask, mask_area, ssim_batch, video_stats

__all__ = [
    "LevelResult",
    "apply_levels",
    "assign_levels",
    "diff_mask",
    "mask_area",
    "ssim_batch",
    "video_stats",
]
