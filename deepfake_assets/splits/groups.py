"""Actor groups, strata and the greedy filler shared by splits and folds.

Leakage unit: an *actor group* is a connected component of the identity graph
(`splits.identity_graph`) whose nodes are actors and video families (an original video and all
its fakes, keyed by source and original video id) and whose edges are "this person's face is in
this family": the video's actor, the second person of a two-person video, and (unless asked not
to) a fake's donor. So a group holds every real and fake face of its people, two actors who share
a video travel together, and a fake always lands with its original even when its own actor_id is
missing or disagrees. A face without an actor_id takes its family's actor when the family shows
exactly one, else it is a pseudo-actor of the family. Whatever a group is assigned to, all its
faces get.

Assignment: groups are taken largest first (ties in a seeded random order) and each goes to the
bucket s that least increases  sum_k w_k * sum_s (share_k[s] - ratio[s])^2 / ratio[s]  over
the strata k it touches: "overall" (all faces, weight `overall_weight`) and every (attribute,
category) in `stratify_by` (weight 1). share_k[s] is the fraction of stratum k's faces in
bucket s. For a group that is small against its strata this is the "largest deficit" rule,
with the deficit taken relative to the bucket's ratio; for a large group it also avoids the
bucket it would overshoot most. Measuring deficits relative to the ratio makes all buckets
fill at the same pace, so big and small actors spread evenly: with absolute deficits the train
bucket would take every large actor first and val/test would be left with the small ones.
Pinned groups (test-only sources) are placed first; on tiny datasets the last groups are kept
for buckets that would otherwise stay empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from deepfake_assets.splits.identity_graph import DonorEdges, components

__all__ = [
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "DEFAULT_STRATIFY",
    "AGE_BINS",
    "check_ratios",
    "prepare_faces",
    "label_faces",
    "with_groups",
    "age_band",
    "group_strata",
    "greedy_assign",
    "share_report",
]

REQUIRED_COLUMNS = ("face_id", "video_id")
OPTIONAL_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.Utf8,
    "original_video_id": pl.Utf8,
    "label": pl.Utf8,
    "actor_id": pl.Utf8,
    "gender": pl.Utf8,
    "age": pl.Utf8,
    "race": pl.Utf8,
    "test_only": pl.Boolean,
    "second_actor_id": pl.Utf8,
    "donor_actor_id": pl.Utf8,
}
DEFAULT_STRATIFY = ("source", "label", "gender", "age", "race")
# Ages (numbers, or strings that parse as numbers) are binned into these bands before
# stratifying; other age strings ("adult", "20-30") are categories as given.
AGE_BINS = (20, 30, 40, 50, 60)


def check_ratios(ratios: Sequence[float], n: int | None) -> list[float]:
    """Validate and normalise ratios to sum to 1."""
    r = [float(x) for x in ratios]
    if n is not None and len(r) != n:
        raise ValueError(f"expected {n} ratios, got {len(r)}")
    if any(x < 0 for x in r) or sum(r) <= 0:
        raise ValueError(f"ratios must be non-negative with a positive sum, got {r}")
    s = sum(r)
    return [x / s for x in r]


def age_band(age: pl.Expr, bins: Sequence[float] = AGE_BINS) -> pl.Expr:
    """Numeric ages -> "<20", "20-29", ..., "60+"; non-numeric strings unchanged; null stays."""
    num = age.cast(pl.Utf8).str.strip_chars().cast(pl.Float64, strict=False)
    edges = list(bins)
    labels = [f"<{edges[0]:g}"]
    labels += [f"{lo:g}-{hi - 1:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    labels.append(f"{edges[-1]:g}+")
    expr = pl.when(num < edges[0]).then(pl.lit(labels[0]))
    for (lo, hi), label in zip(zip(edges[:-1], edges[1:], strict=True), labels[1:-1], strict=True):
        expr = expr.when((num >= lo) & (num < hi)).then(pl.lit(label))
    expr = expr.when(num >= edges[-1]).then(pl.lit(labels[-1]))
    return expr.otherwise(age.cast(pl.Utf8))


def prepare_faces(
    faces: pl.DataFrame, age_bins: Sequence[float] = AGE_BINS, *, donor_edges: bool = True
) -> pl.DataFrame:
    """Validate, fill optional columns and add the internal ``_actor_key`` (str), ``_a`` (its
    dense index), ``_family``, ``_video`` (hash of source + video_id), ``_age_band`` and
    ``group_id`` (i64, the identity graph's component, dense from 0 over the groups with faces,
    deterministic: independent of row order; an input ``group_id`` column is replaced).
    `donor_edges`: whether a fake's donor joins its group (see `splits.identity_graph`)."""
    return with_groups(label_faces(faces, age_bins), donor_edges=donor_edges)[0]


