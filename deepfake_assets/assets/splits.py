"""Splits: identity-disjoint train/val/test and seed 001's level/fold scheme, with their checks."""

import warnings

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.assets.identity import kept_faces
from deepfake_assets.catalog import GLOBAL_TABLES, PARTITIONED_TABLES
from deepfake_assets.jobs import DATASET
from deepfake_assets.resources import DataDirResource
from deepfake_assets.splits import validation
from deepfake_assets.splits.assign import assign_splits
from deepfake_assets.splits.balance import rebalance
from deepfake_assets.splits.folds import assign_folds
from deepfake_assets.splits.identity_graph import DonorPolicy

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
]
FAKE_IDENTITIES = "fake_identities"  # written by the `fake_identities` asset, when present


class SplitConfig(dg.Config):
    """Ratios by face images; `pin_official_splits` puts videos where their dataset says,
    which can break identity-disjointness (the checks then say where). `donors`: `group`
    (a fake's donor is tied to its group; falls back to `drop_bridging` when that makes a
    group too large for the ratios), `drop_bridging` (fakes whose donor is in another split
    are dropped, as few as the search finds), `ignore` (donors play no part)."""

    train: float = 0.80
    val: float = 0.15
    test: float = 0.05
    seed: int = 0
    level_1: float = 0.85
    n_folds: int = 5
    pin_official_splits: bool = False
    donors: str = DonorPolicy.GROUP.value
    search_restarts: int = 100


def balanced_sources(catalog) -> list[str]:
    """Sources whose frame plan used the `balanced` strategy."""
    plans = catalog.read("frame_plans")
    if "strategy" not in plans.columns:
        return []
    return sorted(plans.filter(pl.col("strategy") == "balanced")["source"].unique().to_list())


def read_fake_identities(catalog) -> pl.DataFrame | None:
    """The `fake_identities` table (target and donor of every fake) if the catalog has one.

    Read through the catalog only when it knows the table, so this asset works with and
    without the asset that writes it."""
    if FAKE_IDENTITIES not in GLOBAL_TABLES + PARTITIONED_TABLES:
        return None
    table = catalog.read(FAKE_IDENTITIES)
    need = {"source", "video_id", "target_actor_id", "donor_actor_id"}
    if table.is_empty() or not need <= set(table.columns):
        return None
    return table.select(
        pl.col("source").cast(pl.Utf8),
        pl.col("video_id").cast(pl.Utf8),
        pl.col("target_actor_id").cast(pl.Utf8),
        pl.col("donor_actor_id").cast(pl.Utf8),
    ).unique(["source", "video_id"])


def faces_for_splitting(catalog) -> pl.DataFrame:
    """Kept faces with every person they show (the video's actor, the second person of a
    two-person video; for a fake, its target and donor from `fake_identities` when the catalog
    has it), demographics and the source's test-only flag."""
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
    cols = [c for c in ("actor_id", "second_actor_id") if c in actors.columns]
    if not actors.is_empty() and cols:
        table = table.join(
            actors.select("source", "video_id", *cols), on=["source", "video_id"], how="left"
        )
    for c in ("actor_id", "second_actor_id"):
        if c not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c))
    identities = read_fake_identities(catalog)
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


