"""Face embeddings as executor tasks: a batch of crop files in, a batch of vectors out.

The stage resolves its model once (`auto` becomes facenet or dlib where the stage runs) and
sends that exact choice with every task, so a worker that cannot load it fails loudly instead
of embedding with another model. Each worker process loads the model once (`per_process`).
Batches are the stage's own `batch_size` chunks in catalog order, as when it ran in-process, so
the vectors do not depend on the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.compute import Executor, per_process
from deepfake_assets.compute.batches import run_batches
from deepfake_assets.identity.actors import generated_items
from deepfake_assets.identity.donors import pick_fake_faces
from deepfake_assets.media.images import read_png


@dataclass(frozen=True)
class EmbedderSpec:
    """Which model every worker must load: `kind` (`facenet` / `dlib`), its weights, and the
    name the stage resolved (rows record it; a worker's model must have the same one)."""

    kind: str
    name: str
    weights_path: str | None = None  # None: the embedder's own search (env, torch cache)


def spec_for(embedder, weights_path: str | None = None) -> EmbedderSpec:
    kind = "dlib" if embedder.name.startswith("dlib") else "facenet"
    return EmbedderSpec(kind, embedder.name, weights_path or None)


def worker_embedder(spec: EmbedderSpec):
    """This process's embedder for `spec`, loaded on first use."""
    from deepfake_assets.identity.embedders import load_embedder

    return per_process(
        ("embedder", spec),
        lambda: load_embedder(spec.kind, weights_path=spec.weights_path),
    )


def embed_crop_files(spec: EmbedderSpec, data_dir: str, paths: list[str]) -> np.ndarray:
    """In a worker: the float32 embeddings of these 160x160 crops (paths under `data_dir`)."""
    embedder = worker_embedder(spec)
    if embedder.name != spec.name:
        raise RuntimeError(
            f"this worker's {spec.kind} model is {embedder.name}, the stage uses {spec.name}: "
            "install the same weights on every worker"
        )
    batch = np.stack([read_png(Path(data_dir) / p) for p in paths])
    return np.asarray(embedder.embed(batch), dtype=np.float32)


def embedding_inputs(
    faces: pl.DataFrame,
    roles: pl.DataFrame,
    fake_faces_per_track: int,
    videos: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The faces to embed for clustering (every face of a video detected on: real videos and
    orphan fakes) and a few crops of every fake track for donor matching only (a table of their
    own: actor clustering never sees a fake's face). `roles`: `face_videos`' video_id, role.

    `videos` (the source's, with `method`): faces of entire-face synthesis (StyleGAN, ...) are
    in neither table: they show nobody, so they are never clustered nor donor-matched
    (`sources/methods.py`)."""
    with_roles = faces.join(roles.select("video_id", "role"), on="video_id")
    if videos is not None:
        generated = generated_items(videos).select("video_id")
        with_roles = with_roles.join(generated, on="video_id", how="anti")
    wanted = with_roles.filter(pl.col("role") != "fake")
    fakes = pick_fake_faces(with_roles.filter(pl.col("role") == "fake"), fake_faces_per_track)
    return wanted, fakes


def embedding_rows(faces: pl.DataFrame, model: str, vectors: np.ndarray) -> pl.DataFrame:
    """The `embeddings` rows: each face's keys, the model's name and its vector."""
    dim = vectors.shape[1]
    return faces.select(
        "face_id", "source", "video_id", "frame_index", "track", "label"
    ).with_columns(
        pl.lit(model).alias("model"),
        pl.Series("embedding", vectors.astype(np.float32), dtype=pl.Array(pl.Float32, dim)),
    )


def embed_faces(
    executor: Executor,
    spec: EmbedderSpec,
    dim: int,
    data_dir: Path,
    faces: pl.DataFrame,
    batch_size: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> tuple[pl.DataFrame, list[tuple[list[str], float]]]:
    """The embedding rows of the faces' 160x160 crops, one executor task per `batch_size` crops
    in catalog order, and each batch's (videos, seconds). Raises `BatchFailed`."""
    run = run_batches(
        executor,
        embed_crop_files,
        (spec, str(data_dir)),
        faces["crop_160"].to_list(),
        batch_size,
        faces["video_id"].to_list(),
        progress,
    )
    vectors = np.concatenate(run.values) if run.values else np.zeros((0, dim), np.float32)
    return embedding_rows(faces, spec.name, vectors), run.timings
