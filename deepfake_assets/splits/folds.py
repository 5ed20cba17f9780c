"""Two-level, actor-disjoint cross-validation folds (seed 001).

Actor groups (`splits.groups`: all real and fake faces of an actor, fakes with their originals)
are split 85:15 by face count into level 1 (training first-level feature extractors in 5-fold
CV) and level 2 (training and validating the second-level model), and each level into 5 folds
of equal face count. Both steps use the same stratified greedy filler as the train/val/test
split, so sources, labels and demographics are spread evenly across levels and folds, and no
actor appears in two folds or two levels.

Groups with a face from a ``test_only`` source (held-out generation methods) are left out by
default (level and fold null): they belong to the held-out test set, not to cross-validation.
Pass only the faces you want folded (e.g. train + val of `assign_splits`) to fold a subset.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from deepfake_assets.splits.groups import (
    AGE_BINS,
    DEFAULT_STRATIFY,
    check_ratios,
    greedy_assign,
    group_strata,
    prepare_faces,
    share_report,
)

__all__ = ["LEVELS", "DEFAULT_LEVEL_RATIO", "FoldResult", "assign_folds"]

LEVELS = (1, 2)
DEFAULT_LEVEL_RATIO = (0.85, 0.15)


@dataclass(frozen=True)
class FoldResult:
    """Output of `assign_folds`.

    faces: the input columns + group_id (i64), level (i8: 1 or 2), fold (i8: 0..n_folds-1);
        level and fold are null for excluded (test-only) groups.
    groups: group_id, n_faces, n_actors, test_only, level, fold.
    report: level_report (scope, category, level, faces, actors, videos, share, target) and
        fold_report (the same with level and fold; share within the level).
    """

    faces: pl.DataFrame
    groups: pl.DataFrame
    level_report: pl.DataFrame
    fold_report: pl.DataFrame
    level_ratio: tuple[float, ...]
    n_folds: int
    seed: int
    excluded_faces: int
    warnings: list[str] = field(default_factory=list)

    def metadata(self) -> dict:
        """A JSON-ready summary for the asset's metadata."""
        lv = self.level_report.filter(pl.col("scope") == "overall")
        fd = self.fold_report.filter(pl.col("scope") == "overall")
        return {
            "level_ratio": dict(zip([str(x) for x in LEVELS], self.level_ratio, strict=True)),
            "n_folds": self.n_folds,
            "seed": self.seed,
            "level_share": {str(k): v for k, v in zip(lv["level"], lv["share"], strict=True)},
            "fold_faces": {
                f"{lvl}/{fold}": n
                for lvl, fold, n in fd.select("level", "fold", "faces").iter_rows()
            },
            "excluded_faces": self.excluded_faces,
            "warnings": list(self.warnings),
        }


