"""Splits: identity-disjoint train/val/test and seed 001's level/fold scheme, with their checks."""

from typing import Literal

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.catalog import GLOBAL_TABLES, PARTITIONED_TABLES
from deepfake_assets.jobs import DATASET
from deepfake_assets.resources import DataDirResource
from deepfake_assets.splits import validation
from deepfake_assets.splits.dataset import (
    DEFAULT_LEVEL_1,
    DEFAULT_RATIOS,
    SplitSettings,
    balanced_sources,
    build_splits,
    faces_for_splitting,
    fake_identity_pairs,
    kept_faces,
)
from deepfake_assets.splits.identity_graph import DonorPolicy
from deepfake_assets.splits.reports import actors_per_split, leak_rows
from deepfake_assets.splits.swaps import UnknownDonors

FAKE_IDENTITIES = "fake_identities"  # written by the `fake_identities` asset, when present


class SplitConfig(dg.Config):
    """Ratios by face images; `pin_official_splits` puts videos where their dataset says,
    which can break identity-disjointness (the checks then say where). `donors`: `group`
    (a fake's donor is tied to its group; falls back to `drop_bridging` when that makes a
    group too large for the ratios), `drop_bridging` (fakes whose donor is in another split
    are dropped, as few as the search finds), `ignore` (donors play no part).
    `unknown_donors`: `drop` (default: a swap fake whose donor nobody knows is left out,
    reason `donor_unknown`: no person on two sides through any face the dataset shows) or
    `keep` (placed with its original; for unknown donors known to be nobody in the dataset)."""

    train: float = DEFAULT_RATIOS["train"]
    val: float = DEFAULT_RATIOS["val"]
    test: float = DEFAULT_RATIOS["test"]
    seed: int = 0
    level_1: float = DEFAULT_LEVEL_1
    n_folds: int = 5
    pin_official_splits: bool = False
    donors: Literal["group", "drop_bridging", "ignore"] = DonorPolicy.GROUP.value
    search_restarts: int = 100
    unknown_donors: Literal["keep", "drop"] = UnknownDonors.DROP.value


def read_fake_identities(catalog) -> pl.DataFrame | None:
    """The `fake_identities` table (target and donor of every fake) if the catalog has one.

    Read through the catalog only when it knows the table, so this asset works with and
    without the asset that writes it."""
    if FAKE_IDENTITIES not in GLOBAL_TABLES + PARTITIONED_TABLES:
        return None
    return fake_identity_pairs(catalog.read(FAKE_IDENTITIES))


@dg.asset(
    group_name="splits",
    tags=DATASET,
    deps=["actor_clusters", "duplicate_groups", "fake_groups", "fake_identities"],
    kinds={"python", "parquet"},
    owners=["team:ml-research"],
    description=(
        "train/val/test 80:15:5 by face images with every person in one split across all "
        "sources (the identity graph: a video's actors, the second person of two-person "
        "videos, a fake's target and donor), fakes with their originals, demographics "
        "stratified where given and every person of a test-only source in test; plus seed "
        "001's 85/15 level-1/level-2 x 5 folds. Catalog tables `splits`, `folds` and "
        "`split_drops` (faces dropped, with the reason)."
    ),
)
def fold_splits(
    context: dg.AssetExecutionContext, config: SplitConfig, data: DataDirResource
) -> dg.MaterializeResult:
    catalog = data.catalog()
    identities = read_fake_identities(catalog)
    faces = faces_for_splitting(
        kept_faces(catalog.read("faces"), catalog.read("duplicates")),
        catalog.read("videos"),
        catalog.read("video_actors"),
        identities,
    )
    if faces.is_empty():
        raise dg.Failure("no kept faces to split: materialise the per-source assets first")
    balanced = balanced_sources(catalog.read("frame_plans"))
    built = build_splits(faces, balanced, _settings(config))
    if built.thinned:
        context.log.info(
            f"{built.thinned} faces thinned so REAL == FAKE in balanced sources "
            f"({', '.join(balanced)})"
        )
    for message in built.warnings:
        context.log.warning(message)
    if config.pin_official_splits:
        context.log.warning(f"{built.pinned} faces pinned to their dataset's official split")
    catalog.write("splits", built.splits)
    catalog.write("folds", built.folds.faces)
    catalog.write("split_drops", built.drops)
    meta = built.result.metadata()
    registered = catalog.registered_sources()
    return dg.MaterializeResult(
        metadata={
            # the sources this build saw: `sources remove` of one of them makes it stale
            "sources": ", ".join(sorted(built.splits["source"].unique().to_list())),
            "registered_sources": ", ".join(sorted(registered or [])) or "no registry",
            **{k: v for k, v in meta.items() if k != "warnings"},
            "warnings": "\n".join(built.warnings) or "none",
            "donor_edges_from": FAKE_IDENTITIES
            if identities is not None
            else f"none: no {FAKE_IDENTITIES} table in the catalog, so no donor edges",
            "dropped_by_reason": md.table(built.drops_by_reason(), limit=50),
            "num_dropped_faces": built.drops.height,
            "folds": built.folds.metadata(),
            "faces_by_source_split_label": md.table(built.counts(), limit=100),
            "report": md.table(built.result.report, limit=100),
            "pin_official_splits": config.pin_official_splits,
            "balanced_sources": ", ".join(balanced) or "none",
            "faces_thinned_for_balance": built.thinned,
        }
    )


