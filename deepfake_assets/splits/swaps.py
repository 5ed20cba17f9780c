"""Which manipulation methods show someone else's face (an identity swap).

A fake whose donor nobody knows can carry an unknown person's face to a second side of the
split; `unknown_donors: drop` leaves such fakes out. That only matters for methods that put
another person's face on the target: expression / reenactment (Face2Face, NeuralTextures),
attribute editing (FaceApp, StarGAN) and entire-face synthesis (StyleGAN, PGGAN: no real
person, a pseudo-actor of their own, never donor-matched) keep or invent the identity and show
no donor, so they are never dropped here. A method nobody has classified is taken as a swap:
dropping a fake too many costs a face, keeping one too many can leak a person. The
classification is ``sources/methods.py``'s, shared with ``identity/``.
"""

from __future__ import annotations

from enum import Enum

import polars as pl

# one classification of methods for splits and identity (re-exported: callers import it here)
from deepfake_assets.sources.methods import (
    NOT_A_SWAP,
    is_identity_swap,
    method_key,
    methods_where,
)

__all__ = [
    "DONOR_UNKNOWN",
    "NOT_A_SWAP",
    "UnknownDonors",
    "is_identity_swap",
    "method_key",
    "per_source",
    "split_off_unknown_donors",
    "unknown_donor_faces",
]


class UnknownDonors(str, Enum):
    """What a swap fake whose donor nobody knows does to the split.

    KEEP: it is placed with its original, as every fake is (its donor may be on another side).
    DROP: it is left out before placement (reason ``donor_unknown``), so no face the dataset
        shows can carry a person to a second side, given correct names.
    """

    KEEP = "keep"
    DROP = "drop"


DONOR_UNKNOWN = "donor_unknown"


def unknown_donor_faces(df: pl.DataFrame) -> pl.Expr:
    """Rows of ``df`` that are faces of an identity-swap fake with no ``donor_actor_id``
    (``method`` optional; without a label column nothing is a fake, without a donor column
    no donor is known)."""
    if "label" not in df.columns:
        return pl.lit(False)
    donor = pl.col("donor_actor_id").is_null() if "donor_actor_id" in df.columns else True
    swap = pl.lit(True)
    if "method" in df.columns:
        swap = pl.col("method").is_null() | methods_where(df, is_identity_swap)
    return (pl.col("label") == "FAKE") & donor & swap


def split_off_unknown_donors(
    df: pl.DataFrame, policy: UnknownDonors
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(faces kept, one row per face left out) under ``policy``. The rows left out have the
    columns of ``placement.dropped_faces``; they were never placed, so place and groups are
    null."""
    empty = df.head(0)
    if policy is UnknownDonors.KEEP or df.is_empty():
        return df, _drop_rows(empty)
    out = unknown_donor_faces(df)
    return df.filter(~out), _drop_rows(df.filter(out))


def _drop_rows(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(
        "face_id",
        "source",
        "video_id",
        "original_video_id",
        "label",
        "actor_id",
        "donor_actor_id",
        pl.lit(None, dtype=pl.Int64).alias("group_id"),
        pl.lit(None, dtype=pl.Int64).alias("donor_group"),
        pl.lit(None, dtype=pl.Utf8).alias("place"),
        pl.lit(None, dtype=pl.Utf8).alias("donor_place"),
        pl.lit(DONOR_UNKNOWN).alias("reason"),
    ).sort("source", "video_id", "face_id", nulls_last=True)


def per_source(dropped: pl.DataFrame) -> dict[str, dict[str, int]]:
    """source -> fakes (videos) and faces in ``dropped``."""
    if dropped.is_empty():
        return {}
    per = dropped.group_by("source").agg(
        pl.col("video_id").n_unique().alias("fakes"), pl.len().alias("faces")
    )
    return {
        str(s): {"fakes": int(v), "faces": int(f)} for s, v, f in per.sort("source").iter_rows()
    }
