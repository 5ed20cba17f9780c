"""Splits: actor-disjoint train/val/test and seed 001's level/fold scheme, with their checks."""

import warnings

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.assets.identity import kept_faces
from deepfake_assets.jobs import DATASET
from deepfake_assets.resources import DataDirResource
from deepfake_assets.splits import validation
from deepfake_assets.splits.assign import assign_splits
from deepfake_assets.splits.balance import rebalance
from deepfake_assets.splits.folds import assign_folds

SPLIT_COLUMNS = [
    "face_id",
    "source",
    "video_id",
    "original_video_id",
    "label",
    "frame_index",
    "track",
    "actor_id",
    "gender",
    "age",
    "race",
    "test_only",
]


class SplitConfig(dg.Config):
    """Ratios by face images; `pin_official_splits` puts videos where their dataset says,
    which can break actor-disjointness (the checks then say where)."""

    train: float = 0.80
    val: float = 0.15
    test: float = 0.05
    seed: int = 0
    level_1: float = 0.85
    n_folds: int = 5
    pin_official_splits: bool = False


def balanced_sources(catalog) -> list[str]:
    """Sources whose frame plan used the `balanced` strategy."""
    plans = catalog.read("frame_plans")
    if "strategy" not in plans.columns:
        return []
    return sorted(plans.filter(pl.col("strategy") == "balanced")["source"].unique().to_list())


def faces_for_splitting(catalog) -> pl.DataFrame:
    """Kept faces with their actor, demographics and the source's test-only flag."""
    faces = kept_faces(catalog)
    if faces.is_empty():
        return faces
    videos = catalog.read("videos").select(
        "source",
        "video_id",
        "original_video_id",
        "gender",
        "age",
        "race",
        "official_split",
        "test_only",
    )
    actors = catalog.read("video_actors")
    table = faces.join(videos, on=["source", "video_id"], how="left")
    if not actors.is_empty():
        table = table.join(
            actors.select("source", "video_id", "actor_id"), on=["source", "video_id"], how="left"
        )
    else:
        table = table.with_columns(pl.lit(None, dtype=pl.Utf8).alias("actor_id"))
    return table.with_columns(
        pl.col("test_only").fill_null(False),
        # a fake's own metadata rarely has demographics: take nothing we do not know
        pl.col("age").cast(pl.Float64, strict=False),
    )


@dg.asset(
    group_name="splits",
    tags=DATASET,
    deps=["actor_clusters", "duplicate_groups", "fake_groups"],
    kinds={"python", "parquet"},
    owners=["team:ml-research"],
    description=(
        "train/val/test 80:15:5 by face images with every actor in one split across all "
        "sources, fakes with their originals, demographics stratified where given and "
        "test-only sources in test; plus seed 001's 85/15 level-1/level-2 x 5 folds. "
        "Catalog tables `splits` and `folds`."
    ),
)
def fold_splits(
    context: dg.AssetExecutionContext, config: SplitConfig, data: DataDirResource
) -> dg.MaterializeResult:
    catalog = data.catalog()
    faces = faces_for_splitting(catalog)
    if faces.is_empty():
        raise dg.Failure("no kept faces to split: materialise the per-source assets first")
    balanced = balanced_sources(catalog)
    before = faces.height
    faces = rebalance(faces, balanced, seed=config.seed)
    if before != faces.height:
        context.log.info(
            f"{before - faces.height} faces thinned so REAL == FAKE in balanced sources "
            f"({', '.join(balanced)})"
        )
    table = faces.select([c for c in SPLIT_COLUMNS if c in faces.columns])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = assign_splits(table, (config.train, config.val, config.test), seed=config.seed)
        folds = assign_folds(
            table,
            (config.level_1, 1 - config.level_1),
            n_folds=config.n_folds,
            seed=config.seed,
        )
    for w in caught:
        context.log.warning(str(w.message))
    splits = result.faces
    if config.pin_official_splits:
        pins = faces.select("face_id", "official_split").filter(
            pl.col("official_split").is_in(["train", "val", "test"])
        )
        splits = (
            splits.join(pins, on="face_id", how="left")
            .with_columns(pl.coalesce("official_split", "split").alias("split"))
            .drop("official_split")
        )
        context.log.warning(f"{pins.height} faces pinned to their dataset's official split")
    catalog.write("splits", splits)
    catalog.write("folds", folds.faces)
    counts = splits.group_by("source", "split", "label").len().sort("source", "split", "label")
    registered = catalog.registered_sources()
    return dg.MaterializeResult(
        metadata={
            # the sources this build saw: `sources remove` of one of them makes it stale
            "sources": ", ".join(sorted(splits["source"].unique().to_list())),
            "registered_sources": ", ".join(sorted(registered or [])) or "no registry",
            **{k: v for k, v in result.metadata().items() if k != "warnings"},
            "warnings": "\n".join(str(w.message) for w in caught) or "none",
            "folds": folds.metadata(),
            "faces_by_source_split_label": md.table(counts, limit=100),
            "report": md.table(result.report, limit=100),
            "pin_official_splits": config.pin_official_splits,
            "balanced_sources": ", ".join(balanced) or "none",
            "faces_thinned_for_balance": before - faces.height,
        }
    )


