"""Placing groups so that the fewest bridging fakes are dropped, within the split ratios.

Under ``donors: drop_bridging`` groups are the identity graph's components *without* donor
edges. A *bridge* is a fake of group t whose donor belongs to group d != t: if t and d land in
different buckets (splits, levels or folds) the fake must be dropped, else the donor's face would
be on two sides. Minimising dropped fakes is a balanced k-way minimum cut of the group graph
(NP-hard), with some groups pinned (test-only) and the bucket shares bound to their targets.

`local_search` starts from the stratified greedy placement and improves it with seeded moves:
single moves of a group to another bucket, swaps with a group of similar size there when a
single move would break the ratios, then random perturbations (iterated local search) keeping
the best result. States are ordered by (share miss beyond the tolerance, dropped fakes, share
miss), the tolerance of a bucket being the given one (2 points) or a quarter of its target when
that is less: the ratios come first, so the search never trades them for drops beyond it,
and within it drops as few fakes as it can. Shares are those of the faces that stay (dropped
fakes no longer count), because drops fall unevenly: a fake in a small split is more likely to
have its donor elsewhere.

`exact_min_drops` enumerates every placement of a small case; the benchmark
(`benchmarks/placement_bench.py`) and the tests compare the two.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from deepfake_assets.splits.groups import greedy_assign
from deepfake_assets.splits.identity_graph import BRIDGE_SCHEMA

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
    tolerance: float
    restarts: int
    excess: float = 0.0


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


def _miss(loads: np.ndarray, targets) -> float:
    total = loads.sum()
    if total <= 0:
        return 0.0
    return float(np.abs(loads / total - targets).max())


def _miss_list(loads: list[float], targets: list[float]) -> float:
    total = sum(loads)
    if total <= 0:
        return 0.0
    return max(abs(x / total - t) for x, t in zip(loads, targets, strict=True))


# A bucket's share may miss its target by the tolerance, or by this fraction of the target when
# that is less: at 80:15:5 and 2 points, test may be 3.75-6.25%, not 3-7%.
RELATIVE_TOLERANCE = 0.25


def bucket_tolerances(targets: Sequence[float], tolerance: float) -> list[float]:
    """How far each bucket's share may miss its target before it counts as off."""
    return [min(tolerance, RELATIVE_TOLERANCE * float(t)) for t in targets]


def _excess_list(loads: list[float], targets: list[float], tols: list[float]) -> float:
    total = sum(loads)
    if total <= 0:
        return 0.0
    return max(
        max(0.0, abs(x / total - t) - e) for x, t, e in zip(loads, targets, tols, strict=True)
    )


def _key(cost: int, excess: float, miss: float) -> tuple[float, int, float]:
    """What the search minimises, in order: how far a share misses its target beyond the
    bucket's tolerance, the dropped cost, the largest share miss (ties within 1e-12 equal)."""
    return (round(excess, 12), cost, round(miss, 12))


