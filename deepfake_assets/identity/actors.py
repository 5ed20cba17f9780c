"""The tables around actor clustering: hash items per source, tracks in, actors out.

``actor_clusters`` and ``dedup_hashes`` read catalog tables and write these; the joins and
aggregations live here so they can be tested on DataFrames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from deepfake_assets.faces.ids import frame_id_expr
from deepfake_assets.identity.clustering import (
    ActorAssignment,
    ClusterParams,
    actor_assignment,
    default_params,
    mean_embeddings,
)
from deepfake_assets.identity.dedup import DedupResult
from deepfake_assets.identity.donors import PSEUDO_PREFIX
from deepfake_assets.sources.methods import synthesis_rows

TRACK_KEY = ["source", "video_id", "track"]


def family_expr() -> pl.Expr:
    """A real video and its fakes share one family: the original's id (namespaced by source)."""
    return (
        pl.col("source")
        + "/"
        + pl.when(pl.col("label") == "FAKE")
        .then(pl.coalesce("original_video_id", "video_id"))
        .otherwise(pl.col("video_id"))
    )


def hash_items(faces: pl.DataFrame, frames: pl.DataFrame, videos: pl.DataFrame) -> pl.DataFrame:
    """The ``hashes`` rows of one source: one per face crop and one per frame used, each with
    the pHash the face workers took while it was in memory, and its video family."""
    face_items = faces.select(
        pl.col("face_id").alias("item_id"),
        pl.lit("face").alias("kind"),
        "source",
        "video_id",
        "frame_index",
        "track",
        "label",
        pl.col("face_id"),
        pl.col("phash_160").alias("hash"),
    )
    frame_items = frames.select(
        frame_id_expr().alias("item_id"),
        pl.lit("frame").alias("kind"),
        "source",
        "video_id",
        "frame_index",
        pl.lit(None, dtype=faces.schema["track"]).alias("track"),
        "label",
        pl.lit(None, dtype=pl.Utf8).alias("face_id"),
        pl.col("phash").alias("hash"),
    )
    items = pl.concat([face_items, frame_items], how="vertical_relaxed")
    return items.join(
        videos.select("video_id", "original_video_id"), on="video_id", how="left"
    ).with_columns(family_expr().alias("family_id"))


def duplicates_table(
    result: DedupResult, items: pl.DataFrame, dropped: bool, threshold: int
) -> pl.DataFrame:
    """The `duplicates` rows: each decision with the item's keys, whether duplicates are
    dropped from the dataset and the threshold (bits) they were found at."""
    return result.decisions.join(
        items.select("item_id", "source", "video_id", "frame_index", "face_id", "label"),
        on="item_id",
        how="left",
    ).with_columns(pl.lit(dropped).alias("dropped"), pl.lit(threshold).alias("threshold"))


def track_table(embeddings: pl.DataFrame, videos: pl.DataFrame) -> pl.DataFrame:
    """One row per face track of a detected-on video: the mean of its face embeddings, sorted
    by source, video and track (as text), with the person the dataset says it shows."""
    if embeddings.is_empty():  # e.g. every face generated: nothing to cluster
        return pl.DataFrame(
            schema={"source": pl.Utf8, "video_id": pl.Utf8, "track": pl.Int64,
                    "n_faces": pl.Int64, "embedder": pl.Utf8,
                    "embedding": embeddings.schema.get("embedding", pl.List(pl.Float32)),
                    "actor_hint": pl.Utf8}
        )  # fmt: skip
    order = (
        embeddings.select(TRACK_KEY)
        .unique()
        .sort("source", "video_id", pl.col("track").cast(pl.Utf8))
        .with_row_index("group")
    )
    groups = (
        embeddings.select(TRACK_KEY)
        .with_row_index("row")
        .join(order, on=TRACK_KEY, how="left")
        .sort("row")["group"]
        .to_numpy()
    )
    vectors = np.asarray(embeddings["embedding"].to_list(), dtype=np.float32)
    _, means = mean_embeddings(vectors, groups)
    tracks = order.select(
        "source",
        "video_id",
        pl.col("track").cast(pl.Int64),
        pl.Series("n_faces", np.bincount(groups, minlength=order.height), dtype=pl.Int64),
        pl.lit(embeddings["model"][0]).alias("embedder"),
    ).with_columns(pl.Series("embedding", means.astype(np.float32)))
    # The hint names the person a track shows: for a (detected-on, orphan) fake that is its
    # donor, not the target its actor_hint names.
    if "donor_hint" not in videos.columns:  # catalogs written before donor hints
        videos = videos.with_columns(donor_hint=pl.lit(None, pl.Utf8))
    shown = pl.when(pl.col("label") == "FAKE").then("donor_hint").otherwise("actor_hint")
    hints = videos.select(
        "source",
        "video_id",
        pl.when(shown.is_not_null()).then(pl.col("source") + ":" + shown).alias("actor_hint"),
    )
    return tracks.join(hints, on=["source", "video_id"], how="left")


