"""What the asset checks assert, as pure functions over the catalog tables.

Each function returns the offending rows (empty = the rule holds), so a failed check can name
exactly what broke it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from deepfake_assets.identity.dedup import near_pairs


def actors_in_two_splits(splits: pl.DataFrame) -> pl.DataFrame:
    """Actors whose faces are in more than one split: actor_id, splits, n_faces."""
    return (
        splits.filter(pl.col("actor_id").is_not_null())
        .group_by("actor_id")
        .agg(pl.col("split").unique().sort().alias("splits"), pl.len().alias("n_faces"))
        .filter(pl.col("splits").list.len() > 1)
        .sort("actor_id")
    )


def actors_in_two_folds(folds: pl.DataFrame) -> pl.DataFrame:
    """Actors in two levels, or in two folds of one level: actor_id, places, n_faces."""
    placed = folds.filter(pl.col("actor_id").is_not_null() & pl.col("level").is_not_null())
    return (
        placed.with_columns(
            (pl.col("level").cast(pl.Utf8) + "/" + pl.col("fold").cast(pl.Utf8)).alias("place")
        )
        .group_by("actor_id")
        .agg(pl.col("place").unique().sort().alias("places"), pl.len().alias("n_faces"))
        .filter(pl.col("places").list.len() > 1)
        .sort("actor_id")
    )


IDENTITY_ROLES = {"actor_id": "main", "second_actor_id": "second", "donor_actor_id": "donor"}


def _identities(table: pl.DataFrame, place: pl.Expr, donors: bool) -> pl.DataFrame:
    """Long table: one row per (face, person it shows): identity, role, place, source,
    video_id. Roles: ``main`` (the video's actor; a fake's target), ``second`` (the second
    person of a two-person video), ``donor`` (the face pasted into a fake)."""
    parts = []
    for col, role in IDENTITY_ROLES.items():
        if col not in table.columns or (role == "donor" and not donors):
            continue
        parts.append(
            table.filter(pl.col(col).is_not_null()).select(
                pl.col(col).cast(pl.Utf8).alias("identity"),
                pl.lit(role).alias("role"),
                place.alias("place"),
                pl.col("source").cast(pl.Utf8) if "source" in table.columns else pl.lit(None),
                pl.col("video_id").cast(pl.Utf8),
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={c: pl.Utf8 for c in ("identity", "role", "place", "source", "video_id")}
        )
    return pl.concat(parts, how="vertical_relaxed")


def _leaks(long: pl.DataFrame) -> pl.DataFrame:
    """Identities in more than one place: identity, places, through (roles), n_faces, videos
    (up to 5 ``source/video_id@place``, one per place first)."""
    tagged = long.with_columns(
        (
            pl.col("source").fill_null("")
            + "/"
            + pl.col("video_id")
            + "@"
            + pl.col("place")
            + "("
            + pl.col("role")
            + ")"
        ).alias("_where")
    )
    per = (
        tagged.group_by("identity")
        .agg(
            pl.col("place").unique().sort().alias("places"),
            pl.col("role").unique().sort().alias("through"),
            pl.len().alias("n_faces"),
        )
        .filter(pl.col("places").list.len() > 1)
    )
    if per.is_empty():
        return per.with_columns(pl.lit(None, dtype=pl.List(pl.Utf8)).alias("videos"))
    examples = (
        tagged.join(per.select("identity"), on="identity", how="semi")
        .unique(["identity", "place", "video_id", "role"])
        .sort("identity", "place", "role", "video_id")
        .with_columns(pl.int_range(pl.len()).over("identity", "place").alias("_k"))
        .sort("_k", "place", "video_id")
        .group_by("identity", maintain_order=True)
        .agg(pl.col("_where").head(5).alias("videos"))
    )
    return per.join(examples, on="identity", how="left").sort("identity")


def identities_in_two_splits(splits: pl.DataFrame, *, donors: bool = True) -> pl.DataFrame:
    """People shown in more than one split through any face: as a video's actor (main track,
    a fake's target), as the second person of a two-person video, or (with `donors`) as a
    fake's donor. Columns: identity, places (the splits), through (roles), n_faces, videos."""
    return _leaks(_identities(splits, pl.col("split").cast(pl.Utf8), donors))


def identities_in_two_folds(folds: pl.DataFrame, *, donors: bool = True) -> pl.DataFrame:
    """The same over folds: people in two levels, or in two folds of one level (places are
    ``<level>/<fold>``; faces outside the folds, level null, are not looked at)."""
    placed = folds.filter(pl.col("level").is_not_null())
    place = pl.col("level").cast(pl.Utf8) + "/" + pl.col("fold").cast(pl.Utf8)
    return _leaks(_identities(placed, place, donors))


def fakes_outside_original_split(splits: pl.DataFrame) -> pl.DataFrame:
    """Fake videos whose split differs from their original's split."""
    per_video = splits.group_by("source", "video_id").agg(
        pl.col("split").unique().sort().alias("splits"),
        pl.col("label").first(),
        pl.col("original_video_id").first(),
    )
    originals = per_video.filter(pl.col("label") == "REAL").select(
        "source",
        pl.col("video_id").alias("original_video_id"),
        pl.col("splits").alias("original_splits"),
    )
    fakes = per_video.filter(pl.col("label") == "FAKE").join(
        originals, on=["source", "original_video_id"], how="inner"
    )
    return fakes.filter(pl.col("splits") != pl.col("original_splits")).select(
        "source", "video_id", "splits", "original_video_id", "original_splits"
    )