class _State:
    """Buckets, kept loads and dropped cost, updated move by move in O(degree).

    A group's *profile* is, per bucket s, the cost of its bridges to groups in s and the faces
    of those bridges (its own fakes whose donor is in s, and fakes in s whose donor it is; a
    bridge's faces always travel with the pair, whichever of the two holds the fake):
    moving g from a to s then drops conn[a] and keeps conn[s], and takes base[g] + F[s] faces
    to s while a loses base[g] + F[a]. Profiles are cached and dropped when a neighbour moves.
    Plain lists, not numpy: the buckets are 2..5 and numpy's per-call cost would dominate."""

    def __init__(self, assign, sizes, bridges: Bridges, n_buckets: int, targets, tol) -> None:
        n = len(sizes)
        self.b: list[int] = [int(x) for x in assign]
        self.m = n_buckets
        self.t = [float(x) for x in targets]
        self.tols = bucket_tolerances(targets, tol)
        base = np.asarray(sizes, np.float64) - np.bincount(
            bridges.target, weights=bridges.faces, minlength=n
        )
        self.base = base.tolist()
        # one entry per linked pair of groups (fakes between the same two groups add up)
        pair: dict[tuple[int, int], list[int]] = {}
        cols = (bridges.target, bridges.donor, bridges.faces, bridges.cost)
        for t, d, f, c in zip(*(x.tolist() for x in cols), strict=True):
            acc = pair.setdefault((min(t, d), max(t, d)), [0, 0])
            acc[0] += c
            acc[1] += f
        inc: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for (t, d), (c, f) in pair.items():
            inc[t].append((d, c, f))
            inc[d].append((t, c, f))
        self.inc = inc
        self.nbrs = [{h for h, _, _ in x} for x in inc]
        self.loads = kept_loads(np.asarray(self.b), np.asarray(sizes), bridges, n_buckets).tolist()
        self.cost = int(bridges.cost[dropped_mask(np.asarray(self.b), bridges)].sum())
        self._prof: dict[int, tuple[list[int], list[float]]] = {}

    def profile(self, g: int) -> tuple[list[int], list[float]]:
        p = self._prof.get(g)
        if p is None:
            conn, faces = [0] * self.m, [0.0] * self.m
            b = self.b
            for h, c, f in self.inc[g]:
                conn[b[h]] += c
                faces[b[h]] += f
            p = self._prof[g] = (conn, faces)
        return p

    def move(self, g: int, s: int) -> None:
        a = self.b[g]
        if a == s:
            return
        conn, faces = self.profile(g)
        self.cost += conn[a] - conn[s]
        self.loads[a] -= self.base[g] + faces[a]
        self.loads[s] += self.base[g] + faces[s]
        self.b[g] = s
        for h in self.nbrs[g]:
            self._prof.pop(h, None)

    def key(self) -> tuple[float, int, float]:
        return self.key_of(self.cost, self.loads)

    def key_of(self, cost: int, loads: list[float]) -> tuple[float, int, float]:
        excess = _excess_list(loads, self.t, self.tols)
        return _key(cost, excess, _miss_list(loads, self.t))

    def try_moves(self, moves: list[tuple[int, int]]) -> tuple[tuple[float, int, float], bool]:
        """(key, no kept bucket emptied) after `moves`, the state left as it was."""
        if len(moves) == 1 or not self.nbrs[moves[0][0]] & {g for g, _ in moves[1:]}:
            loads, cost = list(self.loads), self.cost
            for g, s in moves:  # independent moves: their effects add up
                a = self.b[g]
                conn, faces = self.profile(g)
                cost += conn[a] - conn[s]
                loads[a] -= self.base[g] + faces[a]
                loads[s] += self.base[g] + faces[s]
            return self.key_of(cost, loads), loads
        back = [(g, self.b[g]) for g, _ in moves]
        for g, s in moves:
            self.move(g, s)
        out = self.key(), list(self.loads)
        for g, s in reversed(back):
            self.move(g, s)
        return out