def listed_videos(videos: pl.DataFrame, roles: pl.DataFrame) -> pl.DataFrame:
    """The videos clustering assigns actors to, with ``label`` real/fake and the original of a
    fake; a fake whose original is missing was detected on, so it stands for itself (real)."""
    orphan = pl.col("role") == "orphan_fake"
    return videos.join(roles, on=["source", "video_id"], how="left").select(
        "source",
        "video_id",
        pl.when(orphan)
        .then(pl.lit("real"))
        .otherwise(pl.col("label").str.to_lowercase())
        .alias("label"),
        pl.when(orphan)
        .then(None)
        .otherwise(pl.col("original_video_id"))
        .alias("original_video_id"),
    )


def actor_table(video_actors: pl.DataFrame, faces: pl.DataFrame) -> pl.DataFrame:
    """The ``actors`` rows: per actor its videos, real videos, faces, sources and the ids the
    datasets gave it (pseudo-actors of generated items are left out)."""
    return (
        video_actors.join(
            faces.group_by("source", "video_id").len("n_faces"),
            on=["source", "video_id"],
            how="left",
        )
        .group_by("actor_id")
        .agg(
            pl.len().alias("n_videos"),
            (pl.col("label") == "REAL").sum().alias("n_real_videos"),
            pl.col("n_faces").sum().alias("n_faces"),
            pl.col("source").unique().sort().str.join(",").alias("sources"),
            pl.col("actor_hint").drop_nulls().unique().sort().str.join(",").alias("provided"),
        )
        # a generated item's pseudo-actor is nobody: not a row of the people seen
        .filter(
            pl.col("actor_id").is_not_null() & ~pl.col("actor_id").str.starts_with(PSEUDO_PREFIX)
        )
        .sort("actor_id")
    )


def tracks_with_actors(
    tracks: pl.DataFrame, assigned: pl.DataFrame, embeddings: pl.DataFrame
) -> pl.DataFrame:
    """``tracks`` with the actor each was assigned and its label, as the t-SNE figure draws."""
    labels = embeddings.select(*TRACK_KEY, "label").unique(TRACK_KEY)
    return tracks.join(assigned.select(*TRACK_KEY, "actor_id"), on=TRACK_KEY, how="left").join(
        labels, on=TRACK_KEY, how="left"
    )


def single_model(embeddings: pl.DataFrame) -> str:
    """The one model every embedding was made with; ValueError when there are several (their
    vectors do not share one identity space)."""
    models = embeddings["model"].unique().to_list()
    if len(models) > 1:
        raise ValueError(
            f"embeddings of several models ({', '.join(models)}) cannot share one identity "
            "space; re-materialise `face_embeddings` of every source with one model"
        )
    return models[0]


def cluster_params(
    model: str, method: str, eps: float | None, min_samples: int | None
) -> ClusterParams:
    """The measured defaults of `model`'s vectors, with `eps` / `min_samples` where given
    (None: the default); a value that is not positive is refused, never read as "default"."""
    for name, value in (("eps", eps), ("min_samples", min_samples)):
        if value is not None and value <= 0:
            raise ValueError(f"actor clustering {name} must be positive (or unset), got {value}")
    overrides = {"eps": eps, "min_samples": min_samples}
    return default_params(model, method=method, **overrides)


