"""Frame sampling plans: which frames of which video get decoded, reproducibly.

Every random choice is drawn from a generator seeded by a stable hash (BLAKE2b) of the run
seed and the video id, never Python's salted ``hash``: the same seed gives the same plan on
every machine and every run, and adding a video to a source does not change the others'
plans (except, for ``balanced``, how many frames each one takes).

Strategies
----------
``first_and_even`` (seed 001)
    The first ``first`` frames, then ``evenly`` frames at the centres of ``evenly`` equal
    segments of the rest of the video. Centres rather than segment ends, because the last
    frame a container announces is often missing or undecodable.
``uniform`` (DeepfakeBench)
    ``num_frames`` frames ``np.linspace(0, n - 1, num_frames)`` truncated to int.
``balanced`` (seed 000)
    Random frames, a different count per video, such that within one source dataset the
    REAL frames total equals the FAKE frames total. Definition (all integer, seeded):

    1. Each fake asks for ``d = min(frames_per_fake, its length, max_frames_per_video,
       its original's capacity)`` frames; an orphan fake (original not in the table) the
       same without the original's bound. ``F = sum(d)`` is the fake total wanted.
    2. Each real video has capacity ``min(length, max_frames_per_video)`` and a floor equal
       to the largest ``d`` among its fakes (every fake takes a *subset* of its original's
       plan, so the original needs at least that many). ``F`` frames are spread over the
       reals by water-filling: everyone gets the same count, capped by capacity, floors
       respected, the integer remainder handed out in seeded order. A dataset with five
       fakes per real therefore takes about five times more frames from each real video.
    3. If the reals cannot hold ``F`` frames (short or few real videos), the fakes are
       trimmed by the same water-filling down to the real total.
    4. Real videos draw their frames at random (seeded by video id); each fake draws a
       random subset of its original's frames (seeded by the fake's id), only among the
       frames the fake actually has. Orphan fakes draw their own random frames.
    5. Whatever imbalance is left (a fake shorter than its original's chosen frames, a source
       with no real video) is reported as ``residual = real_frames - fake_frames``.

    A source with no fakes at all cannot be balanced; its reals then take
    ``real_only_frames`` frames each and the report says so.

Fakes under ``first_and_even`` and ``uniform`` copy their original's plan exactly (the frames
past the fake's own end dropped and reported), because the fake crops reuse the original's
boxes. Videos shorter than the plan asks take every frame they have and are flagged ``short``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import polars as pl

STRATEGIES = ("first_and_even", "uniform", "balanced")

REAL = "REAL"
FAKE = "FAKE"

PLAN_SCHEMA = {"video_id": pl.Utf8, "frame_index": pl.Int64, "plan_round": pl.Int32}
PLAN_VIDEOS_SCHEMA = {
    "video_id": pl.Utf8,
    "label": pl.Utf8,
    "original_video_id": pl.Utf8,
    "frame_count": pl.Int64,
    "requested": pl.Int64,
    "planned": pl.Int64,
    "short": pl.Boolean,
    "reason": pl.Utf8,
}


@dataclass(frozen=True)
class SamplingParams:
    """Knobs of all strategies; each strategy reads only its own."""

    first: int = 10  # first_and_even: leading consecutive frames
    evenly: int = 7  # first_and_even: evenly spaced frames over the rest
    num_frames: int = 32  # uniform
    frames_per_fake: int = 4  # balanced: frames each fake asks for
    max_frames_per_video: int = 64  # balanced: cap on any one video
    real_only_frames: int = 4  # balanced: per real when the source has no fakes

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"sampling parameter {f.name} must be >= 0")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class SourcePlan:
    """Plan of one source dataset.

    ``frames``: one row per planned frame (``PLAN_SCHEMA``), ``plan_round`` 0.
    ``videos``: one row per input video (``PLAN_VIDEOS_SCHEMA``) with what was asked, what was
    planned and why they differ (``short``, ``reason``), so no video silently vanishes.
    ``balance``: real/fake frame totals and the residual (for ``balanced``; informative for all).
    """

    strategy: str
    seed: int
    params: SamplingParams
    frames: pl.DataFrame
    videos: pl.DataFrame
    balance: dict[str, object]

    def indices(self, video_id: str) -> list[int]:
        """The planned frame indices of one video, sorted."""
        return sorted(self.frames.filter(pl.col("video_id") == video_id)["frame_index"].to_list())

    def as_dict(self) -> dict[str, list[int]]:
        """``video_id -> sorted indices`` for every video with a plan."""
        out: dict[str, list[int]] = {}
        for vid, idx in zip(
            self.frames["video_id"].to_list(), self.frames["frame_index"].to_list(), strict=True
        ):
            out.setdefault(vid, []).append(idx)
        return {k: sorted(v) for k, v in out.items()}


# --------------------------------------------------------------------------- seeding


def stable_seed(*parts: object) -> int:
    """A 64-bit integer from the parts' text, identical across processes and machines."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A numpy generator for (seed, keys...), e.g. ``rng_for(seed, video_id)``."""
    return np.random.default_rng(stable_seed(seed, *keys))


