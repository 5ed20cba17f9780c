"""Real/fake balance after deduplication (seed 000: equal real and fake frames per dataset).

The `balanced` sampling strategy plans equal real and fake frame totals, but detection drops
frames and deduplication drops more from real videos (more frames per video, so more that look
alike) than from fakes. So for each source sampled with `balanced`, the larger class is thinned
to the size of the smaller one, by a seeded, stable draw of whole face images.
"""

from __future__ import annotations

import hashlib

import polars as pl


def _rank_key(face_id: str, seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{face_id}".encode(), digest_size=8).digest())


def rebalance(faces: pl.DataFrame, sources: list[str], seed: int = 0) -> pl.DataFrame:
    """Keep, per source in `sources`, as many REAL as FAKE faces (the smaller count).

    Which faces stay depends only on (seed, face_id), so adding a source never reshuffles
    another. Faces of other sources pass through unchanged.
    """
    if faces.is_empty() or not sources:
        return faces
    keyed = faces.with_columns(
        pl.col("face_id")
        .map_elements(lambda f: _rank_key(f, seed), return_dtype=pl.UInt64)
        .alias("_key")
    )
    counts = (
        keyed.filter(pl.col("source").is_in(sources))
        .group_by("source", "label")
        .len()
        .group_by("source")
        .agg(pl.col("len").min().alias("_keep"), pl.col("label").n_unique().alias("_labels"))
    )
    ranked = keyed.join(counts, on="source", how="left").with_columns(
        pl.col("_key").rank("ordinal").over("source", "label").alias("_rank")
    )
    keep = (
        pl.col("_keep").is_null()  # a source not sampled with `balanced`
        | (pl.col("_labels") < 2)  # only one label: nothing to balance against
        | (pl.col("_rank") <= pl.col("_keep"))
    )
    return ranked.filter(keep).drop("_key", "_keep", "_labels", "_rank")
