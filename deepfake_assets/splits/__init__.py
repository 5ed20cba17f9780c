"""Splits: identity-disjoint train/val/test (80:15:5) and two-level 5-fold assignment."""

from deepfake_assets.splits.assign import SPLITS, SplitResult, assign_splits
from deepfake_assets.splits.folds import FoldResult, assign_folds

__all__ = ["SPLITS", "FoldResult", "SplitResult", "assign_folds", "assign_splits"]
