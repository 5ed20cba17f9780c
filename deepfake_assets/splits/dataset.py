"""The whole split build over catalog tables: kept faces -> the people they show -> balance ->
splits -> folds -> the faces dropped on the way, with why.

The ``fold_splits`` asset reads the tables and writes the result; everything between is here,
so it can be called (and tested) on DataFrames without Dagster.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import polars as pl

from deepfake_assets.splits.assign import DEFAULT_RATIOS, SplitResult, assign_splits
from deepfake_assets.splits.balance import rebalance
from deepfake_assets.splits.folds import FoldResult, assign_folds
from deepfake_assets.splits.identity_graph import DonorPolicy
from deepfake_assets.splits.swaps import UnknownDonors, unknown_donor_faces

DEFAULT_LEVEL_1 = 0.85  # seed 001's level-1 share of the two-level fold scheme

SPLIT_COLUMNS = [
    "face_id",
    "source",
    "video_id",
    "original_video_id",
    "label",
    "frame_index",
    "track",
    "actor_id",
    "second_actor_id",
    "donor_actor_id",
    "gender",
    "age",
    "race",
    "test_only",
    "method",  # for `unknown_donors` (`swaps.is_identity_swap`); not in the tables written
]

DROP_COLUMNS = {
    "face_id": pl.Utf8,
    "source": pl.Utf8,
    "video_id": pl.Utf8,
    "original_video_id": pl.Utf8,
    "label": pl.Utf8,
    "actor_id": pl.Utf8,
    "donor_actor_id": pl.Utf8,
    "place": pl.Utf8,
    "donor_place": pl.Utf8,
    "reason": pl.Utf8,
}


def kept_faces(faces: pl.DataFrame, duplicates: pl.DataFrame) -> pl.DataFrame:
    """The ``faces`` rows later stages use: every face unless dropped as a duplicate.

    A face is dropped when its crop is a duplicate, or its frame is (a static frame).
    """
    if faces.is_empty() or duplicates.is_empty():
        return faces
    dropped = duplicates.filter(pl.col("is_duplicate") & pl.col("dropped"))
    dropped_faces = dropped.filter(pl.col("kind") == "face").select("face_id")
    dropped_frames = dropped.filter(pl.col("kind") == "frame").select(
        "source", "video_id", "frame_index"
    )
    return faces.join(dropped_faces, on="face_id", how="anti").join(
        dropped_frames, on=["source", "video_id", "frame_index"], how="anti"
    )


def balanced_sources(frame_plans: pl.DataFrame) -> list[str]:
    """Sources whose frame plan used the ``balanced`` strategy."""
    if "strategy" not in frame_plans.columns:
        return []
    balanced = frame_plans.filter(pl.col("strategy") == "balanced")
    return sorted(balanced["source"].unique().to_list())


def fake_identity_pairs(table: pl.DataFrame | None) -> pl.DataFrame | None:
    """Target and donor of every fake from a ``fake_identities`` table; None when there is no
    usable table (absent, empty or without the columns), so splits work without it."""
    need = {"source", "video_id", "target_actor_id", "donor_actor_id"}
    if table is None or table.is_empty() or not need <= set(table.columns):
        return None
    return table.select(
        pl.col("source").cast(pl.Utf8),
        pl.col("video_id").cast(pl.Utf8),
        pl.col("target_actor_id").cast(pl.Utf8),
        pl.col("donor_actor_id").cast(pl.Utf8),
    ).unique(["source", "video_id"])


def faces_for_splitting(
    faces: pl.DataFrame,
    videos: pl.DataFrame,
    video_actors: pl.DataFrame,
    identities: pl.DataFrame | None,
) -> pl.DataFrame:
    """Kept ``faces`` with every person they show (the video's actor, the second person of a
    two-person video; for a fake, its target and donor from ``identities``, the output of
    ``fake_identity_pairs``), demographics, the method and the source's test-only flag."""
    if faces.is_empty():
        return faces
    videos = videos.select(
        "source",
        "video_id",
        "original_video_id",
        "gender",
        "age",
        "race",
        "official_split",
        "test_only",
        *(["method"] if "method" in videos.columns else []),
    )
    table = faces.join(videos, on=["source", "video_id"], how="left")
    cols = [c for c in ("actor_id", "second_actor_id") if c in video_actors.columns]
    if not video_actors.is_empty() and cols:
        table = table.join(
            video_actors.select("source", "video_id", *cols),
            on=["source", "video_id"],
            how="left",
        )
    for c in ("actor_id", "second_actor_id"):
        if c not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c))
    if identities is not None:
        table = (
            table.join(identities, on=["source", "video_id"], how="left")
            # a fake shows its target: for an orphan that is not the actor its face matched
            # (the donor's) but the target fake_identities names (or a pseudo-actor)
            .with_columns(pl.coalesce("target_actor_id", "actor_id").alias("actor_id"))
            .drop("target_actor_id")
        )
    else:
        table = table.with_columns(pl.lit(None, dtype=pl.Utf8).alias("donor_actor_id"))
    return table.with_columns(
        pl.col("test_only").fill_null(False),
        # a fake's own metadata rarely has demographics: take nothing we do not know
        pl.col("age").cast(pl.Float64, strict=False),
    )


