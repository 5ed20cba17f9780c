"""Near-duplicate grouping of hashed frames and face crops, without quadratic comparisons.

Threshold (``DEFAULT_THRESHOLD = 4`` bits of 64), measured with :mod:`.hashing` on 14 face crops
(astronaut, Grace Hopper, the six people of the group photo, the single portrait, five frames
of the carphone video) and the carphone video itself; reproduce with
``benchmarks/identity_bench.py --sections thresholds`` (figures in its JSON):

==============================================  ==================================
same face crop, altered                         Hamming distance (max over crops)
==============================================  ==================================
JPEG q=30 / q=15                                2 / 4
downscale x0.5 / x0.3 and back                  2 / 2
brightness +10 % / -10 %, gamma 0.8             2 / 0 / 4
JPEG q=30 + x0.5 + brightness +8 %              2
==============================================  ==================================

==============================================  ==================================
different content                               Hamming distance
==============================================  ==================================
different people's face crops (81 pairs)        min 22, median 30
synthetic moving camera (2 px/frame + zoom)     consecutive frames 0-4; 2 frames
  over astronaut / Grace Hopper                 apart 2-6, 4 apart 6-10, 10 apart 14-16
real talking head (carphone, 30 fps)            consecutive: full frame 0-6 (99 % <= 4),
                                                face crop 0-16 (62 % <= 4); 10 frames
                                                apart: face crop 2-38 (4.5 % <= 4)
carphone vs its low-quality altered replicate   full frame 0-8 (74 % <= 4),
  (frame-aligned, like a fake of its original)  face crop 6-22 (0 % <= 4)
==============================================  ==================================

pHash distances are always even (each hash has exactly 32 set bits: median threshold), so the
threshold 4 accepts {0, 2, 4}: every re-encoded / rescaled / re-lit copy measured, with 18 bits
of margin to the closest pair of different people. It also flags frames of one video that are
static for consecutive frames (seed 000's intent), while frames of moving video a few frames
apart and different people are kept. The last row is why a fake is never compared with its
own original: at frame level they *are* near-duplicates.

Search (multi-index hashing). By the generalised pigeonhole principle, if two 64-bit hashes are
within ``k`` bits and are split into ``m`` disjoint blocks, at least one block differs in at most
``floor(k / m)`` bits. With ``m = k + 1`` that block is identical (exact bucketing); with fewer,
wider blocks each block is probed with its few 1-bit neighbours, far fewer random collisions.
``m`` is chosen by a cost model (probes x N + candidates, uniform-hash estimate); every
candidate is verified with a popcount, so the result equals brute force exactly (tested).

Grouping. Allowed edges are near pairs (``<= threshold``; ``<= within_video_threshold`` inside
one video) minus excluded ones:
* two different videos of one *family* (an original, its fakes, and sibling fakes; the family
  key is ``(source, family_id)``), widened through detected cross-dataset identical videos: a
  fake of ``A`` is never linked with ``A`` nor with the copy of ``A`` found in another dataset;
* different labels (``cross_label=False``): a real frame and a fake frame within a few bits are
  the manipulation being small, not a duplicate, and dropping either loses the label;
* different face tracks of one video (two people), when a ``track`` column is given;
* hashes with fewer than 16 or more than 48 set bits (flat / blank images: their pHash carries
  no content) outside their own video.
Groups are then *stars*, not connected components: items are visited in the order
``(source, video_id, frame_index, item_id)``; an item with an allowed edge to an existing kept
item becomes a duplicate of the nearest one (ties: earliest), otherwise it is kept. So every
duplicate is directly within the threshold of, and allowed with, the item it points to; union-find
transitivity can neither chain a slowly panning video into one frame nor re-link an excluded
pair (``A ~ X ~ B`` with ``A``, ``B`` one family ends as two groups or ``B`` pointing at ``X``
only if ``X`` is allowed with ``B``).

Cost. No pair of items is ever listed: a group of ``n`` identical hashes (a manifest listing
copies of a few files, a static video, blank frames) would be ``n^2 / 2`` pairs. The search runs
over *distinct* hashes (one per kind and value) and lists only the near pairs between distinct
values; whole-video matching counts over (video, distinct hash) cells; and the greedy visit finds
each item's earliest allowed kept item by three look-ups per reachable distinct hash (kept items
indexed by hash with video and track, by hash and label with the first kept item outside the
first one's family, and by hash, label and class of identical copies), so siblings are kept out
without being listed. Items whose hash is unique and has no near hash are not visited. Memory is
linear in the items plus the near pairs of distinct hashes and the matched video pairs; 100,000
identical hashes group in under a second (``benchmarks/dedup_bench.py``). The decisions equal
those of the pair-listing implementation, kept in the tests as a reference oracle.

Whole-video duplicates across datasets: two videos of *different* sources whose items mostly
match (``>= video_match_fraction`` of each video's items have a near partner in the other, and
at least ``video_min_items`` in each), with the same label, in every kind both videos have
(face crops separate a fake from its original where full frames cannot), are
``cross_dataset_identical_video``. Pairs are accepted best match first, and never so that one
class of copies would hold two videos of one family (a video matching both ``A`` and ``A``'s
fake copies one of them at most): ``video_matches`` lists every cross-source pair with matched
items, ``identical`` and ``rejected_same_family``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from .hashing import from_int64, hamming, popcount64

__all__ = [
    "DEFAULT_THRESHOLD",
    "REASON_CROSS_DATASET",
    "REASON_EXACT",
    "REASON_RESAMPLED",
    "REASON_STATIC",
    "DedupParams",
    "DedupResult",
    "choose_n_blocks",
    "group_duplicates",
    "near_pairs",
    "near_pairs_bruteforce",
]

DEFAULT_THRESHOLD = 4
REASON_EXACT = "exact_duplicate"
REASON_STATIC = "static_consecutive_frames"
REASON_RESAMPLED = "same_frame_resampled"
REASON_CROSS_DATASET = "cross_dataset_identical_video"
REASON_NEAR = "near_duplicate"  # reason reads near_duplicate(d=<bits>); reason_code this
_CHUNK_CANDIDATES = 8_000_000  # candidate pairs verified per numpy step (bounds memory)
_DIRECT_TABLE_MAX_BITS = 24  # blocks up to this width are bucketed with a direct-address table

REQUIRED_COLUMNS = (
    "item_id",
    "hash",
    "source",
    "video_id",
    "family_id",
    "frame_index",
    "label",
    "kind",
)


# --------------------------------------------------------------------------------------------
# Multi-index hashing
# --------------------------------------------------------------------------------------------


def _block_widths(n_blocks: int) -> list[int]:
    base, extra = divmod(64, n_blocks)
    return [base + (1 if j < extra else 0) for j in range(n_blocks)]


def _ball(width: int, radius: int) -> np.ndarray:
    """All ``width``-bit masks with at most ``radius`` bits set (0 first)."""
    masks = [0]
    for r in range(1, radius + 1):
        masks.extend(sum(1 << b for b in bits) for bits in combinations(range(width), r))
    return np.asarray(masks, dtype=np.uint64)


def _ball_size(width: int, radius: int) -> int:
    return sum(math.comb(width, r) for r in range(radius + 1))


def choose_n_blocks(n: int, threshold: int) -> int:
    """Blocks ``m`` in 1..threshold+1 minimising probes x N + 4 x expected candidates.

    ``m = threshold + 1`` (exact buckets) is cheapest for small N; for large N wider blocks
    probed at radius ``floor(threshold / m)`` avoid the N^2 / 2^w random bucket collisions
    (N = 1M, threshold 4: m = 3, about 67 probes and 25M candidates instead of 350M).
    """
    best, best_cost = threshold + 1, math.inf
    for m in range(1, threshold + 2):
        r = threshold // m
        cost = 0.0
        for w in _block_widths(m):
            probes = _ball_size(w, r)
            cost += probes * n + 4.0 * probes * n * (n / 2.0**w)
        if cost < best_cost:
            best, best_cost = m, cost
    return best


def near_pairs(
    hashes: np.ndarray, threshold: int = DEFAULT_THRESHOLD, n_blocks: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` with ``hamming(h[i], h[j]) <= threshold``: ``(i, j, d)`` arrays.

    Exactly the brute-force answer, found by multi-index hashing (see the module docstring).
    ``hashes`` are uint64 or stored int64. Output is sorted by ``(i, j)``.
    """
    h = from_int64(np.asarray(hashes))
    n = len(h)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8))
    if n < 2:
        return empty
    if threshold < 0:
        return empty
    m = n_blocks or choose_n_blocks(n, threshold)
    if not 1 <= m <= 64:
        raise ValueError("n_blocks must be in 1..64")
    radius = threshold // m
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    shift = 0
    for width in _block_widths(m):
        mask = np.uint64((1 << width) - 1)
        vals = (h >> np.uint64(shift)) & mask
        shift += width
        order = np.argsort(vals, kind="stable").astype(np.int64)
        sorted_vals = vals[order]
        if width <= _DIRECT_TABLE_MAX_BITS:
            counts = np.bincount(vals.astype(np.int64), minlength=1 << width)
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        else:
            counts = starts = None
        for flip in _ball(width, radius):
            q = vals ^ flip
            if counts is not None:
                qi = q.astype(np.int64)
                lo = starts[qi]
                cnt = counts[qi]
            else:
                lo = np.searchsorted(sorted_vals, q, side="left")
                cnt = np.searchsorted(sorted_vals, q, side="right") - lo
            _verify_ragged(h, order, lo, cnt, threshold, found_i, found_j)
    if not found_i:
        return empty
    ii = np.concatenate(found_i)
    jj = np.concatenate(found_j)
    key = np.unique(ii * np.int64(n) + jj)
    ii, jj = np.divmod(key, np.int64(n))
    return ii, jj, hamming(h[ii], h[jj])