@dataclass(frozen=True)
class ActorRun:
    """What `actor_clusters` writes and reports: tracks in, the assignment, actors out."""

    model: str
    params: ClusterParams
    tracks: pl.DataFrame
    assignment: ActorAssignment
    video_actors: pl.DataFrame
    actors: pl.DataFrame
    seconds: float


def generated_items(videos: pl.DataFrame) -> pl.DataFrame:
    """source, video_id of the items whose method is entire-face synthesis (StyleGAN, ...):
    they show nobody, so they take no part in clustering (``sources/methods.py``)."""
    return videos.filter(synthesis_rows(videos)).select("source", "video_id").unique()


def pseudo_actors_for_generated(
    video_actors: pl.DataFrame, generated: pl.DataFrame
) -> pl.DataFrame:
    """``video_actors`` where each generated item no original gave an actor has a pseudo-actor
    of its own (``pseudo:<source>:<video_id>``, actor_source ``generated``): one per image or
    video, never a real person's."""
    if generated.is_empty():
        return video_actors
    mark = generated.with_columns(_gen=pl.lit(True))
    own = pl.col("_gen").fill_null(False) & pl.col("actor_id").is_null()
    return (
        video_actors.join(mark, on=["source", "video_id"], how="left", maintain_order="left")
        .with_columns(
            actor_id=pl.when(own)
            .then(pl.lit(PSEUDO_PREFIX) + pl.col("source") + ":" + pl.col("video_id"))
            .otherwise(pl.col("actor_id")),
            actor_source=pl.when(own).then(pl.lit("generated")).otherwise(pl.col("actor_source")),
        )
        .drop("_gen")
    )


def cluster_actors(
    embeddings: pl.DataFrame,
    videos: pl.DataFrame,
    face_videos: pl.DataFrame,
    faces: pl.DataFrame,
    params: ClusterParams,
    *,
    merge_on_hints: bool = True,
) -> ActorRun:
    """Every usable video's actor over all sources: track means clustered, then per actor its
    videos and faces. `videos`: the catalog's (status ok); `face_videos`: role per video.

    Generated items (entire-face synthesis) are left out of the clustering, even where an
    older catalog embedded them: one generated face between two people would chain them into
    one actor. Each keeps a pseudo-actor of its own (see `pseudo_actors_for_generated`)."""
    model = embeddings["model"][0]
    generated = generated_items(videos)
    embeddings = embeddings.join(generated, on=["source", "video_id"], how="anti")
    tracks = track_table(embeddings, videos)
    # a fake whose original is missing was detected on: it stands for itself here
    listed = listed_videos(videos, face_videos.select("source", "video_id", "role"))
    start = time.perf_counter()
    result = actor_assignment(tracks, listed, params, merge_on_hints=merge_on_hints)
    seconds = time.perf_counter() - start
    video_actors = result.videos.drop("label", strict=False).join(
        videos.select("source", "video_id", "label"), on=["source", "video_id"], how="left"
    )
    video_actors = pseudo_actors_for_generated(video_actors, generated)
    actors = actor_table(video_actors, faces)
    return ActorRun(model, params, tracks, result, video_actors, actors, seconds)


def cluster_sizes(actors: pl.DataFrame) -> dict[str, int]:
    """How many actors have 1, 2, ... real videos."""
    sizes = actors["n_real_videos"].value_counts().sort("n_real_videos")
    return {str(r["n_real_videos"]): r["count"] for r in sizes.to_dicts()}


def readable_disagreements(disagreements: pl.DataFrame) -> pl.DataFrame:
    """The disagreements with their list columns as comma-separated text (for a table view)."""
    return disagreements.with_columns(
        pl.col("clusters").cast(pl.List(pl.Utf8)).list.join(","),
        pl.col("hints").list.join(","),
    )
