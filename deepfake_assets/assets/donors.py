"""Whose faces a fake shows: the rebuilt donor faces per source (`fake_residuals`) and, over
every source, each fake's target and donor (`fake_identities`).

The matching lives in `identity/donors.py`, the rebuild in `identity/residual.py`, the picture
in `identity/figures.py`; these assets read the catalog, call them and write the tables.
"""

import dagster as dg

from deepfake_assets.assets import metadata as md
from deepfake_assets.jobs import DATASET, PER_SOURCE
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import ComputeResource, DataDirResource


class ResidualConfig(dg.Config):
    """`enabled`: rebuild donor faces from fake - original (off: no `residual` donors);
    `weights_path`: the facenet .pt file `face_embeddings` used, when it used one."""

    enabled: bool = True
    weights_path: str | None = None  # None: as `face_embeddings` (env / cache)
    faces_per_track: int = 8  # crop pairs rebuilt per fake track (4 found 2 donors fewer)
    tracks_per_task: int = 16


@dg.asset(
    partitions_def=source_partitions,
    group_name="identity",
    tags=PER_SOURCE,
    deps=["face_embeddings"],
    kinds={"pytorch", "parquet"},
    owners=["team:ml-research"],
    description=(
        "Per fake track whose dataset does not name the donor: the donor's face rebuilt from "
        "the fake's and its original's aligned crops (orig + gain x (fake - orig), the gain "
        "the largest that keeps the pixels in range), embedded by the model of "
        "`face_embeddings`. `fake_identities` matches it when the fake's own face is unclear "
        "(`donor_source` residual). Catalog table `fake_residuals`."
    ),
)
def fake_residuals(
    context: dg.AssetExecutionContext,
    config: ResidualConfig,
    data: DataDirResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    from deepfake_assets.identity import residual

    source = context.partition_key
    catalog = data.catalog()
    embeddings = data.require("embeddings", source, writer="face_embeddings")
    model = embeddings["model"][0] if embeddings.height else None
    videos, faces = catalog.read("videos", source), catalog.read("faces", source)
    todo = residual.fakes_to_rebuild(videos) if config.enabled else videos.head(0)
    pairs = residual.residual_pairs(faces, todo, config.faces_per_track)
    executor = compute.executor(0, compute.threads_per_worker)
    try:
        table = residual.rebuild_all(
            executor, source, model, config.weights_path, data.path(), pairs,
            config.tracks_per_task, context.log.info,
        )  # fmt: skip
    finally:
        executor.close()
    catalog.write("fake_residuals", table, source)
    return dg.MaterializeResult(
        metadata={
            "enabled": config.enabled,
            "num_tracks": table.height,
            "tracks_by_reason": md.counts(table, "reason"),
            "gain_median": float(table["gain"].median() or 0.0) if table.height else None,
            "model": model,
        }
    )


class FakeIdentityConfig(dg.Config):
    """Acceptance of a face-inferred donor; None = the measured default of the embedder."""

    min_target_shift: float | None = None
    min_margin: float | None = None


@dg.asset(
    group_name="identity",
    tags=DATASET,
    deps=["actor_clusters", "face_embeddings", "fake_residuals"],
    kinds={"python", "parquet"},
    owners=["team:ml-research"],
    description=(
        "One row per fake video over every source: its target (the original's actor, or the "
        "target its file name gives when the original is missing, or a pseudo-actor of its "
        "own) and its donor, the person whose face it shows: from the dataset's names "
        "(`donor_source` metadata), from its face (embedding: the fake's track moved away "
        "from its target towards one actor by a margin; thresholds measured on the demo) or "
        "from its donor's face rebuilt from fake - original (residual), with the distances. "
        "A generated face (entire-face synthesis) is never face-matched: donor only by name. "
        "Catalog table `fake_identities`."
    ),
)
def fake_identities(
    context: dg.AssetExecutionContext, config: FakeIdentityConfig, data: DataDirResource
) -> dg.MaterializeResult:
    from deepfake_assets.identity import donors
    from deepfake_assets.identity.figures import donors_picture
    from deepfake_assets.identity.residual import residual_means

    catalog = data.catalog()
    video_actors = catalog.read("video_actors")
    if video_actors.is_empty():
        raise dg.Failure("no actors yet: materialise `actor_clusters` first")
    embeddings = catalog.read("embeddings")
    fake_embeddings, rebuilt = catalog.read("fake_embeddings"), catalog.read("fake_residuals")
    mismatch = donors.model_mismatch(embeddings, fake_embeddings, rebuilt)
    if mismatch:
        raise dg.Failure(mismatch)
    model = embeddings["model"][0] if embeddings.height else None
    params = donors.default_donor_params(
        model, min_target_shift=config.min_target_shift, min_margin=config.min_margin
    )
    table = donors.identities_from_tables(
        catalog.read("videos"), video_actors, embeddings, fake_embeddings,
        residual_means(rebuilt), params,
    )  # fmt: skip
    catalog.write("fake_identities", table)
    metadata = {
        **donors.identities_summary(table),
        "model": model,
        "min_target_shift": params.min_target_shift,
        "min_margin": params.min_margin,
        "fake_identities": md.table(table, limit=30),
    }
    picture = donors_picture(table, video_actors, catalog.read("faces"), data.path())
    if picture is not None:
        metadata["fakes_target_donor"] = dg.MetadataValue.md(
            "fake | target's real face | donor's real face\n\n"
            + md.png_markdown(picture, "fakes, targets and donors")
        )
    context.log.info(f"{metadata['num_with_donor']} of {table.height} fakes have a donor")
    return dg.MaterializeResult(metadata=metadata)
