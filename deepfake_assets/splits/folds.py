"""Two-level, identity-disjoint cross-validation folds (seed 001).

Actor groups (`splits.groups`: all real and fake faces of an actor, fakes with their originals)
are split 85:15 by face count into level 1 (training first-level feature extractors in 5-fold
CV) and level 2 (training and validating the second-level model), and each level into 5 folds
of equal face count. Both steps use the same stratified greedy filler as the train/val/test
split, so sources, labels and demographics are spread evenly across levels and folds, and no
actor appears in two folds or two levels.

Groups are the identity graph's components, as for the split (second persons and donors count;
under ``donors: drop_bridging`` a fake whose donor is in the other level or another fold of its
level is dropped instead). Groups with a face from a ``test_only`` source (held-out generation
methods) are left out by default (level and fold null): they belong to the held-out test set,
not to cross-validation.
Pass only the faces you want folded (e.g. train + val of `assign_splits`) to fold a subset.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from deepfake_assets.splits.assign import drop_summary, search_summary
from deepfake_assets.splits.groups import (
    AGE_BINS,
    DEFAULT_STRATIFY,
    check_ratios,
    group_strata,
    label_faces,
    share_report,
    with_groups,
)
from deepfake_assets.splits.identity_graph import (
    DonorEdges,
    DonorPolicy,
    bridging_fakes,
    donors_merge_groups,
)
from deepfake_assets.splits.placement import dropped_faces, place_groups

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
    dropped: faces of fakes dropped under ``drop_bridging`` (not in `faces`), as in
        `SplitResult.dropped`, with place / donor_place ``<level>`` or ``<level>/<fold>``.
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
    dropped: pl.DataFrame = field(default_factory=pl.DataFrame)
    donors: str = DonorPolicy.GROUP.value
    donors_used: str = DonorPolicy.GROUP.value
    donor_fallback: str | None = None
    search: dict = field(default_factory=dict)

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
            "donors": self.donors,
            "donors_used": self.donors_used,
            "donor_fallback": self.donor_fallback or "none",
            "dropped": drop_summary(self.dropped),
            "drop_search": dict(self.search),
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
    donors: DonorPolicy | str = DonorPolicy.GROUP,
    search_restarts: int = 100,
) -> FoldResult:
    """Assign actor groups to level 1 / level 2 (`level_ratio`) and each level to `n_folds`
    folds of equal face count. Same input table as `assign_splits` (its output, e.g. the
    train + val faces with their split column, works too). The donor policy works as in
    `assign_splits`; a fake whose donor is in the other level or another fold of its level is
    dropped (``donor_in_other_level`` / ``donor_in_other_fold``) under ``drop_bridging``."""
    if n_folds < 1:
        raise ValueError("n_folds must be at least 1")
    level_ratio = check_ratios(level_ratio, 2)
    policy = DonorPolicy(donors)
    clash = [c for c in ("level", "fold") if c in faces.columns]
    if clash:
        raise ValueError(f"faces already has columns {clash}")
    base = label_faces(faces, age_bins)
    out_cols = [c for c in faces.columns if c != "group_id"]
    stratify_by = [a for a in stratify_by if a in base.columns or a == "age"]
    args = (level_ratio, n_folds, seed, stratify_by, exclude_test_only, tolerance, overall_weight)

    used, fallback = policy, None
    if policy is DonorPolicy.GROUP:
        df, _ = with_groups(base, donor_edges=True)
        plan = _fold_plan(df, None, *args, restarts=0)
        if plan.too_large and donors_merge_groups(base, df):
            used, fallback = DonorPolicy.DROP_BRIDGING, plan.too_large
    if used is not DonorPolicy.GROUP:
        df, nodes = with_groups(base, donor_edges=DonorEdges.of(used))
        bridging = bridging_fakes(df, nodes) if used is DonorPolicy.DROP_BRIDGING else None
        plan = _fold_plan(df, bridging, *args, restarts=search_restarts)
    groups, assign = plan.groups, plan.assign
    excluded_faces = int(groups.filter("excluded")["n_faces"].sum())
    groups = groups.join(assign, on="group_id", how="left")
    df = df.join(assign, on="group_id", how="left")
    dropped = plan.dropped
    if dropped.height:
        df = df.join(dropped.select("face_id"), on="face_id", how="anti")
    kept = df.filter(pl.col("level").is_not_null())
    notes: list[str] = []
    if fallback:
        n_fakes = dropped.select(pl.struct("source", "video_id").n_unique()).item()
        notes.append(
            f"donors: group cannot hold the fold ratios ({fallback}); fell back to "
            f"drop_bridging: {n_fakes} fakes ({dropped.height} faces) dropped"
        )
    lvl_idx, gids = plan.lvl_idx, plan.gids
    fold_ratio = [1.0 / n_folds] * n_folds

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
        groups=groups.drop("excluded"),
        level_report=level_report,
        fold_report=fold_report,
        level_ratio=tuple(level_ratio),
        n_folds=n_folds,
        seed=seed,
        excluded_faces=excluded_faces,
        warnings=notes,
        dropped=dropped,
        donors=policy.value,
        donors_used=used.value,
        donor_fallback=fallback,
        search=plan.search,
    )


@dataclass(frozen=True)
class _FoldPlan:
    groups: pl.DataFrame  # group_id, n_faces, n_actors, test_only, excluded
    gids: np.ndarray  # groups placed (not excluded)
    lvl_idx: np.ndarray  # level index per placed group
    assign: pl.DataFrame  # group_id, level, fold
    dropped: pl.DataFrame  # faces of dropped fakes (`placement.dropped_faces`)
    too_large: str | None
    search: dict


def _fold_plan(
    df: pl.DataFrame,
    bridging: pl.DataFrame | None,
    level_ratio: list[float],
    n_folds: int,
    seed: int,
    stratify_by: Sequence[str],
    exclude_test_only: bool,
    tolerance: float,
    overall_weight: float,
    *,
    restarts: int,
) -> _FoldPlan:
    """Levels, then folds within each level; with bridging fakes each step drops fewest."""
    groups = (
        df.group_by("group_id")
        .agg(
            pl.len().alias("n_faces"),
            pl.col("_a").n_unique().alias("n_actors"),
            pl.col("test_only").any().alias("test_only"),
        )
        .sort("group_id")
    )
    excluded = pl.col("test_only")
    if bridging is not None:  # a donor of a test-only fake appears in a test-only source
        excluded = excluded | pl.col("group_id").is_in(
            sorted(set(bridging.filter("test_only")["donor_group"].to_list()))
        )
    groups = groups.with_columns(
        (excluded if exclude_test_only else pl.lit(False)).alias("excluded")
    )
    keep = ~groups["excluded"].to_numpy()
    gids = groups["group_id"].to_numpy()[keep]
    sizes = groups["n_faces"].to_numpy().astype(np.int64)[keep]
    kept = df.join(
        pl.DataFrame({"group_id": pl.Series(gids, dtype=pl.Int64)}), on="group_id", how="semi"
    )
    strata, counts = group_strata(kept, stratify_by)
    common = dict(overall_weight=overall_weight, tolerance=tolerance, restarts=restarts)
    level = place_groups(
        gids, sizes, counts, strata, level_ratio, seed=seed, bridging=bridging,
        what="levels", **common,
    )  # fmt: skip
    lvl_idx = level.out
    reasons = [level.too_large]
    drops = [dropped_faces(df, level.bridges.filter("dropped"), LEVELS, "donor_in_other_level")]
    searches = {"levels": search_summary(level.search)}
    fold_idx = np.full(len(gids), -1, dtype=np.int64)
    fold_ratio = [1.0 / n_folds] * n_folds
    still = level.bridges.filter(~pl.col("dropped")) if bridging is not None else None
    for li, lvl in enumerate(LEVELS):
        sel = lvl_idx == li
        if not sel.any():
            continue
        fold = place_groups(
            gids[sel], sizes[sel], counts, strata, fold_ratio, seed=seed + 1 + li,
            bridging=still, what=f"folds of level {lvl}", **common,
        )  # fmt: skip
        fold_idx[sel] = fold.out
        reasons.append(fold.too_large)
        names = [f"{lvl}/{k}" for k in range(n_folds)]
        drops.append(
            dropped_faces(df, fold.bridges.filter("dropped"), names, "donor_in_other_fold")
        )
        searches[f"folds of level {lvl}"] = search_summary(fold.search)
    assign = pl.DataFrame(
        {
            "group_id": pl.Series(gids, dtype=pl.Int64),
            "level": pl.Series(np.asarray(LEVELS)[lvl_idx], dtype=pl.Int8),
            "fold": pl.Series(fold_idx, dtype=pl.Int8),
        }
    )
    too_large = "; ".join(r for r in reasons if r) or None
    return _FoldPlan(
        groups, gids, lvl_idx, assign, pl.concat(drops), too_large,
        {k: v for k, v in searches.items() if v},
    )  # fmt: skip