def assign_folds(
    faces: pl.DataFrame,
    level_ratio: Sequence[float] = DEFAULT_LEVEL_RATIO,
    n_folds: int = 5,
    seed: int = 0,
    *,
    stratify_by: Sequence[str] = DEFAULT_STRATIFY,
    exclude_test_only: bool = True,
    tolerance: float = 0.02,
    age_bins: Sequence[float] = AGE_BINS,
    overall_weight: float = 2.0,
) -> FoldResult:
    """Assign actor groups to level 1 / level 2 (`level_ratio`) and each level to `n_folds`
    folds of equal face count. Same input table as `assign_splits` (its output, e.g. the
    train + val faces with their split column, works too)."""
    if n_folds < 1:
        raise ValueError("n_folds must be at least 1")
    level_ratio = check_ratios(level_ratio, 2)
    clash = [c for c in ("level", "fold") if c in faces.columns]
    if clash:
        raise ValueError(f"faces already has columns {clash}")
    df = prepare_faces(faces, age_bins)
    out_cols = [c for c in faces.columns if c != "group_id"]
    stratify_by = [a for a in stratify_by if a in df.columns or a == "age"]
    groups = (
        df.group_by("group_id")
        .agg(
            pl.len().alias("n_faces"),
            pl.col("_a").n_unique().alias("n_actors"),
            pl.col("test_only").any().alias("test_only"),
        )
        .sort("group_id")
    )
    excluded = (
        groups["test_only"].to_numpy() if exclude_test_only else np.zeros(groups.height, bool)
    )
    excluded_faces = int(groups["n_faces"].to_numpy()[excluded].sum())
    gids = groups["group_id"].to_numpy()[~excluded]
    kept = df.join(
        pl.DataFrame({"group_id": pl.Series(gids, dtype=pl.Int64)}), on="group_id", how="semi"
    )
    strata, counts = group_strata(kept, stratify_by)

    notes: list[str] = []
    lvl_idx = greedy_assign(
        gids, counts, strata, level_ratio, seed=seed, overall_weight=overall_weight
    )
    fold_idx = np.full(len(gids), -1, dtype=np.int64)
    fold_ratio = [1.0 / n_folds] * n_folds
    for li in range(len(LEVELS)):
        sel = lvl_idx == li
        if sel.any():
            fold_idx[sel] = greedy_assign(
                gids[sel],
                counts,
                strata,
                fold_ratio,
                seed=seed + 1 + li,
                overall_weight=overall_weight,
            )

    assign = pl.DataFrame(
        {
            "group_id": pl.Series(gids, dtype=pl.Int64),
            "level": pl.Series(np.asarray(LEVELS)[lvl_idx], dtype=pl.Int8),
            "fold": pl.Series(fold_idx, dtype=pl.Int8),
        }
    )
    groups = groups.join(assign, on="group_id", how="left")
    df = df.join(assign, on="group_id", how="left")
    kept = df.filter(pl.col("level").is_not_null())

    level_report = share_report(
        kept, "level", list(LEVELS), stratify_by, default_target=level_ratio
    )
    fold_parts = []
    for lvl in LEVELS:
        part = kept.filter(pl.col("level") == lvl)
        if part.is_empty():
            continue
        rep = share_report(
            part, "fold", list(range(n_folds)), stratify_by, default_target=fold_ratio
        )
        fold_parts.append(rep.with_columns(pl.lit(lvl, dtype=pl.Int8).alias("level")))
    fold_report = (
        pl.concat(fold_parts)
        if fold_parts  # none when every group is test-only: an empty report, same columns
        else level_report.clear().with_columns(pl.lit(None, dtype=pl.Int64).alias("fold"))
    ).select("scope", "category", "level", pl.exclude("scope", "category", "level"))

    # warnings -------------------------------------------------------------------------------
    if excluded_faces:
        notes.append(f"{excluded_faces} faces of test-only actor groups left out of the folds")
    n_groups = len(gids)
    for li, lvl in enumerate(LEVELS):
        n_lvl = int((lvl_idx == li).sum())
        if n_lvl == 0:
            notes.append(f"level {lvl} is empty: only {n_groups} actor groups")
        elif n_lvl < n_folds:
            notes.append(
                f"level {lvl} has {n_lvl} actor groups for {n_folds} folds: "
                f"{n_folds - n_lvl} folds are empty"
            )
    lv = level_report.filter(pl.col("scope") == "overall")
    miss = [(lvl, sh - t) for lvl, sh, t in lv.select("level", "share", "target").iter_rows()]
    if n_groups and any(abs(m) > tolerance for _, m in miss):
        detail = ", ".join(f"level {lvl} {m:+.3f}" for lvl, m in miss)
        notes.append(f"level ratios miss {level_ratio} by more than {tolerance}: {detail}")
    if fold_parts:
        fo = fold_report.filter(pl.col("scope") == "overall")
        worst = (fo["share"] - fo["target"]).abs().max()
        if worst is not None and worst > tolerance:
            notes.append(f"fold shares within a level miss 1/{n_folds} by up to {worst:.3f}")
    for note in notes:
        warnings.warn(note, stacklevel=2)

    return FoldResult(
        faces=df.select(*out_cols, "group_id", "level", "fold"),
        groups=groups,
        level_report=level_report,
        fold_report=fold_report,
        level_ratio=tuple(level_ratio),
        n_folds=n_folds,
        seed=seed,
        excluded_faces=excluded_faces,
        warnings=notes,
    )