def _settings(config: SplitConfig) -> SplitSettings:
    return SplitSettings(
        ratios=(config.train, config.val, config.test),
        seed=config.seed,
        level_1=config.level_1,
        n_folds=config.n_folds,
        pin_official_splits=config.pin_official_splits,
        donors=DonorPolicy(config.donors),
        search_restarts=config.search_restarts,
        unknown_donors=UnknownDonors(config.unknown_donors),
    )


def latest_split_metadata(instance: dg.DagsterInstance) -> dict:
    """fold_splits' latest materialisation metadata (policy, effective targets) as values."""
    event = instance.get_latest_materialization_event(fold_splits.key)
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


@dg.asset_check(
    asset=fold_splits,
    blocking=True,
    description="No person in two splits, nor in two levels or two folds of one level, "
    "through any face: a video's actor, the second person of a two-person video, a fake's "
    "target or its donor (donors unless the policy is `ignore`).",
)
def no_identity_leakage(
    context: dg.AssetCheckExecutionContext, data: DataDirResource
) -> dg.AssetCheckResult:
    catalog = data.catalog()
    used = latest_split_metadata(context.instance).get("donors_used", DonorPolicy.GROUP.value)
    donors = used != DonorPolicy.IGNORE.value
    offenders = leak_rows(catalog.read("splits"), catalog.read("folds"), donors=donors)
    return md.rows_check(
        offenders.is_empty(),
        offenders,
        "people in more than one split or fold",
        donors_checked=donors,
        donor_policy=used,
    )


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
    balanced = balanced_sources(catalog.read("frame_plans"))
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
    description="Split shares within 5 points of the targets when there are at least "
    f"{MIN_ACTORS_FOR_RATIOS} actors: the effective targets left after the groups that "
    "test-only sources pin to test (the nominal ratios when those fit in the test share).",
)
def split_ratios(
    context: dg.AssetCheckExecutionContext, data: DataDirResource
) -> dg.AssetCheckResult:
    splits = data.catalog().read("splits")
    actors = splits["actor_id"].n_unique()
    meta = latest_split_metadata(context.instance)
    nominal = meta.get("ratios") or DEFAULT_RATIOS  # before any build: the config's defaults
    targets = meta.get("effective_ratios") or nominal
    pinning = meta.get("pinning") or {}
    extra = {
        "num_actors": actors,
        "targets": {k: round(float(v), 4) for k, v in targets.items()},
        "nominal": nominal,
        "faces_moved_to_test": int(pinning.get("faces_moved_to_test", 0)),
        "actors_moved_to_test": int(pinning.get("actors_moved_to_test", 0)),
    }
    if actors < MIN_ACTORS_FOR_RATIOS:
        return dg.AssetCheckResult(
            passed=True, metadata={**extra, "note": "too few actors to hold ratios to account"}
        )
    offenders = validation.ratio_misses(splits, targets, 0.05)
    return md.rows_check(offenders.is_empty(), offenders, "split shares off target", **extra)


@dg.asset_check(
    asset=fold_splits,
    blocking=False,
    description="Warns when the dataset is too small for its ratios.",
)
def dataset_size(data: DataDirResource) -> dg.AssetCheckResult:
    splits = data.catalog().read("splits")
    actors = splits["actor_id"].n_unique()
    per_split = actors_per_split(splits)
    return dg.AssetCheckResult(
        passed=actors >= MIN_ACTORS_FOR_RATIOS,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{actors} actors"
        + (
            ""
            if actors >= MIN_ACTORS_FOR_RATIOS
            else f": fewer than {MIN_ACTORS_FOR_RATIOS}, the split ratios can only be approximate"
        ),
        metadata={"num_actors": actors, "actors_per_split": md.table(per_split)},
    )
