"""Placing groups so that the fewest bridging fakes are dropped, within the split ratios.

Under ``donors: drop_bridging`` groups are the identity graph's components *without* donor
edges. A *bridge* is a fake of group t whose donor belongs to group d != t: if t and d land in
different buckets (splits, levels or folds) the fake must be dropped, else the donor's face would
be on two sides. Minimising dropped fakes is a balanced k-way minimum cut of the group graph
(NP-hard), with some groups pinned (test-only) and the bucket shares bound to their targets.

`local_search` starts from the stratified greedy placement and improves it with seeded moves:
single moves of a group to the bucket holding most of its bridges, swaps with a group of similar
size in that bucket when a single move would break the ratios, then random perturbations
(iterated local search) keeping the best result. A state is better when it drops fewer fakes, or
as many with a smaller miss of the targets. Shares are those of the faces that stay (dropped
fakes no longer count), and no state whose largest share miss exceeds ``bound`` (the tolerance,
or the start's own miss if larger) is accepted, so the search never trades ratios for drops.

`exact_min_drops` enumerates every placement of a small case; the benchmark
(`benchmarks/placement_bench.py`) and the tests compare the two.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from deepfake_assets.splits.groups import greedy_assign

__all__ = [
    "Bridges",
    "SearchResult",
    "Placed",
    "dropped_mask",
    "kept_loads",
    "local_search",
    "exact_min_drops",
    "place_groups",
    "too_large_reason",
    "dropped_faces",
]


@dataclass(frozen=True)
class Bridges:
    """Bridging fakes as group positions: ``target[i]`` holds fake i, ``donor[i]`` holds its
    donor, ``faces[i]`` is its face count. ``cost[i]`` is what dropping it costs (1 per fake
    video by default)."""

    target: np.ndarray
    donor: np.ndarray
    faces: np.ndarray
    cost: np.ndarray

    @staticmethod
    def of(target, donor, faces, cost=None) -> Bridges:
        t = np.asarray(target, dtype=np.int64)
        c = np.ones(len(t), dtype=np.int64) if cost is None else np.asarray(cost, np.int64)
        return Bridges(t, np.asarray(donor, np.int64), np.asarray(faces, np.int64), c)

    def __len__(self) -> int:
        return len(self.target)


@dataclass(frozen=True)
class SearchResult:
    """Placement (bucket per group), what it drops, and how the search went."""

    assign: np.ndarray
    dropped_cost: int
    dropped_faces: int
    miss: float
    start_cost: int
    start_faces: int
    start_miss: float
    bound: float
    restarts: int


def dropped_mask(assign: np.ndarray, bridges: Bridges) -> np.ndarray:
    """Which bridging fakes are dropped under `assign`."""
    return assign[bridges.target] != assign[bridges.donor]


def kept_loads(
    assign: np.ndarray, sizes: np.ndarray, bridges: Bridges, n_buckets: int
) -> np.ndarray:
    """Faces per bucket that stay (group faces minus their dropped fakes)."""
    loads = np.bincount(assign, weights=sizes, minlength=n_buckets).astype(np.float64)
    lost = bridges.faces * dropped_mask(assign, bridges)
    return loads - np.bincount(assign[bridges.target], weights=lost, minlength=n_buckets)


def _miss(loads: np.ndarray, targets: np.ndarray) -> float:
    total = loads.sum()
    if total <= 0:
        return 0.0
    return float(np.abs(loads / total - targets).max())


class _State:
    """Buckets, kept loads and dropped cost, updated move by move (O(degree) per move)."""

    def __init__(self, assign, sizes, bridges: Bridges, n_buckets: int, targets) -> None:
        self.b = assign.astype(np.int64).copy()
        self.m = n_buckets
        self.targets = targets
        n = len(sizes)
        # faces of a group that never depend on the placement: all but its bridging fakes
        self.base = sizes.astype(np.float64) - np.bincount(
            bridges.target, weights=bridges.faces, minlength=n
        )
        # incident bridges per group: (other group, cost, faces that travel with *this* group
        # when it is in the other's bucket: its own fake's faces, or the other's fake's faces)
        inc: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for t, d, f, c in zip(
            bridges.target.tolist(),
            bridges.donor.tolist(),
            bridges.faces.tolist(),
            bridges.cost.tolist(),
            strict=True,
        ):
            inc[t].append((d, c, f))
            inc[d].append((t, c, f))
        self.inc = inc
        self.loads = kept_loads(self.b, sizes, bridges, n_buckets)
        self.cost = int(bridges.cost[dropped_mask(self.b, bridges)].sum())

    def effect(self, g: int, s: int) -> tuple[int, np.ndarray]:
        """(cost change, load change) of moving group g to bucket s."""
        a = int(self.b[g])
        delta = np.zeros(self.m)
        if a == s:
            return 0, delta
        conn_a = conn_s = 0
        f_a = f_s = 0.0
        b = self.b
        for h, c, f in self.inc[g]:
            bh = b[h]
            if bh == a:
                conn_a += c
                f_a += f
            elif bh == s:
                conn_s += c
                f_s += f
        delta[a] -= self.base[g] + f_a
        delta[s] += self.base[g] + f_s
        return conn_a - conn_s, delta

    def move(self, g: int, s: int) -> tuple[int, np.ndarray]:
        dc, dl = self.effect(g, s)
        self.b[g] = s
        self.cost += dc
        self.loads = self.loads + dl
        return dc, dl

    def miss(self) -> float:
        return _miss(self.loads, self.targets)


def _feasible(loads: np.ndarray, targets: np.ndarray, bound: float, keep: np.ndarray) -> bool:
    """Within `bound` of the targets, and no bucket in `keep` emptied."""
    return _miss(loads, targets) <= bound and bool((loads[keep] > 0).all())


def _better(cost: int, miss: float, best_cost: int, best_miss: float) -> bool:
    return cost < best_cost or (cost == best_cost and miss < best_miss - 1e-12)


def _descend(
    st: _State,
    movable: np.ndarray,
    sizes: np.ndarray,
    bound: float,
    keep: np.ndarray,
    rng: np.random.Generator,
    swap_candidates: int,
) -> None:
    """Improving moves and swaps until none is left (each strictly lowers (cost, miss))."""
    bridged = np.flatnonzero(movable & np.array([len(x) > 0 for x in st.inc], dtype=bool))
    if not len(bridged):
        return
    improved = True
    while improved:
        improved = False
        by_bucket = []
        for s in range(st.m):
            members = np.flatnonzero(movable & (st.b == s))
            by_bucket.append(members[np.argsort(sizes[members], kind="stable")])
        for g in rng.permutation(bridged).tolist():
            a = int(st.b[g])
            # the best (cost, miss) reachable from here, and how; starts at staying put
            best_cost, best_miss, action = st.cost, st.miss(), None
            for s in range(st.m):
                if s == a or st.targets[s] <= 0:
                    continue
                dc, dl = st.effect(g, s)
                if dc > 0:
                    continue
                loads = st.loads + dl
                miss = _miss(loads, st.targets)
                ok = _feasible(loads, st.targets, bound, keep)
                if ok and _better(st.cost + dc, miss, best_cost, best_miss):
                    best_cost, best_miss, action = st.cost + dc, miss, ("move", s, -1)
                if dc < 0:  # worth a swap if the move alone breaks the ratios
                    members = by_bucket[s]
                    k = int(np.searchsorted(sizes[members], sizes[g]))
                    lo, hi = max(0, k - swap_candidates), k + swap_candidates
                    for h in members[lo:hi].tolist():
                        if h == g or st.b[h] != s:
                            continue
                        dc1, _ = st.move(g, s)
                        dc2, _ = st.move(h, a)
                        miss2 = st.miss()
                        ok = _feasible(st.loads, st.targets, bound, keep)
                        st.move(h, s)
                        st.move(g, a)
                        total = st.cost + dc1 + dc2
                        if ok and _better(total, miss2, best_cost, best_miss):
                            best_cost, best_miss, action = total, miss2, ("swap", s, h)
            if action is not None:
                st.move(g, action[1])
                if action[0] == "swap":
                    st.move(action[2], a)
                improved = True


def local_search(
    assign: np.ndarray,
    sizes: Sequence[int] | np.ndarray,
    bridges: Bridges,
    targets: Sequence[float],
    *,
    movable: np.ndarray | None = None,
    tolerance: float = 0.02,
    bound: float | None = None,
    seed: int = 0,
    restarts: int = 20,
    swap_candidates: int = 8,
) -> SearchResult:
    """Improve `assign` (bucket per group) to drop fewer bridging fakes (see module doc).

    `movable`: groups the search may move (pinned ones: False). `bound`: the largest share miss
    accepted; default max(`tolerance`, the start's miss). Deterministic for a seed."""
    sizes = np.asarray(sizes, dtype=np.int64)
    targets_a = np.asarray(targets, dtype=np.float64)
    m = len(targets_a)
    start = np.asarray(assign, dtype=np.int64)
    movable = np.ones(len(sizes), bool) if movable is None else np.asarray(movable, bool)
    st = _State(start, sizes, bridges, m, targets_a)
    start_cost, start_miss = st.cost, st.miss()
    start_faces = int((bridges.faces * dropped_mask(start, bridges)).sum())
    bound = max(tolerance, start_miss) if bound is None else float(bound)
    keep = st.loads > 0  # buckets the start fills stay filled
    rng = np.random.default_rng(seed)
    _descend(st, movable, sizes, bound, keep, rng, swap_candidates)
    best_b, best_cost, best_miss = st.b.copy(), st.cost, st.miss()
    bridged = np.flatnonzero(movable & np.array([len(x) > 0 for x in st.inc], dtype=bool))
    open_buckets = [s for s in range(m) if targets_a[s] > 0]
    done = 0
    if len(bridged) > 1 and len(open_buckets) > 1:
        for _ in range(restarts):
            done += 1
            st = _State(best_b, sizes, bridges, m, targets_a)
            # perturb: a few bridged groups to random buckets, kept only while within bound
            k = max(2, len(bridged) // 8)
            for g in rng.choice(bridged, size=min(k, len(bridged)), replace=False).tolist():
                s = int(rng.choice(open_buckets))
                old = int(st.b[g])
                st.move(g, s)
                if not _feasible(st.loads, targets_a, bound, keep):
                    st.move(g, old)
            _descend(st, movable, sizes, bound, keep, rng, swap_candidates)
            ok = _feasible(st.loads, targets_a, bound, keep)
            if ok and _better(st.cost, st.miss(), best_cost, best_miss):
                best_b, best_cost, best_miss = st.b.copy(), st.cost, st.miss()
            if best_cost == 0:
                break
    faces = int((bridges.faces * dropped_mask(best_b, bridges)).sum())
    return SearchResult(
        assign=best_b,
        dropped_cost=int(best_cost),
        dropped_faces=faces,
        miss=float(best_miss),
        start_cost=int(start_cost),
        start_faces=start_faces,
        start_miss=float(start_miss),
        bound=float(bound),
        restarts=done,
    )


def exact_min_drops(
    sizes: Sequence[int] | np.ndarray,
    bridges: Bridges,
    targets: Sequence[float],
    bound: float,
    *,
    fixed: dict[int, int] | None = None,
    chunk: int = 65536,
) -> tuple[np.ndarray | None, int, float]:
    """The placement dropping the least cost among all with share miss <= `bound` and every
    bucket with a positive target holding faces (ties: the smaller miss), by enumeration: m ** n
    placements, for tests and benchmarks on small cases. Returns (assign or None when none is
    feasible, cost, miss)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    targets_a = np.asarray(targets, dtype=np.float64)
    m, n = len(targets_a), len(sizes)
    fixed = fixed or {}
    free = [g for g in range(n) if g not in fixed]
    best: tuple[np.ndarray | None, int, float] = (None, np.iinfo(np.int64).max, np.inf)
    combos = itertools.product(range(m), repeat=len(free))
    while True:
        block = np.array(list(itertools.islice(combos, chunk)), dtype=np.int64)
        if block.size == 0:
            break
        block = block.reshape(-1, len(free))
        full = np.empty((len(block), n), dtype=np.int64)
        for g, s in fixed.items():
            full[:, g] = s
        full[:, free] = block
        cut = full[:, bridges.target] != full[:, bridges.donor]
        cost = (cut * bridges.cost).sum(axis=1)
        loads = np.zeros((len(block), m))
        for s in range(m):
            loads[:, s] = ((full == s) * sizes).sum(axis=1) - (
                (full[:, bridges.target] == s) * cut * bridges.faces
            ).sum(axis=1)
        total = loads.sum(axis=1, keepdims=True)
        miss = np.abs(loads / np.where(total > 0, total, 1) - targets_a).max(axis=1)
        ok = (miss <= bound + 1e-12) & (loads[:, targets_a > 0] > 0).all(axis=1)
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        order = np.lexsort((miss[idx], cost[idx]))
        i = idx[order[0]]
        if _better(int(cost[i]), float(miss[i]), best[1], best[2]):
            best = (full[i].copy(), int(cost[i]), float(miss[i]))
    return best


# --------------------------------------------------------------------------------------------
# The driver shared by splits and folds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """A placement of `gids`: ``out`` (bucket per group), ``bridges`` (the bridging fakes whose
    two groups are both among `gids`, with ``bucket``, ``donor_bucket``, ``dropped``), the
    search's record (None without bridges) and, for donor-grouped placements, why the groups
    are too large for the ratios (None when they are not)."""

    out: np.ndarray
    bridges: pl.DataFrame
    search: SearchResult | None
    too_large: str | None


def too_large_reason(
    sizes: np.ndarray, out: np.ndarray, targets: Sequence[float], tolerance: float, what: str
) -> str | None:
    """Why a placement of whole groups cannot hold the ratios: its largest group holds more
    faces than the smallest positive target share, and the placement misses a target by more
    than `tolerance`. (A large group alone is no problem while the others can balance it.)"""
    total = float(sizes.sum())
    if total <= 0 or not len(sizes):
        return None
    t = np.asarray(targets, dtype=np.float64)
    loads = np.bincount(out, weights=sizes, minlength=len(t))
    miss = _miss(loads, t)
    largest = float(sizes.max()) / total
    smallest = float(t[t > 0].min())
    if largest > smallest and miss > tolerance:
        return (
            f"{what}: the largest identity component holds {largest:.3f} of the faces, more "
            f"than the smallest target share {smallest:.3f}, and whole components miss the "
            f"targets by {miss:.3f} (> {tolerance})"
        )
    return None


def place_groups(
    gids: np.ndarray,
    sizes: np.ndarray,
    counts: pl.DataFrame,
    strata: pl.DataFrame,
    ratios: Sequence[float],
    *,
    pinned: dict[int, int] | None = None,
    seed: int = 0,
    overall_weight: float = 2.0,
    bridging: pl.DataFrame | None = None,
    tolerance: float = 0.02,
    restarts: int = 20,
    what: str = "split",
) -> Placed:
    """Stratified greedy placement of the groups `gids` (sizes in faces), then, given the
    bridging fakes (`identity_graph.bridging_fakes`), the local search that drops fewest."""
    pinned = pinned or {}
    out = greedy_assign(
        gids, counts, strata, ratios, pinned=pinned, seed=seed, overall_weight=overall_weight
    )
    if bridging is None:
        reason = too_large_reason(sizes, out, ratios, tolerance, what)
        return Placed(out, _empty_bridges(), None, reason)
    pos = pl.DataFrame({"group_id": pl.Series(gids, dtype=pl.Int64), "_pos": np.arange(len(gids))})
    br = bridging.join(pos, on="group_id", how="inner").join(
        pos.rename({"group_id": "donor_group", "_pos": "_dpos"}), on="donor_group", how="inner"
    )
    search = None
    if br.height:
        bridges = Bridges.of(br["_pos"].to_numpy(), br["_dpos"].to_numpy(), br["n_faces"])
        movable = ~np.isin(gids, np.fromiter(pinned, dtype=np.int64, count=len(pinned)))
        search = local_search(
            out,
            sizes,
            bridges,
            ratios,
            movable=movable,
            tolerance=tolerance,
            seed=seed,
            restarts=restarts,
        )
        out = search.assign
    bucket = out[br["_pos"].to_numpy()] if br.height else np.zeros(0, np.int64)
    donor_bucket = out[br["_dpos"].to_numpy()] if br.height else np.zeros(0, np.int64)
    br = br.drop("_pos", "_dpos").with_columns(
        pl.Series("bucket", bucket, dtype=pl.Int64),
        pl.Series("donor_bucket", donor_bucket, dtype=pl.Int64),
        pl.Series("dropped", bucket != donor_bucket, dtype=pl.Boolean),
    )
    return Placed(out, br, search, None)


def dropped_faces(
    df: pl.DataFrame, dropped_videos: pl.DataFrame, names: Sequence, reason: str
) -> pl.DataFrame:
    """One row per face of a dropped fake (`df`: prepared faces; `dropped_videos`: rows of
    `Placed.bridges`; `names`: bucket index -> name): face_id, source, video_id,
    original_video_id, label, actor_id, donor_actor_id, group_id, donor_group, place (where the
    fake's group went), donor_place (where its donor's went), reason."""
    lookup = {i: str(n) for i, n in enumerate(names)}
    vids = dropped_videos.select(
        "_video",
        "donor_group",
        pl.col("bucket").replace_strict(lookup, return_dtype=pl.Utf8).alias("place"),
        pl.col("donor_bucket").replace_strict(lookup, return_dtype=pl.Utf8).alias("donor_place"),
    )
    return (
        df.join(vids, on="_video", how="inner")
        .select(
            "face_id",
            "source",
            "video_id",
            "original_video_id",
            "label",
            "actor_id",
            "donor_actor_id",
            "group_id",
            "donor_group",
            "place",
            "donor_place",
            pl.lit(reason).alias("reason"),
        )
        .sort("source", "video_id", "face_id", nulls_last=True)
    )


def _empty_bridges() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "_video": pl.UInt64,
            "source": pl.Utf8,
            "video_id": pl.Utf8,
            "donor_actor_id": pl.Utf8,
            "group_id": pl.Int64,
            "donor_group": pl.Int64,
            "n_faces": pl.UInt32,
            "test_only": pl.Boolean,
            "bucket": pl.Int64,
            "donor_bucket": pl.Int64,
            "dropped": pl.Boolean,
        }
    )
