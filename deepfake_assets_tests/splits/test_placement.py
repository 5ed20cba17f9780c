"""The drop-minimising placement against exact enumeration on cases small enough to solve."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_assets.splits.placement import (
    Bridges,
    _key,
    _State,
    dropped_mask,
    exact_min_drops,
    kept_loads,
    local_search,
    remainder_ratios,
)


def random_case(seed: int, n: int) -> tuple[np.ndarray, Bridges]:
    """n groups of 10..80 faces, each with 1..3 fakes (as many faces) wearing another's face."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(10, 81, n)
    t, d, f = [], [], []
    for g in range(n):
        for _ in range(int(rng.integers(1, 4))):
            h = int(rng.integers(0, n - 1))
            t.append(g)
            d.append(h + (h >= g))
            f.append(int(sizes[g]))
    return sizes + np.bincount(t, weights=f, minlength=n).astype(np.int64), Bridges.of(t, d, f)


def test_exact_solver_on_a_case_worked_by_hand() -> None:
    # four groups of 10 faces; 0 <-> 1 and 2 <-> 3 swap faces (one fake of 5 faces each way)
    bridges = Bridges.of([0, 1, 2, 3], [1, 0, 3, 2], [5, 5, 5, 5])
    sizes = np.array([15, 15, 15, 15])
    assign, cost, miss, _ = exact_min_drops(sizes, bridges, [0.5, 0.5], 0.02)
    assert cost == 0 and miss == 0.0
    assert assign[0] == assign[1] and assign[2] == assign[3] and assign[0] != assign[2]
    # 3 equal buckets: cutting one pair keeps 30:10:10 (miss 0.267); the ratios come first, so
    # both pairs are cut (4 fakes) for 20:10:10 (miss 1/6)
    _, cost, miss, _ = exact_min_drops(sizes, bridges, [1 / 3] * 3, 0.02)
    assert cost == 4
    assert miss == pytest.approx(0.5 - 1 / 3)


@pytest.mark.parametrize("seed", range(6))
def test_local_search_reaches_the_optimum_on_small_cases(seed: int) -> None:
    sizes, bridges = random_case(seed, 8)
    targets = [0.6, 0.2, 0.2]
    start = np.random.default_rng(seed).choice(3, size=len(sizes), p=targets)
    start[:3] = [0, 1, 2]  # every bucket filled at the start
    found = local_search(start, sizes, bridges, targets, seed=seed, restarts=200)
    _, cost, miss, excess = exact_min_drops(sizes, bridges, targets, 0.02)
    assert _key(found.dropped_cost, found.excess, found.miss) <= _key(cost, excess, miss)
    assert found.dropped_cost <= found.start_cost or found.start_miss > 0.02


def test_search_state_matches_a_recount_after_every_move() -> None:
    sizes, bridges = random_case(11, 12)
    rng = np.random.default_rng(0)
    start = rng.integers(0, 3, len(sizes))
    st = _State(start, sizes, bridges, 3, [0.8, 0.15, 0.05], 0.02)
    for _ in range(200):
        st.move(int(rng.integers(0, len(sizes))), int(rng.integers(0, 3)))
        b = np.asarray(st.b)
        assert st.loads == pytest.approx(kept_loads(b, sizes, bridges, 3).tolist())
        assert st.cost == int(bridges.cost[dropped_mask(b, bridges)].sum())


def test_pinned_groups_never_move_and_the_rest_aims_at_what_they_leave() -> None:
    sizes, bridges = random_case(5, 10)
    movable = np.ones(len(sizes), bool)
    movable[[0, 1]] = False
    start = np.array([2, 2, 0, 0, 0, 0, 0, 1, 1, 0])
    found = local_search(start, sizes, bridges, [0.6, 0.2, 0.2], movable=movable, seed=0)
    assert found.assign[0] == 2 and found.assign[1] == 2
    out = np.full(4, -1)
    out[0] = 2
    rest = remainder_ratios([0.5, 0.3, 0.2], np.array([30, 10, 30, 30]), out)
    # test already holds 30 of 100 (more than its 20): the rest goes 50:30 to train and val
    assert rest == pytest.approx([0.625, 0.375, 0.0])
