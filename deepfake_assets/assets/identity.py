"""Identity: perceptual hashes and duplicate groups, face embeddings and actor clusters.

Hashes and embeddings are per source dataset; duplicate groups and actors are computed over every
source at once, because the same video can ship in two datasets and the same person can act in
both.
"""

import time
from typing import Literal

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.compute import per_process, seconds_per_item, summarise_seconds
from deepfake_assets.compute.batches import BatchFailed, sparse_progress
from deepfake_assets.identity.actors import (
    ActorRun,
    cluster_actors,
    cluster_params,
    cluster_sizes,
    duplicates_table,
    hash_items,
    readable_disagreements,
    single_model,
    tracks_with_actors,
)
from deepfake_assets.identity.dedup import DedupParams, group_duplicates
from deepfake_assets.identity.figures import actor_faces_picture, tsne_picture
from deepfake_assets.jobs import DATASET, PER_SOURCE
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import ComputeResource, DataDirResource


@dg.asset(
    partitions_def=source_partitions,
    group_name="identity",
    tags=PER_SOURCE,
    deps=["face_crops"],
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    description=(
        "64-bit perceptual hashes (pHash) of every sampled frame and every 160x160 face crop, "
        "for duplicate detection. Catalog table `hashes`."
    ),
)
def dedup_hashes(context: dg.AssetExecutionContext, data: DataDirResource) -> dg.MaterializeResult:
    source_name = context.partition_key
    catalog = data.catalog()
    # empty tables (a source with no usable video) give an empty `hashes` table, same schema
    faces = data.require("faces", source_name, writer="face_detections")
    frames = data.require("frames", source_name, writer="face_detections")
    videos = data.require("videos", source_name, writer="videos")
    start = time.perf_counter()
    items = hash_items(faces, frames, videos)
    catalog.write("hashes", items, source_name)
    elapsed = time.perf_counter() - start
    return dg.MaterializeResult(
        metadata={
            "num_face_hashes": faces.height,
            "num_frame_hashes": frames.height,
            "hash": "pHash 64-bit (32x32 DCT, 8x8 low frequencies, median threshold)",
            "seconds": round(elapsed, 2),
        }
    )


class DedupConfig(dg.Config):
    """Duplicate grouping: Hamming threshold (bits of 64) and what to do with duplicates."""

    threshold: int = 4
    drop_duplicates: bool = True  # False: report groups but keep every face in the dataset


@dg.asset(
    group_name="identity",
    tags=DATASET,
    deps=["dedup_hashes"],
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    description=(
        "Exact and near-duplicate groups over every source (static consecutive frames, frames "
        "sampled twice, the same video shipped in two datasets), never linking a fake with its "
        "original or a sibling fake. Decision table `duplicates`: every duplicate points to the "
        "item kept, with the reason; later assets read only kept faces."
    ),
)
def duplicate_groups(
    context: dg.AssetExecutionContext, config: DedupConfig, data: DataDirResource
) -> dg.MaterializeResult:
    catalog = data.catalog()
    items = catalog.read("hashes")
    if items.is_empty():
        raise dg.Failure("no hashes yet: materialise `dedup_hashes` for at least one source")
    start = time.perf_counter()
    result = group_duplicates(items, DedupParams(threshold=config.threshold))
    elapsed = time.perf_counter() - start
    decisions = duplicates_table(result, items, config.drop_duplicates, config.threshold)
    catalog.write("duplicates", decisions)
    dups = decisions.filter(pl.col("is_duplicate"))
    context.log.info(f"{dups.height} duplicates among {items.height} items in {elapsed:.1f}s")
    return dg.MaterializeResult(
        metadata={
            "num_items": items.height,
            "num_duplicates": dups.height,
            "num_groups": result.groups.height,
            "by_reason": md.counts(dups, "kind", "reason_code"),
            "cross_dataset_video_matches": md.table(result.video_matches),
            "examples": md.table(
                dups.select("item_id", "kept_item_id", "reason", "distance"),
                limit=20,
                where="catalog table duplicates",
            ),
            "threshold_bits": config.threshold,
            "drop_duplicates": config.drop_duplicates,
            "seconds": round(elapsed, 2),
        }
    )