class _Search:
    """Worklist descent and perturbations over one `_State` (see `local_search`)."""

    def __init__(self, st: _State, sizes, movable, keep, rng, swap_candidates: int) -> None:
        self.st = st
        self.movable = movable.tolist()
        self.keep = [s for s in range(st.m) if keep[s]]
        self.rng = rng
        self.k = swap_candidates
        order = np.flatnonzero(movable)
        self.order = order[np.argsort(np.asarray(sizes)[order], kind="stable")].tolist()
        self.rank = {g: i for i, g in enumerate(self.order)}
        # per bucket, the size ranks of its movable groups, sorted
        self.members: list[list[int]] = [[] for _ in range(st.m)]
        for i, g in enumerate(self.order):
            self.members[st.b[g]].append(i)
        self.open = [s for s in range(st.m) if st.t[s] > 0]
        self.work = 0  # groups examined: the search's deterministic measure of effort

    def _ok(self, loads: list[float]) -> bool:
        return all(loads[s] > 0 for s in self.keep)

    def partners(self, g: int, s: int) -> list[int]:
        """Up to `k` movable groups in bucket s nearest to g in size."""
        i = self.rank.get(g)
        if i is None:
            return []
        members = self.members[s]
        j = bisect.bisect_left(members, i)
        lo = max(0, j - self.k // 2)
        return [self.order[r] for r in members[lo : lo + self.k] if r != i]

    def move(self, g: int, s: int) -> None:
        """`_State.move`, keeping the size-sorted members of each bucket."""
        a = self.st.b[g]
        r = self.rank.get(g)
        if a != s and r is not None:
            members = self.members[a]
            del members[bisect.bisect_left(members, r)]
            bisect.insort(self.members[s], r)
        self.st.move(g, s)

    def best_action(self, g: int, swaps: bool) -> list[tuple[int, int]] | None:
        st = self.st
        self.work += 1
        a = st.b[g]
        best, action = st.key(), None
        for s in self.open:
            if s == a:
                continue
            cands = [[(g, s)]]
            if swaps:
                cands += [[(g, s), (h, a)] for h in self.partners(g, s)]
            for moves in cands:
                k, loads = st.try_moves(moves)
                if k < best and self._ok(loads):
                    best, action = k, moves
        return action

    def descend(self, work: list[int]) -> None:
        """Improve until no move or swap of a queued group, and no balancing move, helps."""
        st = self.st
        queue = [g for g in self.rng.permutation(work).tolist() if self.movable[g]]
        queued = set(queue)
        while True:
            while queue:
                g = queue.pop()
                queued.discard(g)
                action = self.best_action(g, swaps=True)
                if action is None:
                    continue
                for h, s in action:
                    self.move(h, s)
                    for x in (h, *st.nbrs[h]):
                        if x not in queued and self.movable[x] and st.inc[x]:
                            queue.append(x)
                            queued.add(x)
            if st.key()[0] == 0:
                return
            moved = False  # shares off by more than the tolerance: any group may help
            for g in self.rng.permutation(self.order).tolist():
                action = self.best_action(g, swaps=False)
                if action is not None:
                    self.move(*action[0])
                    moved = True
                    for x in st.nbrs[g]:
                        if x not in queued and self.movable[x]:
                            queue.append(x)
                            queued.add(x)
            if not moved:
                return

    def perturb(self, bridged: list[int], n: int) -> list[int]:
        """Move n random bridged groups to another bucket, half of them swapped with a group
        of similar size there (the shares barely move); returns the groups to look at again."""
        st, touched = self.st, []
        for g in self.rng.choice(bridged, size=min(n, len(bridged)), replace=False).tolist():
            others = [s for s in self.open if s != st.b[g]]
            if not others:
                continue
            s = int(self.rng.choice(others))
            # half of the time a plain move: the descent's balancing brings the shares back
            partner = self.partners(g, s)[:1] if self.rng.random() < 0.5 else []
            moves = [(g, s)] + [(h, st.b[g]) for h in partner]
            _, loads = st.try_moves(moves)
            if not self._ok(loads):
                continue
            for h, t in moves:
                self.move(h, t)
                touched += [h, *st.nbrs[h]]
        return touched


def local_search(
    assign: np.ndarray,
    sizes: Sequence[int] | np.ndarray,
    bridges: Bridges,
    targets: Sequence[float],
    *,
    movable: np.ndarray | None = None,
    tolerance: float = 0.02,
    seed: int = 0,
    restarts: int = 100,
    max_work: int = 30_000,
    swap_candidates: int = 8,
) -> SearchResult:
    """Improve `assign` (bucket per group) to drop fewer bridging fakes (see module doc).

    `movable`: groups the search may move (pinned ones: False). Buckets the start fills are
    never emptied. Each restart perturbs the best placement so far (a few moves and swaps) and
    descends again from there; restarts stop after `restarts`, or once `max_work` groups have
    been examined after the first descent (a count, not a clock: deterministic for a seed)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    m = len(targets)
    start = np.asarray(assign, dtype=np.int64)
    movable = np.ones(len(sizes), bool) if movable is None else np.asarray(movable, bool)
    st = _State(start, sizes, bridges, m, targets, tolerance)
    start_cost, start_miss = st.cost, _miss_list(st.loads, st.t)
    start_faces = int((bridges.faces * dropped_mask(start, bridges)).sum())
    keep = np.asarray(st.loads) > 0  # buckets the start fills stay filled
    search = _Search(st, sizes, movable, keep, np.random.default_rng(seed), swap_candidates)
    bridged = [g for g in range(len(sizes)) if movable[g] and st.inc[g]]
    search.descend(bridged)
    best_b, best = list(st.b), st.key()
    done = 0
    search.work = 0
    if len(bridged) > 1 and len(search.open) > 1:
        for _ in range(restarts):
            if best[:2] == (0, 0) or search.work > max_work:
                break
            done += 1
            touched = search.perturb(bridged, max(2, min(len(bridged) // 8, 16)))
            search.descend(touched)
            now = st.key()
            if now < best:
                best_b, best = list(st.b), now
            else:  # back to the best placement
                for g, s in enumerate(best_b):
                    if st.b[g] != s:
                        search.move(g, s)
    final = np.asarray(best_b, dtype=np.int64)
    st = _State(final, sizes, bridges, m, targets, tolerance)
    return SearchResult(
        excess=float(st.key()[0]),
        assign=final,
        dropped_cost=int(st.cost),
        dropped_faces=int((bridges.faces * dropped_mask(final, bridges)).sum()),
        miss=float(_miss_list(st.loads, st.t)),
        start_cost=int(start_cost),
        start_faces=start_faces,
        start_miss=float(start_miss),
        tolerance=float(tolerance),
        restarts=done,
    )


def exact_min_drops(
    sizes: Sequence[int] | np.ndarray,
    bridges: Bridges,
    targets: Sequence[float],
    tolerance: float,
    *,
    fixed: dict[int, int] | None = None,
    chunk: int = 65536,
) -> tuple[np.ndarray, int, float, float]:
    """The best placement by `local_search`'s order (share misses beyond the buckets'
    tolerances, then dropped cost, then miss) among all that leave no bucket with a positive
    target empty, by enumeration of m ** n placements: for tests and benchmarks on small
    cases. Returns (assign, cost, miss, excess)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    targets_a = np.asarray(targets, dtype=np.float64)
    m, n = len(targets_a), len(sizes)
    fixed = fixed or {}
    free = [g for g in range(n) if g not in fixed]
    best_key, best = None, None
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
        ok = (loads[:, targets_a > 0] > 0).all(axis=1)
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        tols = np.asarray(bucket_tolerances(targets_a, tolerance))
        shares = loads / np.where(total > 0, total, 1)
        over = np.maximum(0.0, np.abs(shares - targets_a) - tols).max(axis=1)
        excess = np.round(over[idx], 12)
        order = np.lexsort((np.round(miss[idx], 12), cost[idx], excess))
        i = idx[order[0]]
        k = _key(int(cost[i]), float(over[i]), float(miss[i]))
        if best_key is None or k < best_key:
            best_key, best = k, (full[i].copy(), int(cost[i]), float(miss[i]), float(over[i]))
    if best is None:
        raise ValueError("no placement fills every bucket with a positive target")
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