def drops_table(scope: str, dropped: pl.DataFrame) -> pl.DataFrame:
    """Rows of the ``split_drops`` table: scope (``splits`` or ``folds``) + DROP_COLUMNS."""
    if dropped.is_empty():
        return pl.DataFrame(schema={"scope": pl.Utf8, **DROP_COLUMNS})
    missing = [c for c in DROP_COLUMNS if c not in dropped.columns]
    dropped = dropped.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c) for c in missing)
    return dropped.select(
        pl.lit(scope).alias("scope"), *[pl.col(c).cast(t) for c, t in DROP_COLUMNS.items()]
    )


@dataclass(frozen=True)
class SplitSettings:
    """What ``build_splits`` needs of the asset's config."""

    ratios: tuple[float, float, float] = tuple(DEFAULT_RATIOS.values())  # type: ignore[assignment]
    seed: int = 0
    level_1: float = DEFAULT_LEVEL_1
    n_folds: int = 5
    pin_official_splits: bool = False
    donors: DonorPolicy = DonorPolicy.GROUP
    search_restarts: int = 100
    unknown_donors: UnknownDonors = UnknownDonors.DROP  # fold_splits' default


@dataclass
class SplitBuild:
    """``build_splits``' result: the tables to write and what the asset reports."""

    splits: pl.DataFrame
    folds: FoldResult
    drops: pl.DataFrame  # the ``split_drops`` table
    result: SplitResult
    warnings: list[str]
    thinned: int  # faces thinned so REAL == FAKE in balanced sources, before splitting
    pinned: int  # faces put in their dataset's official split (pin_official_splits)

    def counts(self) -> pl.DataFrame:
        """Faces per source, split and label."""
        return (
            self.splits.group_by("source", "split", "label").len().sort("source", "split", "label")
        )

    def drops_by_reason(self) -> pl.DataFrame:
        """Dropped videos and faces per scope (splits / folds) and reason."""
        return (
            self.drops.group_by("scope", "reason")
            .agg(
                pl.struct("source", "video_id").n_unique().alias("videos"),
                pl.len().alias("faces"),
            )
            .sort("scope", "reason")
        )


def build_splits(faces: pl.DataFrame, balanced: list[str], settings: SplitSettings) -> SplitBuild:
    """Balance, split and fold ``faces`` (``faces_for_splitting``'s table).

    Warnings the search raises (ratios missed, small datasets) are collected, not shown, so
    the caller can log them and keep them with the result.
    """
    before = faces.height
    # balance what will be placed: the fakes `unknown_donors: drop` leaves out (all their faces
    # recorded) are not drawn on, so they cost no real face where fakes outnumber reals
    held = faces.head(0)
    if settings.unknown_donors is UnknownDonors.DROP:
        held = faces.filter(unknown_donor_faces(faces))
    faces = pl.concat(
        [rebalance(faces.join(held.select("face_id"), on="face_id", how="anti"), balanced,
                   seed=settings.seed), held]
    )  # fmt: skip
    thinned = before - faces.height
    table = faces.select([c for c in SPLIT_COLUMNS if c in faces.columns])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = assign_splits(
            table,
            settings.ratios,
            seed=settings.seed,
            donors=settings.donors,
            search_restarts=settings.search_restarts,
            unknown_donors=settings.unknown_donors,
        )
        splits = result.faces
        drops = [drops_table("splits", result.dropped)]
        if result.dropped.height and balanced:
            # the dropped fakes (donor elsewhere or unknown) unbalance REAL/FAKE again: thin
            # the larger class once more
            kept = rebalance(splits, balanced, seed=settings.seed)
            again = splits.join(kept.select("face_id"), on="face_id", how="anti")
            reason = pl.lit("rebalanced_after_drops").alias("reason")
            drops.append(
                drops_table("splits", again.with_columns(pl.col("split").alias("place"), reason))
            )
            splits = kept
        # folds over the faces the splits keep: the export never holds a face twice decided
        folds = assign_folds(
            table.join(splits.select("face_id"), on="face_id", how="semi").drop(
                "method", strict=False
            ),
            (settings.level_1, 1 - settings.level_1),
            n_folds=settings.n_folds,
            seed=settings.seed,
            donors=settings.donors,
            search_restarts=settings.search_restarts,
        )
        drops.append(drops_table("folds", folds.dropped))
    pinned = 0
    if settings.pin_official_splits:
        pins = faces.select("face_id", "official_split").filter(
            pl.col("official_split").is_in(["train", "val", "test"])
        )
        splits = (
            splits.join(pins, on="face_id", how="left")
            .with_columns(pl.coalesce("official_split", "split").alias("split"))
            .drop("official_split")
        )
        pinned = pins.height
    return SplitBuild(
        splits=splits,
        folds=folds,
        drops=pl.concat(drops),
        result=result,
        warnings=[str(w.message) for w in caught],
        thinned=thinned,
        pinned=pinned,
    )
