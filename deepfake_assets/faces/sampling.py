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
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum

import numpy as np
import polars as pl


class SamplingStrategy(StrEnum):
    """How frames are planned (member names are the config values: Dagster's config takes an
    enum's names, so they are the lower-case values themselves)."""

    first_and_even = "first_and_even"
    uniform = "uniform"
    balanced = "balanced"


STRATEGIES = tuple(s.value for s in SamplingStrategy)

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
    entries = {
        v: _VideoPlan(v, lab, o if lab == FAKE else None, fc)
        for v, lab, o, fc in zip(vids, labels, origs, counts, strict=True)
    }
    if strategy == "balanced":
        balance = _plan_balanced(entries, seed, p)
    else:
        balance = _plan_copied(entries, strategy, p)
    rows = [(e.video_id, int(i), 0) for e in entries.values() for i in e.indices]
    video_rows = [
        (
            e.video_id,
            e.label,
            e.original,
            e.frame_count,
            e.requested,
            len(e.indices),
            e.short,
            e.reason,
        )
        for e in entries.values()
    ]
    return SourcePlan(
        strategy=strategy,
        seed=int(seed),
        params=p,
        frames=_plan_frame(rows),
        videos=pl.DataFrame(video_rows, schema=PLAN_VIDEOS_SCHEMA, orient="row"),
        balance=balance,
    )


@dataclass
class _VideoPlan:
    """One video while its source is planned: what is known of it and what it is given."""

    video_id: str
    label: str
    original: str | None  # a fake's original video id (None for reals)
    frame_count: int | None
    indices: list[int] = field(default_factory=list)
    requested: int = 0
    short: bool = False  # the video has fewer frames than its plan asks
    reason: str | None = None

    def note(self, text: str) -> None:
        self.reason = text if not self.reason else f"{self.reason}; {text}"

    def usable(self) -> bool:
        """A known, positive frame count; else the reason says which it lacks."""
        if self.frame_count is None:
            self.reason = "unknown_frame_count"
            return False
        if self.frame_count <= 0:
            self.reason = "empty_video"
            return False
        return True


def _totals(entries: dict[str, _VideoPlan], note: str) -> dict[str, object]:
    real = sum(len(e.indices) for e in entries.values() if e.label == REAL)
    fake = sum(len(e.indices) for e in entries.values() if e.label == FAKE)
    return {"real_frames": real, "fake_frames": fake, "residual": real - fake, "note": note}


def _plan_copied(
    entries: dict[str, _VideoPlan], strategy: str, p: SamplingParams
) -> dict[str, object]:
    """``first_and_even`` and ``uniform``: reals and orphans get their own plan, every other
    fake its original's (less the frames it does not have)."""

    def own(e: _VideoPlan) -> list[int]:
        fc = e.frame_count
        if strategy == "first_and_even":
            want = p.first + p.evenly
            idx = first_and_even_indices(fc, p.first, p.evenly)
        else:
            want = p.num_frames
            idx = uniform_indices(fc, p.num_frames)
        e.requested = want
        if len(idx) < want:
            e.short = True
            e.reason = f"too_few_frames: has {fc}, plan asks {want}"
        return idx

    reals = {v for v, e in entries.items() if e.label == REAL}
    for v in reals:
        e = entries[v]
        e.indices = own(e) if e.usable() else []
    for e in entries.values():
        if e.label != FAKE:
            continue
        if e.original is None or e.original not in reals:
            if e.usable():
                e.indices = own(e)
                e.note("orphan_fake")
            continue
        base = entries[e.original].indices
        e.requested = len(base)
        if not base:
            e.reason = "original_has_no_plan"
            continue
        fc = e.frame_count
        e.indices = [i for i in base if fc is None or i < fc]
        if len(e.indices) < len(base):
            e.short = True
            e.reason = f"shorter_than_original: has {fc}, original plan reaches {base[-1]}"
    return _totals(entries, "not balanced by design (fakes copy their original's frames)")


def _plan_balanced(
    entries: dict[str, _VideoPlan], seed: int, p: SamplingParams
) -> dict[str, object]:
    """The ``balanced`` strategy (see the module docstring for the definition)."""
    cap = p.max_frames_per_video
    real_ids = [v for v, e in entries.items() if e.label == REAL]
    reals = [v for v in real_ids if (entries[v].frame_count or 0) > 0]
    for v in real_ids:
        entries[v].usable()  # records why a real without frames gets no plan
    real_cap = {v: min(entries[v].frame_count, cap) for v in reals}
    all_fakes = [v for v, e in entries.items() if e.label == FAKE]
    fakes: list[str] = []
    for f in all_fakes:
        e = entries[f]
        if not e.usable():
            continue
        if e.original is not None and e.original in entries and e.original not in real_cap:
            e.reason = "original_has_no_plan"
        else:
            fakes.append(f)
    demand = {}
    for f in fakes:
        e = entries[f]
        d = min(p.frames_per_fake, e.frame_count, cap)
        if e.original in real_cap:
            d = min(d, real_cap[e.original])
        else:
            e.reason = "orphan_fake"
        demand[f] = d
    note = "balanced"
    order_rng = rng_for(seed, "balanced", "order")

    if not all_fakes:
        note = "no fakes in source: reals take real_only_frames each"
        n_real = {v: min(p.real_only_frames, entries[v].frame_count) for v in reals}
        for v in reals:
            entries[v].requested = p.real_only_frames
        m_fake: dict[str, int] = {}
    else:
        fake_total = sum(demand.values())
        floors = [
            max((demand[f] for f in fakes if entries[f].original == v), default=0) for v in reals
        ]
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
            entries[v].requested = n_real[v]
        for f in fakes:
            entries[f].requested = p.frames_per_fake

    for v in reals:
        e = entries[v]
        e.indices = random_indices(e.frame_count, n_real[v], rng_for(seed, v))
        if e.frame_count < e.requested:
            e.short = True
    for f in all_fakes:
        if f not in m_fake:
            continue
        e = entries[f]
        fc, rng = e.frame_count, rng_for(seed, f, "subset")
        if e.original in real_cap:
            pool = [i for i in entries[e.original].indices if i < fc]
            e.indices = random_subset(pool, m_fake[f], rng)
            if len(pool) < m_fake[f]:
                e.note("shorter_than_original")
        else:
            e.indices = random_indices(fc, m_fake[f], rng)
        if len(e.indices) < p.frames_per_fake:
            e.short = True
            if fc < p.frames_per_fake:
                e.note(f"too_few_frames: has {fc}")
    return _totals(entries, note)
