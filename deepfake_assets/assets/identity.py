"""Identity: perceptual hashes and duplicate groups, face embeddings and actor clusters.

Hashes and embeddings are per source dataset; duplicate groups and actors are computed over every
source at once, because the same video can ship in two datasets and the same person can act in
both.
"""

import time

import dagster as dg
import numpy as np
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.identity.dedup import DedupParams, group_duplicates
from deepfake_assets.identity.hashing import phash_batch, to_int64
from deepfake_assets.jobs import DATASET, PER_SOURCE
from deepfake_assets.media.images import read_png
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import DataDirResource

HASH_BATCH = 512


def family_expr() -> pl.Expr:
    """A real video and its fakes share one family: the original's id (namespaced by source)."""
    return (
        pl.col("source")
        + "/"
        + pl.when(pl.col("label") == "FAKE")
        .then(pl.coalesce("original_video_id", "video_id"))
        .otherwise(pl.col("video_id"))
    )


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
    data_dir = data.path()
    faces = catalog.read("faces", source_name)
    frames = catalog.read("frames", source_name)
    videos = catalog.read("videos", source_name).select("video_id", "original_video_id")
    start = time.perf_counter()
    face_hashes: list[np.ndarray] = []
    paths = faces["crop_160"].to_list() if faces.height else []
    for lo in range(0, len(paths), HASH_BATCH):
        batch = [read_png(data_dir / p) for p in paths[lo : lo + HASH_BATCH]]
        face_hashes.append(phash_batch(batch))
        context.log.info(f"hashed {min(lo + HASH_BATCH, len(paths))}/{len(paths)} face crops")
    face_items = pl.DataFrame()
    if faces.height:
        face_items = faces.select(
            pl.col("face_id").alias("item_id"),
            pl.lit("face").alias("kind"),
            "source",
            "video_id",
            "frame_index",
            "track",
            "label",
            pl.col("face_id"),
            pl.Series("hash", to_int64(np.concatenate(face_hashes)), dtype=pl.Int64),
        )
    frame_items = pl.DataFrame()
    if frames.height:
        frame_items = frames.select(
            (
                pl.col("source")
                + "/"
                + pl.col("video_id")
                + "/"
                + pl.col("frame_index").cast(pl.Utf8).str.zfill(6)
            ).alias("item_id"),
            pl.lit("frame").alias("kind"),
            "source",
            "video_id",
            "frame_index",
            pl.lit(None, dtype=pl.Int32).alias("track"),
            "label",
            pl.lit(None, dtype=pl.Utf8).alias("face_id"),
            pl.col("phash").alias("hash"),
        )
    items = pl.concat([t for t in (face_items, frame_items) if t.height], how="diagonal_relaxed")
    if items.is_empty():
        raise dg.Failure(f"{source_name!r} has no faces or frames to hash")
    items = items.join(videos, on="video_id", how="left").with_columns(
        family_expr().alias("family_id")
    )
    catalog.write("hashes", items, source_name)
    elapsed = time.perf_counter() - start
    return dg.MaterializeResult(
        metadata={
            "num_face_hashes": face_items.height,
            "num_frame_hashes": frame_items.height,
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
    decisions = result.decisions.join(
        items.select("item_id", "source", "video_id", "frame_index", "face_id", "label"),
        on="item_id",
        how="left",
    ).with_columns(
        pl.lit(config.drop_duplicates).alias("dropped"), pl.lit(config.threshold).alias("threshold")
    )
    catalog.write("duplicates", decisions)
    dups = decisions.filter(pl.col("is_duplicate"))
    context.log.info(f"{dups.height} duplicates among {items.height} items in {elapsed:.1f}s")
    return dg.MaterializeResult(
        metadata={
            "num_items": items.height,
            "num_duplicates": dups.height,
            "num_groups": result.groups.height,
            "by_reason": md.counts(
                dups.with_columns(pl.col("reason").str.split("(").list.first()), "kind", "reason"
            ),
            "cross_dataset_video_matches": md.table(result.video_matches),
            "examples": md.table(
                dups.select("item_id", "kept_item_id", "reason", "distance"), limit=20
            ),
            "threshold_bits": config.threshold,
            "drop_duplicates": config.drop_duplicates,
            "seconds": round(elapsed, 2),
        }
    )


def kept_faces(catalog) -> pl.DataFrame:
    """The `faces` rows later assets use: every face unless dropped as a duplicate.

    A face is dropped when its crop is a duplicate, or its frame is (a static frame).
    """
    faces = catalog.read("faces")
    decisions = catalog.read("duplicates")
    if faces.is_empty() or decisions.is_empty():
        return faces
    dropped = decisions.filter(pl.col("is_duplicate") & pl.col("dropped"))
    dropped_faces = dropped.filter(pl.col("kind") == "face").select("face_id")
    dropped_frames = dropped.filter(pl.col("kind") == "frame").select(
        "source", "video_id", "frame_index"
    )
    return faces.join(dropped_faces, on="face_id", how="anti").join(
        dropped_frames, on=["source", "video_id", "frame_index"], how="anti"
    )


class EmbeddingConfig(dg.Config):
    """Identity model: `auto` uses facenet (vggface2) when its weights load, else dlib."""

    model: str = "auto"
    weights_path: str = ""  # a facenet .pt file; empty: $DEEPFAKE_FACENET_WEIGHTS / torch cache
    batch_size: int = 64


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
        "Catalog table `embeddings`."
    ),
)
def face_embeddings(
    context: dg.AssetExecutionContext, config: EmbeddingConfig, data: DataDirResource
) -> dg.MaterializeResult:
    from deepfake_assets.identity.embedders import load_embedder

    source_name = context.partition_key
    catalog = data.catalog()
    data_dir = data.path()
    faces = catalog.read("faces", source_name)
    roles = catalog.read("face_videos", source_name).select("video_id", "role")
    if faces.is_empty():
        raise dg.Failure(f"{source_name!r} has no faces: materialise `face_crops` first")
    wanted = faces.join(roles, on="video_id").filter(pl.col("role") != "fake")
    embedder = load_embedder(config.model, weights_path=config.weights_path or None)
    context.log.info(f"embedding {wanted.height} faces with {embedder.name}")
    start = time.perf_counter()
    chunks = []
    paths = wanted["crop_160"].to_list()
    for lo in range(0, len(paths), config.batch_size):
        batch = np.stack([read_png(data_dir / p) for p in paths[lo : lo + config.batch_size]])
        chunks.append(embedder.embed(batch))
        done = min(lo + config.batch_size, len(paths))
        if done == len(paths) or (lo // config.batch_size) % 10 == 0:
            context.log.info(f"embedded {done}/{len(paths)} faces")
    elapsed = time.perf_counter() - start
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, embedder.dim), np.float32)
    table = wanted.select(
        "face_id", "source", "video_id", "frame_index", "track", "label"
    ).with_columns(
        pl.lit(embedder.name).alias("model"),
        pl.Series(
            "embedding", vectors.astype(np.float32), dtype=pl.Array(pl.Float32, embedder.dim)
        ),
    )
    catalog.write("embeddings", table, source_name)
    return dg.MaterializeResult(
        metadata={
            "model": embedder.name,
            "dim": embedder.dim,
            "num_embeddings": table.height,
            "embeddings_per_second": round(table.height / elapsed, 1) if elapsed > 0 else None,
        }
    )