def with_groups(
    df: pl.DataFrame, *, donor_edges: bool | DonorEdges
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`label_faces` output + ``_a`` and ``group_id``; also the graph's node table (every actor
    key, face-less second persons and donors included, with its group). `donor_edges`: see
    `identity_graph.DonorEdges.of` (a policy's value gives the edges its placement uses)."""
    nodes = components(df, donors=donor_edges)
    out = df.drop("_a", "group_id", strict=False).join(nodes, on="_actor_key", how="left")
    return out, nodes


def label_faces(faces: pl.DataFrame, age_bins: Sequence[float] = AGE_BINS) -> pl.DataFrame:
    """`prepare_faces` before grouping: validated, optional columns filled, ``_actor_key``,
    ``_family``, ``_video`` and ``_age_band`` added."""
    missing = [c for c in REQUIRED_COLUMNS if c not in faces.columns]
    if missing:
        raise ValueError(f"faces table lacks required columns {missing}")
    if faces["face_id"].is_duplicated().any():
        raise ValueError("face_id values must be unique")
    faces = faces.drop("group_id", strict=False)  # recomputed: the same groups, renumbered
    df = faces.with_columns(
        pl.lit(None, dtype=dt).alias(c) for c, dt in OPTIONAL_COLUMNS.items() if c not in faces
    )
    df = df.with_columns(pl.col("test_only").cast(pl.Boolean).fill_null(False))
    src = pl.col("source").cast(pl.Utf8).fill_null("")
    fam_video = pl.coalesce(pl.col("original_video_id"), pl.col("video_id")).cast(pl.Utf8)
    df = df.with_columns(
        # 64-bit hashes key video families and videos: cheap to group and join on; a collision
        # (~1e-8 at a million videos) could only merge two groups, never leak between splits
        pl.struct(src, fam_video).hash(11).alias("_family"),
        pl.struct(src, pl.col("video_id").cast(pl.Utf8)).hash(7).alias("_video"),
        _age_bands(df["age"], age_bins).alias("_age_band"),
    )
    actor = pl.col("actor_id").cast(pl.Utf8)
    if df["actor_id"].null_count():
        # A face with no actor_id (typically a fake) takes the actor of its video family when
        # the family shows exactly one actor; otherwise it is a pseudo-actor of the family.
        known = (
            df.filter(pl.col("actor_id").is_not_null())
            .group_by("_family")
            .agg(actor.n_unique().alias("_n"), actor.first().alias("_fam_actor"))
            .filter(pl.col("_n") == 1)
            .drop("_n")
        )
        df = df.join(known, on="_family", how="left")
        actor = pl.coalesce(actor, pl.col("_fam_actor"))
    df = df.with_columns(
        pl.when(actor.is_null())
        .then(pl.concat_str([pl.lit("v:"), src, pl.lit("\x1f"), fam_video]))
        .otherwise(pl.lit("a:") + actor)
        .alias("_actor_key")
    ).drop("_fam_actor", strict=False)
    return df


def _age_bands(age: pl.Series, age_bins: Sequence[float]) -> pl.Series:
    """Age bands computed once per distinct age value, then mapped onto the rows."""
    values = age.cast(pl.Utf8).unique().drop_nulls()
    if values.is_empty():
        return pl.Series("_age_band", [None] * len(age), dtype=pl.Utf8)
    bands = pl.select(age_band(pl.lit(values), age_bins)).to_series()
    return age.cast(pl.Utf8).replace_strict(values, bands, default=None, return_dtype=pl.Utf8)


def stratum_column(attr: str) -> str:
    return "_age_band" if attr == "age" else attr


def group_strata(df: pl.DataFrame, stratify_by: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-group counts for the "overall" stratum and each (attribute, category).

    Returns (strata, counts): strata has stratum (u32, 0 = overall), attr, category, n_faces;
    counts has group_id, stratum, n (faces of the group in that stratum), sorted by group_id.
    Null categories are not strata: an attribute is balanced only where it is given.
    """
    parts = [
        df.group_by("group_id")
        .agg(pl.len().alias("n"))
        .with_columns(pl.lit("overall").alias("attr"), pl.lit("all").alias("category"))
    ]
    for attr in stratify_by:
        if attr not in df.columns and attr != "age":
            continue
        col = stratum_column(attr)
        part = (
            df.filter(pl.col(col).is_not_null())
            .group_by("group_id", pl.col(col).cast(pl.Utf8).alias("category"))
            .agg(pl.len().alias("n"))
            .with_columns(pl.lit(attr).alias("attr"))
        )
        parts.append(part)
    long = pl.concat([p.select("group_id", "attr", "category", "n") for p in parts])
    attr_order = {a: i for i, a in enumerate(["overall", *stratify_by])}
    strata = (
        long.group_by("attr", "category")
        .agg(pl.col("n").sum().alias("n_faces"))
        .with_columns(pl.col("attr").replace_strict(attr_order, return_dtype=pl.Int64).alias("_o"))
        .sort("_o", "category")
        .drop("_o")
        .with_row_index("stratum")
    )
    counts = (
        long.join(strata.select("stratum", "attr", "category"), on=["attr", "category"])
        .select("group_id", "stratum", "n")
        .sort("group_id", "stratum")
    )
    return strata, counts


def greedy_assign(
    group_ids: np.ndarray,
    counts: pl.DataFrame,
    strata: pl.DataFrame,
    ratios: Sequence[float],
    *,
    pinned: dict[int, int] | None = None,
    seed: int = 0,
    overall_weight: float = 2.0,
    fill_empty: bool = True,
    filled: Sequence[int] = (),
) -> np.ndarray:
    """Bucket index for each group in `group_ids` (see module doc). `pinned` maps group_id to a
    bucket it must go to. Deterministic for a seed; the seed only orders equal-size groups.

    With `fill_empty`, no bucket with a positive ratio is left empty when there are at least
    as many unpinned groups as such empty buckets (the smallest groups fill them); buckets in
    `filled` already hold faces placed elsewhere and count as not empty."""
    pinned = pinned or {}
    ratios_l = [float(r) for r in ratios]
    n_buckets = len(ratios_l)
    group_ids = np.asarray(group_ids, dtype=np.int64)
    index_of = {int(g): i for i, g in enumerate(group_ids)}

    wanted = pl.DataFrame({"group_id": pl.Series(group_ids, dtype=pl.Int64)})
    sub = counts.join(wanted, on="group_id", how="semi").sort("group_id", "stratum")
    totals = sub.group_by("stratum").agg(pl.col("n").sum().alias("tot"))
    present = totals["stratum"].to_list()
    dense = {k: j for j, k in enumerate(present)}  # stratum -> dense index in this call
    tot = totals["tot"].to_list()
    overall = set(strata.filter(pl.col("attr") == "overall")["stratum"].to_list())
    # weight per stratum: overall counts `overall_weight`; an attribute's categories share 1
    lam = [overall_weight if k in overall else 1.0 for k in present]
    # dev[s][k]: share of stratum k in bucket s minus its ratio; starts at -ratio
    dev = [[-r] * len(present) for r in ratios_l]

    g_sorted = sub["group_id"].to_numpy()
    k_arr = np.array([dense[k] for k in sub["stratum"].to_list()], dtype=np.int64)
    n_arr = sub["n"].to_numpy().astype(np.float64)
    f_arr = n_arr / np.asarray(tot, dtype=np.float64)[k_arr]
    w_arr = np.asarray(lam, dtype=np.float64)[k_arr]
    is_overall = np.isin(np.asarray(present)[k_arr], list(overall))
    starts = np.searchsorted(g_sorted, group_ids, side="left")
    stops = np.searchsorted(g_sorted, group_ids, side="right")
    # per entry -> per group: size (overall count) and sum of w * f^2
    entry_group = np.repeat(np.arange(len(group_ids)), stops - starts)
    if len(group_ids) < 2 or np.all(np.diff(group_ids) > 0):  # sorted ids: entries in order
        order_entries = np.arange(int(stops.sum() - starts.sum()))
    else:
        order_entries = np.concatenate(
            [np.arange(a, b) for a, b in zip(starts, stops, strict=True)]
        )
    sizes = np.zeros(len(group_ids), dtype=np.int64)
    sel = order_entries[is_overall[order_entries]]
    sizes[entry_group[is_overall[order_entries]]] = n_arr[sel].astype(np.int64)
    const = np.bincount(
        entry_group, weights=(w_arr * f_arr * f_arr)[order_entries], minlength=len(group_ids)
    )
    ks_l, fs_l, twf_l = k_arr.tolist(), f_arr.tolist(), (2.0 * w_arr * f_arr).tolist()
    const_l = const.tolist()
    # per group: (stratum indices, shares f = n / total, 2 * w * f, sum of w * f * f)
    items = [
        (ks_l[a:b], fs_l[a:b], twf_l[a:b], const_l[i])
        for i, (a, b) in enumerate(zip(starts.tolist(), stops.tolist(), strict=True))
    ]

    out = np.full(len(group_ids), -1, dtype=np.int64)

    def place(i: int, s: int) -> None:
        out[i] = s
        d = dev[s]
        ks, fs = items[i][0], items[i][1]
        for k, f in zip(ks, fs, strict=True):
            d[k] += f

    for g, bucket in pinned.items():
        i = index_of.get(int(g))
        if i is not None:
            place(i, bucket)

    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(group_ids))
    order = perm[np.argsort(-sizes[perm], kind="stable")]
    open_buckets = [s for s in range(n_buckets) if ratios_l[s] > 0] or list(range(n_buckets))
    n_in = np.bincount(out[out >= 0], minlength=n_buckets).tolist()
    for s in filled:
        n_in[s] += 1
    inv_ratio = [1.0 / r if r > 0 else 0.0 for r in ratios_l]
    todo = [i for i in order.tolist() if out[i] < 0]
    n_todo = len(todo)
    n_empty = sum(1 for s in open_buckets if n_in[s] == 0)
    for t, i in enumerate(todo):
        # Small datasets: once the groups left are no more than the still-empty buckets, each
        # goes (largest first) to the empty bucket with the largest ratio.
        if fill_empty and n_empty and n_empty >= n_todo - t:
            empty = [s for s in open_buckets if n_in[s] == 0]
            best_s = max(empty, key=lambda s: (ratios_l[s], -s))
        else:
            # cost change of bucket s: sum_k w (f^2 + 2 f dev[s][k]) / ratio[s]
            ks, _, two_wf, const = items[i]
            best_s, best = open_buckets[0], float("inf")
            for s in open_buckets:
                d = dev[s]
                acc = const
                for k, x in zip(ks, two_wf):  # noqa: B905 (hot loop)
                    acc += x * d[k]
                acc *= inv_ratio[s]
                if acc < best - 1e-12:
                    best, best_s = acc, s
        if n_in[best_s] == 0:
            n_empty -= 1
        n_in[best_s] += 1
        place(i, best_s)
    return out


def share_report(
    df: pl.DataFrame,
    bucket_col: str,
    buckets: Sequence,
    scopes: Sequence[str],
    targets: dict[str, dict[str, list[float]]] | None = None,
    default_target: Sequence[float] | None = None,
) -> pl.DataFrame:
    """Long table: scope, category, <bucket_col>, faces, actors, videos, share, target.

    One row per (scope, category, bucket), zero rows included; share = faces / category faces;
    target is `targets[scope][category]` when given, else `default_target`.
    """
    bdtype = df.schema[bucket_col]
    frames = []
    for scope in ["overall", *scopes]:
        if scope == "overall":
            cat = pl.lit("all")
        else:
            col = stratum_column(scope)
            if col not in df.columns:
                continue
            cat = pl.col(col).cast(pl.Utf8).fill_null("(null)")
        agg = df.group_by(cat.alias("category"), pl.col(bucket_col)).agg(
            pl.len().alias("faces"),
            pl.col("_a").n_unique().alias("actors"),
            pl.col("_video").n_unique().alias("videos"),
        )
        cats = agg.select("category").unique()
        grid = cats.join(
            pl.DataFrame({bucket_col: list(buckets)}, schema={bucket_col: bdtype}), how="cross"
        )
        full = grid.join(agg, on=["category", bucket_col], how="left").with_columns(
            pl.col("faces", "actors", "videos").fill_null(0).cast(pl.Int64)
        )
        full = full.with_columns(
            (pl.col("faces") / pl.col("faces").sum().over("category")).alias("share"),
            pl.lit(scope).alias("scope"),
        )
        frames.append(full)
    rep = pl.concat(
        [
            f.select("scope", "category", bucket_col, "faces", "actors", "videos", "share")
            for f in frames
        ]
    )
    bidx = {b: i for i, b in enumerate(buckets)}
    tgt = []
    for scope, cat, b in rep.select("scope", "category", bucket_col).iter_rows():
        t = (targets or {}).get(scope, {}).get(cat)
        if t is None:
            t = default_target
        tgt.append(None if t is None else float(t[bidx[b]]))
    rep = rep.with_columns(pl.Series("target", tgt, dtype=pl.Float64))
    scope_order = {s: i for i, s in enumerate(["overall", *scopes])}
    return (
        rep.with_columns(
            pl.col("scope").replace_strict(scope_order, return_dtype=pl.Int64).alias("_o"),
            pl.col(bucket_col).replace_strict(bidx, return_dtype=pl.Int64).alias("_b"),
        )
        .sort("_o", "category", "_b")
        .drop("_o", "_b")
    )
