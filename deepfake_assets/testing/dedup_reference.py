"""The pair-listing ``group_duplicates`` as it was before exact duplicates were grouped: a
reference oracle for the tests (small inputs only: it lists every near pair, n^2 for a group of
identical hashes). Kept verbatim apart from imports; do not use it in the package."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from deepfake_assets.identity.dedup import (
    REASON_CROSS_DATASET,
    REASON_EXACT,
    REASON_NEAR,
    REASON_RESAMPLED,
    REASON_STATIC,
    REQUIRED_COLUMNS,
    DedupParams,
    DedupResult,
    choose_n_blocks,
    near_pairs,
)
from deepfake_assets.identity.hashing import from_int64, popcount64


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _codes(df: pl.DataFrame, cols: list[str]) -> np.ndarray:
    """Dense int codes of the row tuples of ``cols`` (equal tuples, equal code)."""
    return df.select(pl.struct(cols).rank("dense").alias("c"))["c"].to_numpy().astype(np.int64) - 1


def reference_group_duplicates(
    items: pl.DataFrame, params: DedupParams | None = None
) -> DedupResult:
    """Group near-duplicate items and decide, for each, whether it is kept or which it copies.

    ``items`` columns: item_id, hash (int64 as stored, or uint64), source, video_id, family_id
    (the original's video id for reals and their fakes), frame_index, label, kind
    ('frame' | 'face'); optional ``track``. Items of different kinds are never compared.
    """
    p = params or DedupParams()
    missing = [c for c in REQUIRED_COLUMNS if c not in items.columns]
    if missing:
        raise ValueError(f"items lack columns {missing}")
    k_within = p.threshold if p.within_video_threshold is None else p.within_video_threshold
    k_search = max(p.threshold, k_within)
    n = items.height
    has_track = "track" in items.columns

    if items["item_id"].is_duplicated().any():
        raise ValueError("item_id must be unique")
    # Visit order = keep priority: earliest (source, video_id, frame_index, item_id) first.
    # A missing family is the video's own (never one shared "null" family).
    df = items.with_columns(
        pl.col("frame_index").fill_null(-1),
        pl.col("family_id").cast(pl.String).fill_null(pl.col("video_id").cast(pl.String)),
    ).sort(["source", "video_id", "frame_index", "item_id"])
    h = from_int64(_hash_array(df["hash"]))
    kind = _codes(df, ["kind"])
    video = _codes(df, ["source", "video_id"])
    family = _codes(df, ["source", "family_id"])
    source = _codes(df, ["source"])
    label = _codes(df, ["label"])
    frame = df["frame_index"].to_numpy().astype(np.int64)
    track = _codes(df, ["track"]) if has_track else np.zeros(n, np.int64)
    bits = popcount64(h).astype(np.int64)
    low_info = (bits < p.informative_bits[0]) | (bits > p.informative_bits[1])

    # 1. Candidate edges per kind (indices into df's order, a < b).
    ea, eb, ed = [], [], []
    n_blocks_used: dict[str, int] = {}
    kind_names = df["kind"].to_list()
    for kc in np.unique(kind):
        idx = np.flatnonzero(kind == kc)
        m = p.n_blocks or choose_n_blocks(len(idx), k_search)
        n_blocks_used[kind_names[idx[0]]] = m
        i, j, d = near_pairs(h[idx], k_search, n_blocks=m)
        ea.append(idx[i])
        eb.append(idx[j])
        ed.append(d.astype(np.int64))
    a = np.concatenate(ea) if ea else np.zeros(0, np.int64)
    b = np.concatenate(eb) if eb else np.zeros(0, np.int64)
    d = np.concatenate(ed) if ed else np.zeros(0, np.int64)
    n_candidates = len(a)

    same_video = video[a] == video[b]
    within_k = np.where(same_video, d <= k_within, d <= p.threshold)
    contentful = same_video | ~(low_info[a] | low_info[b])
    a, b, d, same_video = (x[within_k & contentful] for x in (a, b, d, same_video))

    # 2. Whole-video duplicates across sources.
    video_matches, vpairs, vfrac = _video_matches(df, video, source, label, kind, a, b, p)
    candidate = video_matches["candidate"].to_numpy() if video_matches.height else np.zeros(0, bool)
    ident_class, ext_family, accepted = _identity_classes(video, family, vpairs, candidate, vfrac)
    video_matches = video_matches.drop("candidate").with_columns(
        identical=pl.Series(accepted, dtype=pl.Boolean),
        rejected_same_family=pl.Series(candidate & ~accepted, dtype=pl.Boolean),
    )
    ident_pairs = vpairs[accepted]

    # 3. Edge rules.
    allowed = np.ones(len(a), bool)
    diff_video = ~same_video
    same_ident = ident_class[video[a]] == ident_class[video[b]]
    allowed &= ~(diff_video & ~same_ident & (ext_family[a] == ext_family[b]))
    if not p.cross_label:
        allowed &= label[a] == label[b]
    if has_track:
        allowed &= ~(same_video & (track[a] != track[b]))
    a, b, d = a[allowed], b[allowed], d[allowed]

    # 4. Star groups around the earliest kept item.
    kept, dist = _star_groups(n, a, b, d)

    # 5. Reasons and tables.
    is_dup = kept != np.arange(n)
    reason = np.full(n, None, dtype=object)
    code = np.full(n, None, dtype=object)
    dv = np.flatnonzero(is_dup)
    kv = kept[dv]
    for r_idx, kidx in zip(dv.tolist(), kv.tolist(), strict=True):
        if video[r_idx] == video[kidx]:
            reason[r_idx] = REASON_RESAMPLED if frame[r_idx] == frame[kidx] else REASON_STATIC
        elif ident_class[video[r_idx]] == ident_class[video[kidx]]:
            reason[r_idx] = REASON_CROSS_DATASET
        elif dist[r_idx] == 0:
            reason[r_idx] = REASON_EXACT
        else:
            reason[r_idx] = f"{REASON_NEAR}(d={int(dist[r_idx])})"
        near = reason[r_idx].startswith(f"{REASON_NEAR}(")
        code[r_idx] = REASON_NEAR if near else reason[r_idx]
    item_ids = df["item_id"]
    group_rank = np.unique(kept, return_inverse=True)[1]
    decisions = pl.DataFrame(
        {
            "item_id": item_ids,
            "kind": df["kind"],
            "group_id": group_rank.astype(np.int64),
            "kept_item_id": item_ids.gather(kept),
            "is_duplicate": is_dup,
            "reason": pl.Series("reason", reason.tolist(), dtype=pl.String),
            "reason_code": pl.Series("reason_code", code.tolist(), dtype=pl.String),
            "distance": pl.Series("distance", np.where(is_dup, dist, 0), dtype=pl.Int16),
            "low_information": low_info,
        }
    )
    groups = (
        decisions.with_columns(df["source"], df["video_id"])
        .group_by("group_id")
        .agg(
            pl.col("kind").first(),
            pl.col("kept_item_id").first(),
            pl.len().alias("n_items"),
            pl.struct("source", "video_id").n_unique().alias("n_videos"),
            pl.col("source").n_unique().alias("n_sources"),
        )
        .filter(pl.col("n_items") > 1)
        .sort("group_id")
    )
    stats = {
        "n_items": n,
        "n_candidate_pairs": int(n_candidates),
        "n_allowed_edges": int(len(a)),
        "n_duplicates": int(is_dup.sum()),
        "n_groups": groups.height,
        "n_identical_video_pairs": int(len(ident_pairs)),
        "n_blocks": n_blocks_used,
        "threshold": p.threshold,
        "within_video_threshold": k_within,
    }
    return DedupResult(
        decisions=decisions,
        duplicates=decisions.filter(pl.col("is_duplicate")),
        groups=groups,
        video_matches=video_matches,
        stats=stats,
    )


def _hash_array(col: pl.Series) -> np.ndarray:
    if col.dtype == pl.UInt64:
        return col.to_numpy().astype(np.uint64)
    return col.cast(pl.Int64).to_numpy().astype(np.int64)


def _video_matches(
    df: pl.DataFrame,
    video: np.ndarray,
    source: np.ndarray,
    label: np.ndarray,
    kind: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    p: DedupParams,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Cross-source video pairs with matched items; ``identical`` when they mostly match.
    Returns the pair table, the pairs as video indices and their matched fractions."""
    cross = source[a] != source[b]
    a, b = a[cross], b[cross]
    swap = video[a] > video[b]  # orient pairs (lower video code first)
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    per_video_kind = pl.DataFrame({"v": video, "k": kind}).group_by(["v", "k"]).len("n")
    vinfo = df.select("source", "video_id", "label").with_columns(
        v=pl.Series(video), lab=pl.Series(label)
    )
    vinfo = vinfo.unique("v").sort("v")
    schema = {
        "source_a": pl.String,
        "video_id_a": pl.String,
        "source_b": pl.String,
        "video_id_b": pl.String,
        "kinds": pl.String,
        "matched_fraction": pl.Float64,
        "same_label": pl.Boolean,
        "candidate": pl.Boolean,
    }
    if len(a) == 0:
        return pl.DataFrame(schema=schema), np.zeros((0, 2), np.int64), np.zeros(0, np.float64)
    e = pl.DataFrame({"va": video[a], "vb": video[b], "k": kind[a], "ia": a, "ib": b})
    m = (
        e.group_by(["va", "vb", "k"])
        .agg(pl.col("ia").n_unique().alias("ma"), pl.col("ib").n_unique().alias("mb"))
        .join(per_video_kind.rename({"v": "va", "n": "na"}), on=["va", "k"])
        .join(per_video_kind.rename({"v": "vb", "n": "nb"}), on=["vb", "k"])
        .with_columns(
            frac=pl.min_horizontal(pl.col("ma") / pl.col("na"), pl.col("mb") / pl.col("nb")),
            enough=(pl.col("ma") >= p.video_min_items) & (pl.col("mb") >= p.video_min_items),
        )
    )
    # Every kind both videos have must match (a kind with no matched item counts as 0).
    kinds_a = per_video_kind.rename({"v": "va", "n": "na"})
    kinds_b = per_video_kind.rename({"v": "vb", "n": "nb"})
    pairs = m.select("va", "vb").unique()
    common = pairs.join(kinds_a, on="va").join(kinds_b, on=["vb", "k"])
    full = common.join(
        m.select("va", "vb", "k", "frac", "enough"), on=["va", "vb", "k"], how="left"
    )
    full = full.with_columns(pl.col("frac").fill_null(0.0), pl.col("enough").fill_null(False))
    kind_names = dict(zip(kind.tolist(), df["kind"].to_list(), strict=True))
    per_pair = (
        full.group_by(["va", "vb"])
        .agg(
            pl.col("frac").min().alias("matched_fraction"),
            (pl.col("enough").all() & (pl.col("frac").min() >= p.video_match_fraction)).alias(
                "match"
            ),
            pl.col("k").sort().alias("kc"),
        )
        .join(
            vinfo.rename(
                {
                    "v": "va",
                    "source": "source_a",
                    "video_id": "video_id_a",
                    "label": "label_a",
                    "lab": "lab_a",
                }
            ),
            on="va",
        )
        .join(
            vinfo.rename(
                {
                    "v": "vb",
                    "source": "source_b",
                    "video_id": "video_id_b",
                    "label": "label_b",
                    "lab": "lab_b",
                }
            ),
            on="vb",
        )
        .with_columns(same_label=pl.col("lab_a") == pl.col("lab_b"))
        .with_columns(
            candidate=pl.col("match") & (pl.col("same_label") | pl.lit(p.cross_label)),
            kinds=pl.col("kc").map_elements(
                lambda ks: ",".join(kind_names[x] for x in ks), return_dtype=pl.String
            ),
        )
        .sort(["va", "vb"])
    )
    out = per_pair.select(
        pl.col("source_a").cast(pl.String),
        pl.col("video_id_a").cast(pl.String),
        pl.col("source_b").cast(pl.String),
        pl.col("video_id_b").cast(pl.String),
        "kinds",
        "matched_fraction",
        "same_label",
        "candidate",
    )
    pairs = per_pair.select("va", "vb").to_numpy().astype(np.int64).reshape(-1, 2)
    return out, pairs, per_pair["matched_fraction"].to_numpy()


def _identity_classes(
    video: np.ndarray,
    family: np.ndarray,
    pairs: np.ndarray,
    candidate: np.ndarray,
    fraction: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identical-copy classes of videos, widened families, and which candidate pairs hold.

    Candidate pairs are accepted best match first (then by video order); a pair is rejected
    when it would put two videos of one family (an original and its fake, two siblings) into
    one class of copies - a video matching both ``A`` and ``A``'s fake is a copy of one of
    them at most. Families joined by an accepted pair become one, so a fake of ``A`` never
    links with the copy of ``A`` in another dataset either.
    Returns (class per video code, widened family per item, accepted mask over ``pairs``).
    """
    n_videos = int(video.max()) + 1 if len(video) else 0
    n_fam = int(family.max()) + 1 if len(family) else 0
    uv = _UnionFind(n_videos)
    uf = _UnionFind(n_fam)
    fam_of_video = np.zeros(n_videos, np.int64)
    fam_of_video[video] = family
    fams: dict[int, set[int]] = {}
    accepted = np.zeros(len(pairs), bool)
    order = sorted(np.flatnonzero(candidate).tolist(), key=lambda k: (-fraction[k], k))
    for k in order:
        va, vb = (int(x) for x in pairs[k])
        ra, rb = uv.find(va), uv.find(vb)
        if ra == rb:
            accepted[k] = True
            continue
        fa = fams.get(ra, {int(fam_of_video[va])})
        fb = fams.get(rb, {int(fam_of_video[vb])})
        if fa & fb:
            continue
        uv.union(va, vb)
        fams[uv.find(va)] = fa | fb
        uf.union(int(fam_of_video[va]), int(fam_of_video[vb]))
        accepted[k] = True
    ident_class = np.asarray([uv.find(v) for v in range(n_videos)], np.int64)
    fam_root = np.asarray([uf.find(f) for f in range(n_fam)], np.int64)
    return ident_class, (fam_root[family] if len(family) else family), accepted


def _star_groups(
    n: int, a: np.ndarray, b: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy star groups in index order; returns (kept index per item, distance to it)."""
    kept = np.arange(n, dtype=np.int64)
    dist = np.zeros(n, dtype=np.int64)
    if len(a) == 0:
        return kept, dist
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    comp_min = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(comp_min, comp, np.arange(n))
    comp_size = np.bincount(comp)
    # Fast path: the component's first item is adjacent to every other member.
    lead = a == comp_min[comp[a]]
    direct = np.zeros(n, bool)
    direct[b[lead]] = True
    n_direct = np.bincount(comp[direct], minlength=len(comp_size))
    star = (comp_size > 1) & (n_direct == comp_size - 1)
    members = star[comp] & direct
    kept[b[lead & members[b]]] = a[lead & members[b]]
    dist[b[lead & members[b]]] = d[lead & members[b]]
    # Slow path: greedy over the remaining multi-item components.
    slow_comp = (comp_size > 1) & ~star
    if slow_comp.any():
        in_slow = slow_comp[comp[a]]
        adj: dict[int, list[tuple[int, int]]] = {}
        for x, y, dd in zip(
            a[in_slow].tolist(), b[in_slow].tolist(), d[in_slow].tolist(), strict=True
        ):
            adj.setdefault(y, []).append((dd, x))  # y > x: x is visited first
        is_kept = np.ones(n, bool)
        for y in sorted(adj):
            best = min(((dd, x) for dd, x in adj[y] if is_kept[x]), default=None)
            if best is not None:
                is_kept[y] = False
                kept[y] = best[1]
                dist[y] = best[0]
    return kept, dist