class EmbeddingConfig(dg.Config):
    """Identity model: `auto` uses facenet (vggface2) when its weights load, else dlib.
    `fake_faces_per_track`: crops of each fake track embedded for donor matching (0: none)."""

    model: Literal["auto", "facenet", "dlib"] = "auto"
    weights_path: str | None = None  # a facenet .pt file; None: $DEEPFAKE_FACENET_WEIGHTS / cache
    batch_size: int = 64
    fake_faces_per_track: int = 4


def _embed(
    context, executor, spec, dim: int, data_dir, faces: pl.DataFrame, batch_size: int, what: str
):
    """`embed_faces` with progress lines, and a Failure that names the batch that failed."""
    from deepfake_assets.identity.embed_tasks import embed_faces

    def progress(n: int, total: int) -> None:
        if sparse_progress(n, total):
            context.log.info(f"embedded {n}/{total} batches of {what}")

    try:
        return embed_faces(executor, spec, dim, data_dir, faces, batch_size, progress)
    except BatchFailed as exc:
        first = faces["crop_160"][exc.start]
        raise dg.Failure(
            f"embedding {what}: the batch of {first} and the next {exc.size - 1} crops "
            f"failed: {exc.error}"
        ) from exc


@dg.asset(
    partitions_def=source_partitions,
    group_name="identity",
    tags=PER_SOURCE,
    deps=["face_crops"],
    kinds={"pytorch", "parquet"},
    owners=["team:ml-research"],
    description=(
        "Identity embeddings of the 160x160 crops of real videos (and of fakes whose original "
        "is missing): facenet-pytorch InceptionResnetV1 (vggface2) when its weights are "
        "available, else dlib's face recognition ResNet. Every row records its model. "
        "Catalog table `embeddings`; a few crops per fake track (`fake_faces_per_track`) by "
        "the same model in `fake_embeddings`, for donor matching only. Generated faces "
        "(entire-face synthesis: StyleGAN, PGGAN) are embedded in neither: they show nobody."
    ),
)
def face_embeddings(
    context: dg.AssetExecutionContext,
    config: EmbeddingConfig,
    data: DataDirResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    from deepfake_assets.identity.embed_tasks import embedding_inputs, spec_for
    from deepfake_assets.identity.embedders import load_embedder

    source_name = context.partition_key
    catalog, data_dir = data.catalog(), data.path()
    faces = data.require("faces", source_name, writer="face_crops")  # empty: empty table
    roles = data.require("face_videos", source_name, writer="face_crops")
    videos = data.require("videos", source_name, writer="videos")  # methods: synthesis is left out
    wanted, fakes = embedding_inputs(faces, roles, config.fake_faces_per_track, videos)
    embedder = load_embedder(config.model, weights_path=config.weights_path)
    spec = spec_for(embedder, config.weights_path)
    per_process(("embedder", spec), lambda: embedder)  # the local backend reuses this one
    executor = compute.executor(0, compute.threads_per_worker)
    context.log.info(
        f"embedding {wanted.height} faces with {embedder.name} on the {executor.backend} backend"
    )
    start = time.perf_counter()
    try:
        ran_on = executor.workers()
        args = (context, executor, spec, embedder.dim, data_dir)
        table, timings = _embed(*args, wanted, config.batch_size, "faces")
        elapsed = time.perf_counter() - start
        # by the same model, for `fake_identities` to tell whose face a fake shows
        fake_table, fake_timings = _embed(
            *args, fakes, config.batch_size, "fake faces (donor matching)"
        )
    finally:
        executor.close()
    catalog.write("embeddings", table, source_name)
    catalog.write("fake_embeddings", fake_table, source_name)
    spent = seconds_per_item(timings + fake_timings)
    timing = summarise_seconds(spent, time.perf_counter() - start)
    return dg.MaterializeResult(
        metadata={
            "model": embedder.name,
            "dim": embedder.dim,
            "num_embeddings": table.height,
            "num_fake_embeddings": fake_table.height,
            "fake_faces_per_track": config.fake_faces_per_track,
            "embeddings_per_second": round(table.height / elapsed, 1) if elapsed > 0 else None,
            "backend": executor.backend,
            "workers": ran_on,
            **timing.to_metadata("video"),
        }
    )


class ActorConfig(dg.Config):
    """Actor clustering: `dbscan_cosine` on track means (scales to 200k), `tsne_dbscan` (seed
    001's method, see README's glossary) or `hdbscan_cosine`. `eps` / `min_samples` None =
    the measured defaults of the embedder (`identity.clustering.default_params`)."""

    method: Literal["dbscan_cosine", "tsne_dbscan", "hdbscan_cosine"] = "dbscan_cosine"
    eps: float | None = None
    min_samples: int | None = None
    merge_on_hints: bool = True


@dg.asset(
    group_name="identity",
    tags=DATASET,
    deps=["face_embeddings"],
    kinds={"scikitlearn", "parquet"},
    owners=["team:ml-research"],
    check_specs=[
        dg.AssetCheckSpec(
            "clusters_agree_with_dataset_identities",
            asset="actor_clusters",
            description="Warns where clusters and dataset-provided identities disagree.",
        )
    ],
    description=(
        "One identity space over every source: face-track embeddings clustered into actors "
        "(DBSCAN on cosine distance by default, seed 001's t-SNE + DBSCAN on request), noise "
        "kept as singleton actors, clusters merged where a dataset says two videos show the "
        "same person. Every real video gets one actor (its main track's; a second person is "
        "recorded) and every fake its original's; a generated item (StyleGAN, PGGAN) is never "
        "clustered and keeps a pseudo-actor of its own. Tables `actors` and `video_actors`."
    ),
)
def actor_clusters(context: dg.AssetExecutionContext, config: ActorConfig, data: DataDirResource):
    catalog = data.catalog()
    embeddings = catalog.read("embeddings")
    if embeddings.is_empty():
        raise dg.Failure("no embeddings yet: materialise `face_embeddings` first")
    try:
        model = single_model(embeddings)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    params = cluster_params(model, config.method, config.eps, config.min_samples)
    faces = catalog.read("faces")
    run = cluster_actors(
        embeddings,
        catalog.read("videos").filter(pl.col("status") == "ok"),
        catalog.read("face_videos"),
        faces,
        params,
        merge_on_hints=config.merge_on_hints,
    )
    catalog.write("video_actors", run.video_actors)
    catalog.write("actors", run.actors)
    metadata = _actor_metadata(run, embeddings, faces, data.path())
    yield dg.MaterializeResult(metadata=metadata)
    disagreements = run.assignment.disagreements
    yield dg.AssetCheckResult(
        check_name="clusters_agree_with_dataset_identities",
        passed=disagreements.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{disagreements.height} disagreements between clusters and dataset ids",
        metadata={
            "num_disagreements": disagreements.height,
            "disagreements": md.table(readable_disagreements(disagreements), limit=20),
        },
    )


def _actor_metadata(run: ActorRun, embeddings: pl.DataFrame, faces: pl.DataFrame, data_dir) -> dict:
    """Counts, the actors table, a t-SNE of the tracks and faces of actors seen more than once."""
    stats = run.assignment.stats
    metadata = {
        "num_actors": run.actors.height,
        "num_tracks": run.tracks.height,
        "model": run.model,
        "method": run.params.method,
        "params": {k: str(v) for k, v in stats["params"].items()},
        "num_noise_tracks_as_singletons": stats["n_noise_tracks"],
        "seconds": round(run.seconds, 2),
        "cluster_sizes_real_videos": cluster_sizes(run.actors),
        "actors": md.table(run.actors, limit=50, where="catalog table actors"),
        "tsne": dg.MetadataValue.md(
            md.figure_markdown(
                tsne_picture(
                    tracks_with_actors(run.tracks, run.assignment.tracks, embeddings),
                    faces,
                    data_dir,
                ),
                "t-SNE of face tracks",
            )
        ),
    }
    picture = actor_faces_picture(run.video_actors, faces, data_dir)
    if picture is not None:
        metadata["same_actor_in_several_videos"] = dg.MetadataValue.md(
            "A row per actor (most real videos first): up to 6 faces taken in turn from its "
            "real videos.\n\n" + md.png_markdown(picture, "actors")
        )
    return metadata