# --------------------------------------------------------------------------- one video


def first_and_even_indices(frame_count: int, first: int = 10, evenly: int = 7) -> list[int]:
    """Seed 001: frames ``0..first-1`` then ``evenly`` segment centres over the rest."""
    n = max(int(frame_count), 0)
    head = list(range(min(first, n)))
    lo = len(head)
    rest = n - lo
    if evenly <= 0 or rest <= 0:
        return head
    if rest <= evenly:
        return head + list(range(lo, n))
    step = rest / evenly
    tail = [lo + int((i + 0.5) * step) for i in range(evenly)]
    return head + sorted(set(tail))


def uniform_indices(frame_count: int, num_frames: int) -> list[int]:
    """DeepfakeBench: ``linspace(0, n-1, num_frames)`` truncated; every frame when short."""
    n = max(int(frame_count), 0)
    if num_frames <= 0 or n == 0:
        return []
    if n <= num_frames:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, num_frames, endpoint=True).astype(int).tolist()))


def random_indices(frame_count: int, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` distinct random frames (all of them when the video is shorter), sorted."""
    n = max(int(frame_count), 0)
    k = min(max(int(count), 0), n)
    if k == 0:
        return []
    return sorted(rng.choice(n, size=k, replace=False).tolist())


def random_subset(indices: Sequence[int], count: int, rng: np.random.Generator) -> list[int]:
    """A random ``count``-subset of ``indices`` (all of them when fewer), sorted."""
    pool = sorted(set(int(i) for i in indices))
    k = min(max(int(count), 0), len(pool))
    if k == 0:
        return []
    chosen = rng.choice(len(pool), size=k, replace=False)
    return sorted(pool[i] for i in chosen.tolist())


def shift_indices(indices: Iterable[int], offset: int, frame_count: int | None) -> list[int]:
    """A retry plan (seed 001: +20 frames per try): every index moved by ``offset``.

    Indices pushed past the last frame wrap around to the start of the video (modulo
    ``frame_count``), so a retry keeps its frame count instead of running off the end; with
    an unknown ``frame_count`` they are kept as is and the decoder reports them missing.
    Duplicates created by wrapping are merged. Sorted.
    """
    out = set()
    for i in indices:
        j = int(i) + int(offset)
        if frame_count is not None and frame_count > 0:
            j %= int(frame_count)
        if j >= 0:
            out.add(j)
    return sorted(out)


def resample_plan(
    plan: pl.DataFrame,
    offset: int,
    frame_counts: Mapping[str, int | None] | pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The plan of the next try: indices shifted by ``offset`` (see ``shift_indices``).

    ``frame_counts`` maps video id to frame count (or is a table with ``video_id`` and
    ``frame_count``); videos without one are shifted without wrapping. ``plan_round`` + 1.
    """
    if isinstance(frame_counts, pl.DataFrame):
        frame_counts = dict(
            zip(
                frame_counts["video_id"].to_list(),
                frame_counts["frame_count"].to_list(),
                strict=True,
            )
        )
    counts = frame_counts or {}
    rows: list[tuple[str, int, int]] = []
    for (vid,), part in plan.group_by(["video_id"], maintain_order=True):
        rnd = int(part["plan_round"].max()) + 1 if part.height else 1
        for j in shift_indices(part["frame_index"].to_list(), offset, counts.get(vid)):
            rows.append((vid, j, rnd))
    return _plan_frame(rows)


# --------------------------------------------------------------------------- one source


def water_fill(
    caps: Sequence[int],
    total: int,
    rng: np.random.Generator,
    floors: Sequence[int] | None = None,
) -> np.ndarray:
    """Spread ``total`` units as evenly as possible with ``floors <= a <= caps`` (integers).

    The largest common level ``L`` with ``sum(clip(L, floors, caps)) <= total`` is found, and
    the remainder goes one unit each to items that can still grow, chosen in seeded order.
    ``total`` is clamped to ``[sum(floors), sum(caps)]``.
    """
    c = np.asarray(caps, dtype=np.int64)
    f = np.zeros_like(c) if floors is None else np.minimum(np.asarray(floors, np.int64), c)
    if c.size == 0:
        return c
    total = int(min(max(total, int(f.sum())), int(c.sum())))
    lo, hi = 0, int(c.max())
    while lo < hi:  # largest L with sum(clip(L)) <= total
        mid = (lo + hi + 1) // 2
        if int(np.clip(mid, f, c).sum()) <= total:
            lo = mid
        else:
            hi = mid - 1
    a = np.clip(lo, f, c)
    rem = total - int(a.sum())
    if rem > 0:
        eligible = np.flatnonzero((f <= lo) & (lo < c))
        pick = rng.permutation(eligible)[:rem]
        a[pick] += 1
    return a


def _plan_frame(rows: list[tuple[str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PLAN_SCHEMA, orient="row").sort(["video_id", "frame_index"])


def _norm_label(value: object) -> str:
    text = str(value).strip().upper()
    if text in {"REAL", "0", "ORIGINAL", "PRISTINE"}:
        return REAL
    if text in {"FAKE", "1", "MANIPULATED"}:
        return FAKE
    raise ValueError(f"unknown label {value!r} (expected REAL or FAKE)")


def plan_source(
    videos: pl.DataFrame,
    strategy: str,
    seed: int,
    params: SamplingParams | None = None,
    **overrides: int,
) -> SourcePlan:
    """Plan every video of one source dataset.

    ``videos`` needs ``video_id``, ``label`` (REAL/FAKE) and ``frame_count`` (null = unknown);
    ``original_video_id`` (a fake's original) is optional. Fakes whose original is not in the
    table are orphans and get a plan of their own. Keyword overrides replace fields of
    ``params`` (``plan_source(t, "uniform", 7, num_frames=8)``).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {strategy!r}; expected one of {STRATEGIES}")
    p = replace(params or SamplingParams(), **overrides)
    missing = {"video_id", "label", "frame_count"} - set(videos.columns)
    if missing:
        raise ValueError(f"videos table lacks columns {sorted(missing)}")
    vids = [str(v) for v in videos["video_id"].to_list()]
    if len(set(vids)) != len(vids):
        raise ValueError("video_id values must be unique within a source")
    labels = [_norm_label(v) for v in videos["label"].to_list()]
    counts = [None if c is None else int(c) for c in videos["frame_count"].to_list()]
    origs_raw = (
        videos["original_video_id"].to_list()
        if "original_video_id" in videos.columns
        else [None] * len(vids)
    )
    origs = [None if o is None or str(o) == "" else str(o) for o in origs_raw]

    info = {
        v: {"label": lab, "orig": o if lab == FAKE else None, "fc": fc}
        for v, lab, o, fc in zip(vids, labels, origs, counts, strict=True)
    }
    real_ids = [v for v in vids if info[v]["label"] == REAL]
    real_set = set(real_ids)

    plans: dict[str, list[int]] = {}
    requested: dict[str, int] = {}
    reasons: dict[str, str | None] = {v: None for v in vids}
    short: dict[str, bool] = {v: False for v in vids}

    def usable(v: str) -> bool:
        fc = info[v]["fc"]
        if fc is None:
            reasons[v] = "unknown_frame_count"
            return False
        if fc <= 0:
            reasons[v] = "empty_video"
            return False
        return True

    if strategy == "balanced":
        balance = _plan_balanced(vids, info, real_ids, seed, p, plans, requested, reasons, short)
    else:

        def own(v: str) -> list[int]:
            fc = info[v]["fc"]
            if strategy == "first_and_even":
                want = p.first + p.evenly
                idx = first_and_even_indices(fc, p.first, p.evenly)
            else:
                want = p.num_frames
                idx = uniform_indices(fc, p.num_frames)
            requested[v] = want
            if len(idx) < want:
                short[v] = True
                reasons[v] = f"too_few_frames: has {fc}, plan asks {want}"
            return idx

        for v in real_ids:
            plans[v] = own(v) if usable(v) else []
            requested.setdefault(v, 0)
        for v in vids:
            if info[v]["label"] != FAKE:
                continue
            o = info[v]["orig"]
            if o is None or o not in real_set:
                if usable(v):
                    plans[v] = own(v)
                    reasons[v] = _join(reasons[v], "orphan_fake")
                else:
                    plans[v] = []
                continue
            base = plans.get(o, [])
            requested[v] = len(base)
            if not base:
                plans[v] = []
                reasons[v] = "original_has_no_plan"
                continue
            fc = info[v]["fc"]
            kept = [i for i in base if fc is None or i < fc]
            plans[v] = kept
            if len(kept) < len(base):
                short[v] = True
                reasons[v] = f"shorter_than_original: has {fc}, original plan reaches {base[-1]}"
        real_total = sum(len(plans.get(v, [])) for v in real_ids)
        fake_total = sum(len(plans.get(v, [])) for v in vids if info[v]["label"] == FAKE)
        balance = {
            "real_frames": real_total,
            "fake_frames": fake_total,
            "residual": real_total - fake_total,
            "note": "not balanced by design (fakes copy their original's frames)",
        }

    rows = [(v, int(i), 0) for v in vids for i in plans.get(v, [])]
    video_rows = [
        (
            v,
            info[v]["label"],
            info[v]["orig"],
            info[v]["fc"],
            int(requested.get(v, 0)),
            len(plans.get(v, [])),
            bool(short[v]),
            reasons[v],
        )
        for v in vids
    ]
    return SourcePlan(
        strategy=strategy,
        seed=int(seed),
        params=p,
        frames=_plan_frame(rows),
        videos=pl.DataFrame(video_rows, schema=PLAN_VIDEOS_SCHEMA, orient="row"),
        balance=balance,
    )


def _join(a: str | None, b: str) -> str:
    return b if not a else f"{a}; {b}"


def _plan_balanced(
    vids: list[str],
    info: dict[str, dict],
    real_ids: list[str],
    seed: int,
    p: SamplingParams,
    plans: dict[str, list[int]],
    requested: dict[str, int],
    reasons: dict[str, str | None],
    short: dict[str, bool],
) -> dict[str, object]:
    """The ``balanced`` strategy (see the module docstring for the definition)."""
    cap = p.max_frames_per_video
    reals = [v for v in real_ids if (info[v]["fc"] or 0) > 0]
    for v in real_ids:
        if info[v]["fc"] is None:
            reasons[v] = "unknown_frame_count"
        elif info[v]["fc"] <= 0:
            reasons[v] = "empty_video"
    real_cap = {v: min(info[v]["fc"], cap) for v in reals}
    all_fakes = [v for v in vids if info[v]["label"] == FAKE]
    fakes: list[str] = []
    for f in all_fakes:
        fc, o = info[f]["fc"], info[f]["orig"]
        if fc is None or fc <= 0:
            reasons[f] = "unknown_frame_count" if fc is None else "empty_video"
        elif o is not None and o in info and o not in real_cap:
            reasons[f] = "original_has_no_plan"
        else:
            fakes.append(f)
    demand = {}
    for f in fakes:
        o = info[f]["orig"]
        d = min(p.frames_per_fake, info[f]["fc"], cap)
        if o in real_cap:
            d = min(d, real_cap[o])
        else:
            reasons[f] = "orphan_fake"
        demand[f] = d
    note = "balanced"
    order_rng = rng_for(seed, "balanced", "order")

    if not all_fakes:
        note = "no fakes in source: reals take real_only_frames each"
        n_real = {v: min(p.real_only_frames, info[v]["fc"]) for v in reals}
        for v in reals:
            requested[v] = p.real_only_frames
        m_fake: dict[str, int] = {}
    else:
        fake_total = sum(demand.values())
        floors = [max((demand[f] for f in fakes if info[f]["orig"] == v), default=0) for v in reals]
        alloc = water_fill([real_cap[v] for v in reals], fake_total, order_rng, floors)
        n_real = dict(zip(reals, alloc.tolist(), strict=True))
        real_total = sum(n_real.values())
        if not reals:
            note = "no real videos in source: fakes keep their demand, source unbalanced"
            m_fake = dict(demand)
        elif real_total < fake_total:
            trim = water_fill([demand[f] for f in fakes], real_total, order_rng)
            m_fake = dict(zip(fakes, trim.tolist(), strict=True))
            note = "balanced; fakes trimmed to the reals' capacity"
        else:
            m_fake = dict(demand)
        for v in reals:
            requested[v] = n_real[v]
        for f in fakes:
            requested[f] = p.frames_per_fake

    for v in reals:
        plans[v] = random_indices(info[v]["fc"], n_real[v], rng_for(seed, v))
        if info[v]["fc"] < requested.get(v, 0):
            short[v] = True
    for v in real_ids:
        plans.setdefault(v, [])
        requested.setdefault(v, 0)
    for f in all_fakes:
        if f not in m_fake:
            plans[f] = []
            requested.setdefault(f, 0)
            continue
        o, fc = info[f]["orig"], info[f]["fc"]
        rng = rng_for(seed, f, "subset")
        if o in real_cap:
            pool = [i for i in plans[o] if i < fc]
            plans[f] = random_subset(pool, m_fake[f], rng)
            if len(pool) < m_fake[f]:
                reasons[f] = _join(reasons[f], "shorter_than_original")
        else:
            plans[f] = random_indices(fc, m_fake[f], rng)
        if len(plans[f]) < p.frames_per_fake:
            short[f] = True
            if fc < p.frames_per_fake:
                reasons[f] = _join(reasons[f], f"too_few_frames: has {fc}")
    real_frames = sum(len(plans[v]) for v in real_ids)
    fake_frames = sum(len(plans[f]) for f in all_fakes)
    return {
        "real_frames": real_frames,
        "fake_frames": fake_frames,
        "residual": real_frames - fake_frames,
        "note": note,
    }
