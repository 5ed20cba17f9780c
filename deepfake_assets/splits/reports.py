"""What the split checks show: the offending rows of `validation`, as tables a person reads."""

from __future__ import annotations

import polars as pl

from deepfake_assets.splits import validation


def leak_rows(splits: pl.DataFrame, folds: pl.DataFrame, *, donors: bool) -> pl.DataFrame:
    """Every person in two splits, or in two levels or folds of one level: where, in which
    places, through which links (actor, second person, target, donor), faces and videos."""
    parts = []
    for where, table, leaks in (
        ("splits", splits, validation.identities_in_two_splits),
        ("folds", folds, validation.identities_in_two_folds),
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
    return pl.concat(parts) if parts else pl.DataFrame()


def actors_per_split(splits: pl.DataFrame) -> pl.DataFrame:
    """How many distinct actors each split holds."""
    return splits.group_by("split").agg(pl.col("actor_id").n_unique().alias("actors"))