def _verify_ragged(
    h: np.ndarray,
    order: np.ndarray,
    lo: np.ndarray,
    cnt: np.ndarray,
    threshold: int,
    out_i: list[np.ndarray],
    out_j: list[np.ndarray],
) -> None:
    """Expand query i -> bucket members ``order[lo[i]:lo[i]+cnt[i]]``, keep i<j within k."""
    queries = np.flatnonzero(cnt)
    if len(queries) == 0:
        return
    c = cnt[queries]
    bounds = np.concatenate(([0], np.cumsum(c)))
    start = 0
    while start < len(queries):
        stop = int(np.searchsorted(bounds, bounds[start] + _CHUNK_CANDIDATES, side="right")) - 1
        stop = max(stop, start + 1)
        q = queries[start:stop]
        cq = c[start:stop]
        total = int(cq.sum())
        qi = np.repeat(q, cq)
        offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cq) - cq, cq)
        pj = order[np.repeat(lo[q], cq) + offs]
        keep = qi < pj
        qi, pj = qi[keep], pj[keep]
        ok = hamming(h[qi], h[pj]) <= threshold
        if ok.any():
            out_i.append(qi[ok])
            out_j.append(pj[ok])
        start = stop


def near_pairs_bruteforce(
    hashes: np.ndarray, threshold: int = DEFAULT_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The O(N^2) reference for :func:`near_pairs` (tests, small N)."""
    h = from_int64(np.asarray(hashes))
    d = hamming(h[:, None], h[None, :])
    ii, jj = np.nonzero(np.triu(d <= threshold, k=1))
    return ii.astype(np.int64), jj.astype(np.int64), d[ii, jj]


# --------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DedupParams:
    """Knobs of :func:`group_duplicates`; defaults measured (module docstring)."""

    threshold: int = DEFAULT_THRESHOLD
    within_video_threshold: int | None = None  # None: same as threshold
    n_blocks: int | None = None  # None: cost model
    cross_label: bool = False  # link a real and a fake item of unrelated videos?
    video_match_fraction: float = 0.6
    video_min_items: int = 3
    informative_bits: tuple[int, int] = (16, 48)  # popcount range of a contentful pHash


@dataclass
class DedupResult:
    """``decisions``: one row per input item (item_id, kind, group_id, kept_item_id,
    is_duplicate, reason, reason_code, distance, low_information); ``duplicates``: its
    duplicate rows; ``groups``: one row per group of two or more (group_id, kind,
    kept_item_id, n_items, n_videos, n_sources); ``video_matches``: cross-source video pairs
    with matching items (source_a, video_id_a, source_b, video_id_b, kinds, matched_fraction,
    same_label, identical, rejected_same_family)."""

    decisions: pl.DataFrame
    duplicates: pl.DataFrame
    groups: pl.DataFrame
    video_matches: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


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


def group_duplicates(items: pl.DataFrame, params: DedupParams | None = None) -> DedupResult:
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
    low_info = _low_information(h, p.informative_bits)

    # 1. Each distinct hash once per kind, and the near pairs between distinct hashes: never
    #    the pairs of the items that share a hash.
    dh = _distinct_hashes(h, kind, df["kind"].to_list(), k_search, p)

    # 2. Whole-video duplicates across sources.
    video_matches, vpairs, vfrac, n_match_rows = _video_matches(
        df, video, source, label, kind, dh, p
    )
    candidate = video_matches["candidate"].to_numpy() if video_matches.height else np.zeros(0, bool)
    ident_class, ext_family, accepted = _identity_classes(video, family, vpairs, candidate, vfrac)
    video_matches = video_matches.drop("candidate").with_columns(
        identical=pl.Series(accepted, dtype=pl.Boolean),
        rejected_same_family=pl.Series(candidate & ~accepted, dtype=pl.Boolean),
    )
    ident_pairs = vpairs[accepted]

    # 3-4. Edge rules and star groups around the earliest kept item, item by item.
    kept, dist, loop_stats = _star_groups(
        dh,
        video=video,
        track=track,
        label=np.zeros(n, np.int64) if p.cross_label else label,
        family=ext_family,
        ident=ident_class[video],
        threshold=p.threshold,
        k_within=k_within,
    )

    # 5. Reasons and tables.
    is_dup = kept != np.arange(n)
    dv = np.flatnonzero(is_dup)
    kv = kept[dv]
    near = np.char.add(np.char.add("near_duplicate(d=", dist[dv].astype(str)), ")")
    reason_dup = np.where(
        video[dv] == video[kv],
        np.where(frame[dv] == frame[kv], REASON_RESAMPLED, REASON_STATIC),
        np.where(
            ident_class[video[dv]] == ident_class[video[kv]],
            REASON_CROSS_DATASET,
            np.where(dist[dv] == 0, REASON_EXACT, near),
        ),
    )
    reason = np.full(n, None, dtype=object)
    reason[dv] = reason_dup.astype(object)
    code = np.full(n, None, dtype=object)  # the reason without its numbers, to count by
    code[dv] = np.where(np.char.startswith(reason_dup, REASON_NEAR), REASON_NEAR, reason_dup)
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
        "n_distinct_hashes": len(dh.hashes),
        "n_distinct_hash_pairs": dh.n_pairs,
        "n_video_match_rows": n_match_rows,
        **loop_stats,
        "n_duplicates": int(is_dup.sum()),
        "n_groups": groups.height,
        "n_identical_video_pairs": int(len(ident_pairs)),
        "n_blocks": dh.n_blocks,
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


def _low_information(h: np.ndarray, informative_bits: tuple[int, int]) -> np.ndarray:
    bits = popcount64(h).astype(np.int64)
    return (bits < informative_bits[0]) | (bits > informative_bits[1])


@dataclass(frozen=True)
class _DistinctHashes:
    """Each (kind, hash) once, with the near pairs between distinct ones as a symmetric
    adjacency (CSR): memory linear in the distinct hashes and their pairs, however many items
    share a hash. Ids are ordered by kind, so the neighbours of an id share its kind."""

    hashes: np.ndarray  # uint64 per id
    kind: np.ndarray  # kind code per id
    low_info: np.ndarray  # bool per id
    multiplicity: np.ndarray  # items per id
    item_hash: np.ndarray  # id per item
    nbr_start: np.ndarray  # CSR offsets, len(ids) + 1
    nbr: np.ndarray  # neighbour ids (distinct hashes within k_search)
    nbr_d: np.ndarray  # their distances
    n_pairs: int  # near pairs of distinct hashes (each once)
    n_blocks: dict[str, int]


def _distinct_hashes(
    h: np.ndarray, kind: np.ndarray, kind_names: list[str], k_search: int, p: DedupParams
) -> _DistinctHashes:
    item_hash = np.zeros(len(h), np.int64)
    hashes, kinds, pa, pb, pd = [], [], [], [], []
    blocks: dict[str, int] = {}
    offset = 0
    for kc in np.unique(kind):
        idx = np.flatnonzero(kind == kc)
        uniq, inv = np.unique(h[idx], return_inverse=True)
        item_hash[idx] = inv.reshape(-1) + offset
        m = p.n_blocks or choose_n_blocks(len(uniq), k_search)
        blocks[kind_names[idx[0]]] = m
        i, j, d = near_pairs(uniq, k_search, n_blocks=m)
        pa.append(i + offset)
        pb.append(j + offset)
        pd.append(d.astype(np.int64))
        hashes.append(uniq)
        kinds.append(np.full(len(uniq), kc, np.int64))
        offset += len(uniq)
    uh = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    a = np.concatenate(pa) if pa else np.zeros(0, np.int64)
    b = np.concatenate(pb) if pb else np.zeros(0, np.int64)
    d = np.concatenate(pd) if pd else np.zeros(0, np.int64)
    src, dst, dd = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([d, d])
    order = np.lexsort((dst, src))
    counts = np.bincount(src, minlength=len(uh))
    return _DistinctHashes(
        hashes=uh,
        kind=np.concatenate(kinds) if kinds else np.zeros(0, np.int64),
        low_info=_low_information(uh, p.informative_bits),
        multiplicity=np.bincount(item_hash, minlength=len(uh)),
        item_hash=item_hash,
        nbr_start=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        nbr=dst[order],
        nbr_d=dd[order],
        n_pairs=len(a),
        n_blocks=blocks,
    )


def _matched_items(
    video: np.ndarray, source: np.ndarray, dh: _DistinctHashes, threshold: int
) -> tuple[pl.DataFrame, int]:
    """Per ordered pair of videos of different sources and kind: how many items of the first
    have a partner (a contentful item within ``threshold``) in the second, (x, y, k, m), and
    the rows built. Computed over (video, distinct hash) cells: identical items cost one row."""
    empty = pl.DataFrame(schema={"x": pl.Int64, "y": pl.Int64, "k": pl.Int64, "m": pl.Int64})
    # an item can have a partner only if its hash is shared or has a near hash
    u = dh.item_hash
    shared = (dh.multiplicity[u] > 1) | (np.diff(dh.nbr_start)[u] > 0)
    sel = np.flatnonzero(shared & ~dh.low_info[u])
    cells = (
        pl.DataFrame({"x": video[sel], "s": source[sel], "u": u[sel], "k": dh.kind[u[sel]]})
        .group_by("x", "s", "u", "k")
        .agg(pl.len().alias("cnt"))
    )
    if cells.is_empty() or cells["s"].n_unique() < 2:
        return empty, 0
    # hash-level partners: itself, and distinct contentful hashes within the threshold
    u_ids = np.repeat(np.arange(len(dh.hashes)), np.diff(dh.nbr_start))
    near = (dh.nbr_d <= threshold) & ~dh.low_info[u_ids] & ~dh.low_info[dh.nbr]
    present = cells["u"].unique().to_numpy()
    partners = pl.concat(
        [
            pl.DataFrame({"u": present, "v": present}),
            pl.DataFrame({"u": u_ids[near], "v": dh.nbr[near]}),
        ]
    )
    reach = cells.join(partners, on="u")
    targets = cells.select(pl.col("u").alias("v"), pl.col("x").alias("y"), pl.col("s").alias("t"))
    parts, n_rows = [], 0
    for s in cells["s"].unique().to_list():  # source by source: never same-source rows
        rows = reach.filter(pl.col("s") == s).join(targets.filter(pl.col("t") != s), on="v")
        n_rows += rows.height
        parts.append(
            rows.unique(["x", "u", "y"]).group_by("x", "y", "k").agg(pl.col("cnt").sum().alias("m"))
        )
    out = pl.concat(parts).with_columns(pl.col("x", "y", "k", "m").cast(pl.Int64))
    return out, n_rows


def _video_matches(
    df: pl.DataFrame,
    video: np.ndarray,
    source: np.ndarray,
    label: np.ndarray,
    kind: np.ndarray,
    dh: _DistinctHashes,
    p: DedupParams,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, int]:
    """Cross-source video pairs with matched items; ``identical`` when they mostly match.
    Returns the pair table, the pairs as video indices, their matched fractions and the
    number of matched item rows (``_matched_items``')."""
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
    directed, n_rows = _matched_items(video, source, dh, p.threshold)
    if directed.is_empty():
        return pl.DataFrame(schema=schema), np.zeros((0, 2), np.int64), np.zeros(0), n_rows
    # orient pairs (lower video code first): ma items of va match in vb, mb of vb in va
    m = (
        directed.filter(pl.col("x") < pl.col("y"))
        .rename({"x": "va", "y": "vb", "m": "ma"})
        .join(directed.rename({"x": "vb", "y": "va", "m": "mb"}), on=["va", "vb", "k"], how="inner")
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
            kinds=pl.col("kc")
            .list.eval(pl.element().replace_strict(kind_names, return_dtype=pl.String))
            .list.join(","),
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
    return out, pairs, per_pair["matched_fraction"].to_numpy(), n_rows


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
    idx = np.flatnonzero(candidate)
    order = idx[np.lexsort((idx, -np.asarray(fraction)[idx]))].tolist()  # best first, then k
    pair_list = pairs.tolist()
    video_family = fam_of_video.tolist()
    for k in order:
        va, vb = pair_list[k]
        ra, rb = uv.find(va), uv.find(vb)
        if ra == rb:
            accepted[k] = True
            continue
        fa = fams.get(ra, {video_family[va]})
        fb = fams.get(rb, {video_family[vb]})
        if not fa.isdisjoint(fb):
            continue
        uv.union(va, vb)
        big, small = (fa, fb) if len(fa) >= len(fb) else (fb, fa)
        big |= small  # in place, smaller into larger: a class of many copies stays linear
        fams[uv.find(va)] = big
        uf.union(video_family[va], video_family[vb])
        accepted[k] = True
    ident_class = np.asarray([uv.find(v) for v in range(n_videos)], np.int64)
    fam_root = np.asarray([uf.find(f) for f in range(n_fam)], np.int64)
    return ident_class, (fam_root[family] if len(family) else family), accepted


def _star_groups(
    dh: _DistinctHashes,
    *,
    video: np.ndarray,
    track: np.ndarray,
    label: np.ndarray,
    family: np.ndarray,
    ident: np.ndarray,
    threshold: int,
    k_within: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Greedy star groups in index order; returns (kept index per item, distance to it, stats).

    Item ``y`` becomes a duplicate of the nearest earlier kept item it may link with (ties:
    the earliest), else it is kept. No pair of items is listed: kept items are indexed by
    their distinct hash, and for each hash within reach of ``y`` three look-ups give the
    earliest kept item the edge rules allow there:
    * same video: keyed by (hash, video, track, label), within ``k_within``;
    * another family: keyed by (hash, label), the first kept item and the first of a family
      other than its own (one of the two is outside ``y``'s family);
    * an identical copy of ``y``'s video (same identity class): keyed by (hash, label, class),
      the first kept item and the first of another video than its own.
    Items whose hash is unique and has no near hash are kept without a visit. ``label`` is
    all zeros when labels may link.
    """
    n = len(video)
    kept = np.arange(n, dtype=np.int64)
    dist = np.zeros(n, dtype=np.int64)
    degree = np.diff(dh.nbr_start)
    item_hash = dh.item_hash
    visit = np.flatnonzero((dh.multiplicity[item_hash] > 1) | (degree[item_hash] > 0))
    # the loop works on the visited items only, in local indices (same order)
    hash_of, vid = item_hash[visit].tolist(), video[visit].tolist()
    trk, lab = track[visit].tolist(), label[visit].tolist()
    fam, cls = family[visit].tolist(), ident[visit].tolist()
    kept_local = list(range(len(visit)))
    dist_local = [0] * len(visit)
    informative = (~dh.low_info).tolist()
    nbr_start, nbr, nbr_d = dh.nbr_start.tolist(), dh.nbr.tolist(), dh.nbr_d.tolist()
    same: dict[tuple[int, int, int, int], int] = {}
    other: dict[tuple[int, int], list] = {}  # [first, first of another family, all kept]
    copies: dict[tuple[int, int, int], list[int]] = {}  # [first, first of another video]
    for y in range(len(visit)):
        uy, vy, ty, ly, fy, cy = hash_of[y], vid[y], trk[y], lab[y], fam[y], cls[y]
        best_d, best_x = 1 << 30, -1
        lo, hi = nbr_start[uy], nbr_start[uy + 1]
        for slot in range(lo - 1, hi):
            v, d = (uy, 0) if slot < lo else (nbr[slot], nbr_d[slot])
            if d > best_d:
                continue
            if d <= k_within:
                x = same.get((v, vy, ty, ly), -1)
                if x >= 0 and (d, x) < (best_d, best_x):
                    best_d, best_x = d, x
            if d <= threshold and informative[uy] and informative[v]:
                e = other.get((v, ly))
                if e is not None:
                    x = e[0] if fam[e[0]] != fy else e[1]
                    if x >= 0 and vid[x] == vy:  # only when one video's items name two families
                        x = next((z for z in e[2] if fam[z] != fy and vid[z] != vy), -1)
                    if x >= 0 and (d, x) < (best_d, best_x):
                        best_d, best_x = d, x
                c = copies.get((v, ly, cy))
                if c is not None:
                    x = c[0] if vid[c[0]] != vy else c[1]
                    if x >= 0 and (d, x) < (best_d, best_x):
                        best_d, best_x = d, x
        if best_x >= 0:
            kept_local[y], dist_local[y] = best_x, best_d
            continue
        same.setdefault((uy, vy, ty, ly), y)
        if informative[uy]:
            e = other.get((uy, ly))
            if e is None:
                other[(uy, ly)] = [y, -1, [y]]
            else:
                if e[1] < 0 and fam[y] != fam[e[0]]:
                    e[1] = y
                e[2].append(y)
            c = copies.get((uy, ly, cy))
            if c is None:
                copies[(uy, ly, cy)] = [y, -1]
            elif c[1] < 0 and vid[y] != vid[c[0]]:
                c[1] = y
    kept[visit] = visit[np.asarray(kept_local, np.int64)]
    dist[visit] = dist_local
    stats = {
        "n_visited_items": len(visit),
        "n_index_entries": len(same) + len(other) + len(copies),
    }
    return kept, dist, stats