@dg.asset_check(
    asset=fold_splits,
    blocking=True,
    description="No actor in two splits, and no actor in two folds of one level.",
)
def no_actor_leakage(data: DataDirResource) -> dg.AssetCheckResult:
    catalog = data.catalog()
    splits = validation.actors_in_two_splits(catalog.read("splits")).with_columns(
        pl.col("splits").list.join(",")
    )
    folds = validation.actors_in_two_folds(catalog.read("folds")).with_columns(
        pl.col("places").list.join(",")
    )
    offenders = pl.concat(
        [
            splits.select(
                "actor_id", pl.lit("splits").alias("where"), pl.col("splits").alias("in"), "n_faces"
            ),
            folds.select(
                "actor_id", pl.lit("folds").alias("where"), pl.col("places").alias("in"), "n_faces"
            ),
        ]
    )
    return md.rows_check(offenders.is_empty(), offenders, "actors in more than one split or fold")


@dg.asset_check(
    asset=fold_splits, blocking=True, description="Every fake is in the same split as its original."
)
def fakes_with_their_originals(data: DataDirResource) -> dg.AssetCheckResult:
    offenders = validation.fakes_outside_original_split(data.catalog().read("splits"))
    offenders = offenders.with_columns(
        pl.col("splits").list.join(","), pl.col("original_splits").list.join(",")
    )
    return md.rows_check(offenders.is_empty(), offenders, "fakes outside their original's split")


@dg.asset_check(
    asset=fold_splits,
    blocking=True,
    description="No near-duplicate face crop (pHash within the dedup threshold) in two splits.",
)
def no_near_duplicates_across_splits(data: DataDirResource) -> dg.AssetCheckResult:
    catalog = data.catalog()
    duplicates = catalog.read("duplicates")
    threshold = int(duplicates["threshold"][0]) if "threshold" in duplicates.columns else 4
    offenders = validation.near_duplicates_across_splits(
        catalog.read("hashes"), catalog.read("splits"), threshold
    )
    return md.rows_check(
        offenders.is_empty(),
        offenders,
        "near-duplicate faces across splits",
        threshold_bits=threshold,
    )


@dg.asset_check(
    asset=fold_splits,
    blocking=True,
    description="Real and fake face counts balanced (within 10%) in every source "
    "sampled with the balanced strategy.",
)
def real_fake_balance(data: DataDirResource) -> dg.AssetCheckResult:
    catalog = data.catalog()
    balanced = balanced_sources(catalog)
    offenders = validation.real_fake_imbalance(catalog.read("splits"), balanced, 0.10)
    return md.rows_check(
        offenders.is_empty(),
        offenders,
        "sources out of real/fake balance",
        balanced_sources=", ".join(balanced) or "none",
    )


@dg.asset_check(
    asset=fold_splits,
    blocking=True,
    description="Every row of `splits` and `folds` belongs to a registered source. Fails when "
    "a source is removed after fold_splits was built: re-materialise fold_splits.",
)
def splits_sources_registered(data: DataDirResource) -> dg.AssetCheckResult:
    catalog = data.catalog()
    registered = catalog.registered_sources()
    offenders = validation.rows_of_unregistered_sources(
        catalog.read("splits"), catalog.read("folds"), registered
    )
    return md.rows_check(
        offenders.is_empty(),
        offenders,
        "split and fold rows of sources no longer registered",
        registered_sources=", ".join(sorted(registered or [])) or "no registry",
    )


MIN_ACTORS_FOR_RATIOS = 20


@dg.asset_check(
    asset=fold_splits,
    blocking=True,
    description="Split shares within 5 points of 80:15:5 when there are at least "
    f"{MIN_ACTORS_FOR_RATIOS} actors.",
)
def split_ratios(data: DataDirResource) -> dg.AssetCheckResult:
    splits = data.catalog().read("splits")
    actors = splits["actor_id"].n_unique()
    if actors < MIN_ACTORS_FOR_RATIOS:
        return dg.AssetCheckResult(
            passed=True,
            metadata={"num_actors": actors, "note": "too few actors to hold ratios to account"},
        )
    offenders = validation.ratio_misses(splits, {"train": 0.80, "val": 0.15, "test": 0.05}, 0.05)
    return md.rows_check(
        offenders.is_empty(), offenders, "split shares off target", num_actors=actors
    )


@dg.asset_check(
    asset=fold_splits,
    blocking=False,
    description="Warns when the dataset is too small for its ratios.",
)
def dataset_size(data: DataDirResource) -> dg.AssetCheckResult:
    splits = data.catalog().read("splits")
    actors = splits["actor_id"].n_unique()
    per_split = splits.group_by("split").agg(pl.col("actor_id").n_unique().alias("actors"))
    return dg.AssetCheckResult(
        passed=actors >= MIN_ACTORS_FOR_RATIOS,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{actors} actors"
        + (
            ""
            if actors >= MIN_ACTORS_FOR_RATIOS
            else f": fewer than {MIN_ACTORS_FOR_RATIOS}, the 80:15:5 ratios can only be approximate"
        ),
        metadata={"num_actors": actors, "actors_per_split": md.table(per_split)},
    )