def remainder_ratios(targets: Sequence[float], sizes: np.ndarray, out: np.ndarray) -> list[float]:
    """Targets for the groups not yet placed (out < 0), so that with the placed ones the
    buckets reach `targets`: what each bucket still lacks, normalised (a full bucket gets 0)."""
    t = np.asarray(targets, dtype=np.float64)
    placed = out >= 0
    have = np.bincount(out[placed], weights=sizes[placed], minlength=len(t))
    need = np.maximum(0.0, t * float(sizes.sum()) - have)
    if need.sum() <= 0:
        return t.tolist()
    return (need / need.sum()).tolist()


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
    restarts: int = 100,
    what: str = "split",
) -> Placed:
    """Stratified greedy placement of the groups `gids` (sizes in faces), then, given the
    bridging fakes (`identity_graph.bridging_fakes`), the local search that drops fewest."""
    pinned = pinned or {}
    out = np.full(len(gids), -1, dtype=np.int64)
    for i, g in enumerate(gids.tolist()):
        if g in pinned:
            out[i] = pinned[g]
    free = out < 0
    if free.any():
        # the greedy places the free groups alone, aiming at what the pinned ones leave: with
        # pinned faces in its strata it would push every stratum to the overall targets
        out[free] = greedy_assign(
            gids[free],
            counts,
            strata,
            remainder_ratios(ratios, sizes, out),
            seed=seed,
            overall_weight=overall_weight,
            filled=sorted(set(out[~free].tolist())),
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
            **BRIDGE_SCHEMA,
            "bucket": pl.Int64,
            "donor_bucket": pl.Int64,
            "dropped": pl.Boolean,
        }
    )