def drops_table(scope: str, dropped: pl.DataFrame) -> pl.DataFrame:
    """Rows of the `split_drops` table: scope (`splits` or `folds`) + DROP_COLUMNS."""
    if dropped.is_empty():
        return pl.DataFrame(schema={"scope": pl.Utf8, **DROP_COLUMNS})
    missing = [c for c in DROP_COLUMNS if c not in dropped.columns]
    dropped = dropped.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c) for c in missing)
    return dropped.select(
        pl.lit(scope).alias("scope"), *[pl.col(c).cast(t) for c, t in DROP_COLUMNS.items()]
    )


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
    try:
        policy = DonorPolicy(config.donors)
    except ValueError as exc:
        options = ", ".join(p.value for p in DonorPolicy)
        raise dg.Failure(f"donors must be one of {options}, got {config.donors!r}") from exc
    faces = faces_for_splitting(catalog)
    if faces.is_empty():
        raise dg.Failure("no kept faces to split: materialise the per-source assets first")
    donor_edges_from = (
        FAKE_IDENTITIES
        if read_fake_identities(catalog) is not None
        else f"none: no {FAKE_IDENTITIES} table in the catalog, so no donor edges"
    )
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
        result = assign_splits(
            table,
            (config.train, config.val, config.test),
            seed=config.seed,
            donors=policy,
            search_restarts=config.search_restarts,
        )
        splits = result.faces
        drops = [drops_table("splits", result.dropped)]
        if result.dropped.height and balanced:
            # the dropped fakes unbalance REAL/FAKE again: thin the larger class once more
            kept = rebalance(splits, balanced, seed=config.seed)
            thinned = splits.join(kept.select("face_id"), on="face_id", how="anti")
            reason = pl.lit("rebalanced_after_drops").alias("reason")
            drops.append(
                drops_table("splits", thinned.with_columns(pl.col("split").alias("place"), reason))
            )
            splits = kept
        # folds over the faces the splits keep: the export never holds a face twice decided
        folds = assign_folds(
            table.join(splits.select("face_id"), on="face_id", how="semi"),
            (config.level_1, 1 - config.level_1),
            n_folds=config.n_folds,
            seed=config.seed,
            donors=policy,
            search_restarts=config.search_restarts,
        )
        drops.append(drops_table("folds", folds.dropped))
    for w in caught:
        context.log.warning(str(w.message))
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
    split_drops = pl.concat(drops)
    catalog.write("splits", splits)
    catalog.write("folds", folds.faces)
    catalog.write("split_drops", split_drops)
    counts = splits.group_by("source", "split", "label").len().sort("source", "split", "label")
    by_reason = (
        split_drops.group_by("scope", "reason")
        .agg(pl.struct("source", "video_id").n_unique().alias("videos"), pl.len().alias("faces"))
        .sort("scope", "reason")
    )
    meta = result.metadata()
    registered = catalog.registered_sources()
    return dg.MaterializeResult(
        metadata={
            # the sources this build saw: `sources remove` of one of them makes it stale
            "sources": ", ".join(sorted(splits["source"].unique().to_list())),
            "registered_sources": ", ".join(sorted(registered or [])) or "no registry",
            **{k: v for k, v in meta.items() if k != "warnings"},
            "warnings": "\n".join(str(w.message) for w in caught) or "none",
            "donor_edges_from": donor_edges_from,
            "dropped_by_reason": md.table(by_reason, limit=50),
            "num_dropped_faces": split_drops.height,
            "folds": folds.metadata(),
            "faces_by_source_split_label": md.table(counts, limit=100),
            "report": md.table(result.report, limit=100),
            "pin_official_splits": config.pin_official_splits,
            "balanced_sources": ", ".join(balanced) or "none",
            "faces_thinned_for_balance": before - faces.height,
        }
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
    parts = []
    for where, table, leaks in (
        ("splits", catalog.read("splits"), validation.identities_in_two_splits),
        ("folds", catalog.read("folds"), validation.identities_in_two_folds),
    ):
        if table.is_empty():
            continue
        parts.append(
            leaks(table, donors=donors).select(
                pl.col("identity").alias("actor_id"),
                pl.lit(where).alias("where"),
                pl.col("places").list.join(",").alias("in"),
                pl.col("through").list.join(",").alias("through"),
                "n_faces",
                pl.col("videos").list.join(" ").alias("videos"),
            )
        )
    offenders = pl.concat(parts) if parts else pl.DataFrame()
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
    targets = meta.get("effective_ratios") or {"train": 0.80, "val": 0.15, "test": 0.05}
    pinning = meta.get("pinning") or {}
    extra = {
        "num_actors": actors,
        "targets": {k: round(float(v), 4) for k, v in targets.items()},
        "nominal": meta.get("ratios") or {"train": 0.80, "val": 0.15, "test": 0.05},
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