def near_duplicates_across_splits(
    hashes: pl.DataFrame, splits: pl.DataFrame, threshold: int
) -> pl.DataFrame:
    """Exported face crops within `threshold` bits whose splits differ.

    A fake and its own original (one family) are exempt: they look alike by construction and
    always share a split anyway. Faces with one hash, split and family form one cell, so a
    family of identical crops (a manifest listing copies of a file) costs one row, never the
    n^2 pairs of its faces: one row per pair of offending cells, naming its first faces
    (face_id_a, face_id_b), and `n_pairs`, the face pairs it stands for.
    """
    schema = {
        "face_id_a": pl.Utf8,
        "face_id_b": pl.Utf8,
        "split_a": pl.Utf8,
        "split_b": pl.Utf8,
        "distance": pl.Int64,
        "n_pairs": pl.Int64,
    }
    faces = hashes.filter(pl.col("kind") == "face").join(
        splits.select("face_id", "split"), on="face_id", how="inner"
    )
    if faces.height < 2:
        return pl.DataFrame(schema=schema)
    cells = faces.group_by("hash", "split", "family_id").agg(
        pl.col("face_id").min(), pl.len().alias("n")
    )
    distinct = cells["hash"].unique().sort()
    i, j, d = near_pairs(distinct.to_numpy(), threshold)
    values = distinct.to_numpy()
    hash_pairs = pl.concat(
        [
            pl.DataFrame({"ha": values, "hb": values, "distance": np.zeros(len(values), np.int64)}),
            pl.DataFrame({"ha": values[i], "hb": values[j], "distance": d.astype(np.int64)}),
        ]
    ).with_columns(pl.col("ha", "hb").cast(distinct.dtype))
    a = cells.rename({c: f"{c}_a" for c in cells.columns})
    b = cells.rename({c: f"{c}_b" for c in cells.columns})
    pairs = (
        hash_pairs.join(a, left_on="ha", right_on="hash_a")
        .join(b, left_on="hb", right_on="hash_b")
        .filter(
            (pl.col("split_a") != pl.col("split_b"))
            & (pl.col("family_id_a") != pl.col("family_id_b"))
            & ((pl.col("ha") != pl.col("hb")) | (pl.col("face_id_a") < pl.col("face_id_b")))
        )
    )
    return pairs.select(
        "face_id_a",
        "face_id_b",
        "split_a",
        "split_b",
        pl.col("distance").cast(pl.Int64),
        (pl.col("n_a") * pl.col("n_b")).cast(pl.Int64).alias("n_pairs"),
    ).sort("face_id_a", "face_id_b")


def real_fake_imbalance(splits: pl.DataFrame, sources: list[str], tolerance: float) -> pl.DataFrame:
    """Sources (of those given) whose real and fake face counts differ by more than
    `tolerance` of their total: source, real, fake, imbalance."""
    counts = (
        splits.filter(pl.col("source").is_in(sources))
        .group_by("source")
        .agg(
            (pl.col("label") == "REAL").sum().cast(pl.Int64).alias("real"),
            (pl.col("label") == "FAKE").sum().cast(pl.Int64).alias("fake"),
        )
        .with_columns(
            ((pl.col("real") - pl.col("fake")).abs() / (pl.col("real") + pl.col("fake"))).alias(
                "imbalance"
            )
        )
    )
    return counts.filter(pl.col("imbalance") > tolerance).sort("source")


def ratio_misses(splits: pl.DataFrame, targets: dict[str, float], tolerance: float) -> pl.DataFrame:
    """Splits whose share of faces misses its target by more than `tolerance`."""
    total = splits.height
    if total == 0:
        return pl.DataFrame(schema={"split": pl.Utf8, "share": pl.Float64, "target": pl.Float64})
    shares = splits.group_by("split").len()
    rows = []
    for name, target in targets.items():
        n = shares.filter(pl.col("split") == name)["len"].sum()
        share = n / total
        if abs(share - target) > tolerance:
            rows.append({"split": name, "share": round(share, 4), "target": round(target, 4)})
    return pl.DataFrame(rows, schema={"split": pl.Utf8, "share": pl.Float64, "target": pl.Float64})


def rows_of_unregistered_sources(
    splits: pl.DataFrame, folds: pl.DataFrame, registered: frozenset[str] | None
) -> pl.DataFrame:
    """Rows of `splits` and `folds` whose source is no longer registered (removed after they
    were built): table, source, n_rows. A catalog without a registry has none."""
    parts = []
    for name, table in (("splits", splits), ("folds", folds)):
        if registered is None or "source" not in table.columns:
            continue
        parts.append(
            table.filter(~pl.col("source").is_in(sorted(registered)))
            .group_by("source")
            .agg(pl.len().alias("n_rows"))
            .select(pl.lit(name).alias("table"), "source", "n_rows")
        )
    schema = {"table": pl.Utf8, "source": pl.Utf8, "n_rows": pl.UInt32}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).cast(schema).sort("table", "source")
