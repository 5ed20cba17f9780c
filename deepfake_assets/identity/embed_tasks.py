"""Face embeddings as executor tasks: a batch of crop files in, a batch of vectors out.

The stage resolves its model once (`auto` becomes facenet or dlib where the stage runs) and
sends that exact choice with every task, so a worker that cannot load it fails loudly instead
of embedding with another model. Each worker process loads the model once (`per_process`).
Batches are the stage's own `batch_size` chunks in catalog order, as when it ran in-process, so
the vectors do not depend on the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_assets.compute import per_process
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
