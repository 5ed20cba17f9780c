"""Identity-disjoint train / val / test split of the kept face images (seed 000 rules).

Rules, in order of precedence:
1. Leakage: the unit of assignment is the identity graph's component (`splits.groups`,
   `splits.identity_graph`): every face of a person, real or fake, in every source, whether
   they are a video's actor, the second person of a two-person video, or a fake's donor, and
   every fake with its original video, goes to one split. The donor policy
   (`identity_graph.DonorPolicy`) may instead drop the fakes whose donor is elsewhere; with
   ``unknown_donors`` DROP (`swaps.UnknownDonors`) a swap fake whose donor nobody knows is
   left out before placement, since its face may be a person placed elsewhere.
2. Held-out generation methods: every group with a face from a ``test_only`` source goes to
   test whole. So a person seen in a test-only source is a test person everywhere: their faces
   in ordinary sources go to test too (reported as ``forced_test_faces`` and in ``pinning``),
   else a model could be trained on a person it is later tested on.
3. Ratios by face count, 80:15:5 by default, over *all* faces (test-only ones included, so the
   exported dataset is 80:15:5). When the test-only faces alone exceed the test share, the
   other groups are shared between train and val in their ratio (the *effective* ratios,
   reported, and what the `split_ratios` check judges against) and a warning says so.
4. Stratification: within the above, each category of source, label, gender, age band and race
   (where given) is steered to the same ratios by the greedy filler (pinned groups aside).
5. Small datasets: with at least as many movable groups as splits with a positive ratio, no
   such split is left empty; misses beyond `tolerance` are warned about with their size.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from deepfake_assets.splits.groups import (
    AGE_BINS,
    DEFAULT_STRATIFY,
    check_ratios,
    group_strata,
    label_faces,
    share_report,
    with_groups,
)
from deepfake_assets.splits.identity_graph import (
    DonorEdges,
    DonorPolicy,
    GraphStats,
    bridging_fakes,
    donors_merge_groups,
    graph_stats,
)
from deepfake_assets.splits.placement import Placed, SearchResult, dropped_faces, place_groups
from deepfake_assets.splits.swaps import (
    DONOR_UNKNOWN,
    UnknownDonors,
    per_source,
    split_off_unknown_donors,
    unknown_donor_faces,
)

__all__ = ["SPLITS", "DEFAULT_RATIOS", "SplitResult", "assign_splits", "drop_summary"]

SPLITS = ("train", "val", "test")
# by face images; the one place the defaults are written (the asset's config, the settings of
# `splits.dataset` and the `split_ratios` check before any build all read it)
DEFAULT_RATIOS: dict[str, float] = {"train": 0.80, "val": 0.15, "test": 0.05}


@dataclass(frozen=True)
class SplitResult:
    """Output of `assign_splits`.

    faces: the input columns + group_id (i64; replaces an input group_id) + split (str:
        train/val/test).
    videos: source, video_id, original_video_id, label, group_id, split, n_faces (u32);
        one row per (source, video_id).
    actors: actor_key (str; "a:<actor_id>", or "v:<source>\\x1f<family video>" for faces with
        no actor_id whose video family shows no single actor), actor_id (str, null for those
        pseudo-actors), group_id, split, n_faces (u32), test_only (bool).
    groups: group_id, n_faces, n_actors, n_videos, test_only, split.
    report: scope (overall/source/label/gender/age/race), category, split, faces, actors,
        videos, share (of the category's faces), target (the effective ratio aimed at;
        0/0/1 for test-only sources).
    dropped: faces of fakes dropped (not in `faces`): face_id, source, video_id,
        original_video_id, label, actor_id, donor_actor_id, group_id, donor_group, place (the
        split the fake's group went to), donor_place, reason (``donor_in_other_split``; or
        ``donor_unknown``: a swap with no known donor under ``unknown_donors`` DROP, left out
        before placement, so group and place are null).
    donors / donors_used: the donor policy asked for and the one applied (``group`` falls back
        to ``drop_bridging`` when its components are too large, `donor_fallback` says why).
    graph: the identity graph's size; search: the drop-minimising search (None without
        bridging fakes); pinning: what test-only sources pulled to test.
    """

    faces: pl.DataFrame
    videos: pl.DataFrame
    actors: pl.DataFrame
    groups: pl.DataFrame
    report: pl.DataFrame
    ratios: tuple[float, ...]
    effective_ratios: tuple[float, ...]
    seed: int
    forced_test_faces: int
    warnings: list[str] = field(default_factory=list)
    dropped: pl.DataFrame = field(default_factory=pl.DataFrame)
    donors: str = DonorPolicy.GROUP.value
    donors_used: str = DonorPolicy.GROUP.value
    unknown_donors: str = UnknownDonors.KEEP.value
    donor_fallback: str | None = None
    graph: GraphStats | None = None
    search: SearchResult | None = None
    pinning: dict = field(default_factory=dict)
    # under ``unknown_donors`` KEEP: source -> swap fakes (and faces) placed with no known donor
    donor_unknown_kept: dict = field(default_factory=dict)

    def achieved(self, scope: str = "overall", category: str = "all") -> dict[str, float]:
        """split -> achieved share of faces for one report row group."""
        rows = self.report.filter((pl.col("scope") == scope) & (pl.col("category") == category))
        return dict(zip(rows["split"].to_list(), rows["share"].to_list(), strict=True))

    def metadata(self) -> dict:
        """A JSON-ready summary for the asset's metadata."""
        overall = self.report.filter(pl.col("scope") == "overall")
        return {
            "ratios": dict(zip(SPLITS, self.ratios, strict=True)),
            "effective_ratios": dict(zip(SPLITS, self.effective_ratios, strict=True)),
            "seed": self.seed,
            "achieved": dict(zip(overall["split"], overall["share"], strict=True)),
            "faces": dict(zip(overall["split"], overall["faces"], strict=True)),
            "actors": dict(zip(overall["split"], overall["actors"], strict=True)),
            "videos": dict(zip(overall["split"], overall["videos"], strict=True)),
            "n_groups": self.groups.height,
            "largest_group_faces": int(self.groups["n_faces"].max() or 0),
            "forced_test_faces": self.forced_test_faces,
            "pinning": dict(self.pinning),
            "donors": self.donors,
            "donors_used": self.donors_used,
            "donor_fallback": self.donor_fallback or "none",
            "identity_graph": self.graph.as_dict() if self.graph else {},
            "dropped": drop_summary(self.dropped),
            "unknown_donors": self.unknown_donors,
            "donor_unknown_dropped": per_source(
                self.dropped.filter(pl.col("reason") == DONOR_UNKNOWN)
                if self.dropped.height
                else self.dropped
            ),
            "donor_unknown_kept": dict(self.donor_unknown_kept),
            "drop_search": search_summary(self.search),
            "warnings": list(self.warnings),
        }


def drop_summary(dropped: pl.DataFrame) -> dict:
    """Fakes (videos) and faces dropped, by reason."""
    if dropped.is_empty():
        return {"fakes": 0, "faces": 0, "by_reason": {}}
    per = dropped.group_by("reason").agg(
        pl.struct("source", "video_id").n_unique().alias("fakes"), pl.len().alias("faces")
    )
    return {
        "fakes": int(dropped.select(pl.struct("source", "video_id").n_unique()).item()),
        "faces": dropped.height,
        "by_reason": {r: {"fakes": int(v), "faces": int(f)} for r, v, f in per.iter_rows()},
    }


def search_summary(search: SearchResult | None) -> dict:
    """The drop-minimising search: drops before (greedy start) and after, share misses."""
    if search is None:
        return {}
    return {
        "greedy_start_dropped_fakes": search.start_cost,
        "dropped_fakes": search.dropped_cost,
        "greedy_start_dropped_faces": search.start_faces,
        "dropped_faces": search.dropped_faces,
        "share_miss": round(search.miss, 4),
        "share_tolerance": search.tolerance,
        "share_miss_beyond_tolerance": round(search.excess, 4),
        "restarts": search.restarts,
    }


def assign_splits(
    faces: pl.DataFrame,
    ratios: Sequence[float] = tuple(DEFAULT_RATIOS.values()),
    seed: int = 0,
    *,
    stratify_by: Sequence[str] = DEFAULT_STRATIFY,
    tolerance: float = 0.02,
    category_tolerance: float = 0.05,
    age_bins: Sequence[float] = AGE_BINS,
    overall_weight: float = 2.0,
    donors: DonorPolicy | str = DonorPolicy.GROUP,
    search_restarts: int = 100,
    unknown_donors: UnknownDonors | str = UnknownDonors.KEEP,
) -> SplitResult:
    """Assign every face to train / val / test (see module doc for the rules).

    `faces` needs face_id (unique) and video_id; source, original_video_id, label, actor_id,
    second_actor_id, donor_actor_id, gender, age, race and test_only are used when present
    (absent = null / False); so is method (`swaps.is_identity_swap`; not returned), for
    `unknown_donors` (`swaps.UnknownDonors`: DROP leaves out every swap fake without a
    donor_actor_id; KEEP here, so a hand-made table loses no fake unasked, while the asset's
    default, `fold_splits` through `dataset.SplitSettings`, is DROP). `donors` is the donor
    policy (`identity_graph.DonorPolicy`). `tolerance` (overall) and `category_tolerance`
    (per stratified category with >= 20 actors) are the absolute share misses above which a
    warning is raised; `tolerance` is also the miss the drop-minimising search may accept
    before it counts drops.
    """
    ratios = check_ratios(ratios, 3)
    policy = DonorPolicy(donors)
    unknown = UnknownDonors(unknown_donors)
    if "split" in faces.columns:
        raise ValueError("faces already has a 'split' column")
    base, unknown_dropped = split_off_unknown_donors(label_faces(faces, age_bins), unknown)
    out_cols = [c for c in faces.columns if c not in ("group_id", "method")]
    stratify_by = [a for a in stratify_by if a in base.columns or a == "age"]
    graph = graph_stats(base)
    notes: list[str] = []

    used, fallback = policy, None
    plan = None
    if policy is DonorPolicy.GROUP:
        df, _ = with_groups(base, donor_edges=True)
        plan = _plan(df, None, ratios, stratify_by, seed, overall_weight, tolerance, 0)
        if plan.placed.too_large and donors_merge_groups(base, df):
            fallback = plan.placed.too_large
            used = DonorPolicy.DROP_BRIDGING
    if used is not DonorPolicy.GROUP:
        df, nodes = with_groups(base, donor_edges=DonorEdges.of(used))
        bridging = bridging_fakes(df, nodes) if used is DonorPolicy.DROP_BRIDGING else None
        plan = _plan(
            df, bridging, ratios, stratify_by, seed, overall_weight, tolerance, search_restarts
        )
    assert plan is not None
    groups, placed, effective = plan.groups, plan.placed, plan.effective
    test = SPLITS.index("test")
    sizes = groups["n_faces"].to_numpy().astype(np.int64)
    forced = groups["pinned"].to_numpy().astype(bool)
    out = placed.out
    n_in = np.bincount(out, minlength=len(SPLITS))
    still_empty = [s for s in range(len(SPLITS)) if effective[s] > 0 and n_in[s] == 0]

    split_names = np.array(SPLITS, dtype=object)[out]
    groups = groups.with_columns(pl.Series("split", split_names, dtype=pl.Utf8))
    df = df.join(groups.select("group_id", "split"), on="group_id", how="left")
    dropped_videos = placed.bridges.filter("dropped")
    dropped = dropped_faces(df, dropped_videos, SPLITS, "donor_in_other_split")
    if dropped.height:
        df = df.join(dropped_videos.select("_video"), on="_video", how="anti")
    n_unknown = unknown_dropped.select(pl.struct("source", "video_id").n_unique()).item()
    dropped = pl.concat([unknown_dropped, dropped], how="diagonal_relaxed")

    moved = df.filter(~pl.col("test_only")).join(
        groups.filter("pinned").select("group_id"), on="group_id", how="semi"
    )
    forced_ordinary = moved.height
    pinning = {
        "pinned_groups": int(forced.sum()),
        "pinned_faces": int(sizes[forced].sum()),
        "faces_moved_to_test": forced_ordinary,
        "actors_moved_to_test": int(
            moved.filter(pl.col("_actor_key").str.starts_with("a:"))["_actor_key"].n_unique()
        ),
        "pinned_as_donors": plan.pinned_as_donors,
    }
    test_only_sources = _test_only_sources(df)
    targets = {"source": {s: [0.0, 0.0, 1.0] for s in test_only_sources}}
    report = share_report(df, "split", SPLITS, stratify_by, targets, default_target=effective)
    total = int(sizes.sum())
    forced_faces = pinning["pinned_faces"]

    # warnings -------------------------------------------------------------------------------
    if total == 0:
        notes.append("no faces to split")
    if fallback:
        notes.append(
            f"donors: group cannot hold the ratios ({fallback}); fell back to drop_bridging: "
            f"{dropped_videos.height} fakes ({dropped.height} faces) dropped"
        )
    if n_unknown:
        notes.append(
            f"unknown_donors: drop left out {n_unknown} swap fakes ({unknown_dropped.height} "
            "faces) whose donor is unknown"
        )
    if total and forced_faces / total > ratios[test] + tolerance:
        notes.append(
            f"actor groups in test-only sources hold {forced_faces / total:.3f} of all faces, "
            f"more than the test ratio {ratios[test]:.3f}; the other faces were shared between "
            f"train and val as {ratios[0]:g}:{ratios[1]:g} (effective targets "
            f"{', '.join(f'{x:.3f}' for x in effective)})"
        )
    if forced_ordinary:
        notes.append(
            f"{forced_ordinary} faces ({pinning['actors_moved_to_test']} actors) from ordinary "
            f"sources went to test because their actors appear in test-only sources"
        )
    for s in still_empty:
        notes.append(
            f"split {SPLITS[s]!r} is empty: {groups.height} actor groups "
            f"({int((~forced).sum())} movable) cannot fill {sum(r > 0 for r in ratios)} splits"
        )
    overall = report.filter(pl.col("scope") == "overall")
    shares = dict(overall.select("split", "share").iter_rows())
    shares = {s: shares.get(s, 0.0) for s in SPLITS}
    misses = {s: shares[s] - effective[i] for i, s in enumerate(SPLITS)}
    if total and any(abs(m) > tolerance for m in misses.values()):
        detail = ", ".join(
            f"{s} {shares[s]:.3f} vs {effective[i]:.3f} ({misses[s]:+.3f})"
            for i, s in enumerate(SPLITS)
        )
        notes.append(
            f"split ratios miss the target by more than {tolerance}: {detail} "
            f"({groups.height} actor groups, largest {int(sizes.max())} of {total} faces)"
        )
    notes.extend(_category_misses(report, category_tolerance, test_only_sources))
    for note in notes:
        warnings.warn(note, stacklevel=2)

    return SplitResult(
        faces=df.select(*out_cols, "group_id", "split"),
        donor_unknown_kept=per_source(df.filter(unknown_donor_faces(df)))
        if unknown is UnknownDonors.KEEP
        else {},
        videos=_videos(df),
        actors=_actors(df),
        groups=groups.drop("pinned"),
        report=report,
        ratios=tuple(ratios),
        effective_ratios=tuple(effective),
        seed=seed,
        forced_test_faces=forced_ordinary,
        warnings=notes,
        dropped=dropped,
        donors=policy.value,
        donors_used=used.value,
        unknown_donors=unknown.value,
        donor_fallback=fallback,
        graph=graph,
        search=placed.search,
        pinning=pinning,
    )


@dataclass(frozen=True)
class _Plan:
    groups: pl.DataFrame  # group_id, n_faces, n_actors, n_videos, test_only, pinned
    placed: Placed
    effective: list[float]
    pinned_as_donors: int


def _plan(
    df: pl.DataFrame,
    bridging: pl.DataFrame | None,
    ratios: list[float],
    stratify_by: Sequence[str],
    seed: int,
    overall_weight: float,
    tolerance: float,
    restarts: int,
) -> _Plan:
    """Groups, pins (test-only groups; and the donors' groups of test-only fakes: their faces
    appear in a test-only source), effective targets and the placement."""
    strata, counts = group_strata(df, stratify_by)
    groups = (
        df.group_by("group_id")
        .agg(
            pl.len().alias("n_faces"),
            pl.col("_a").n_unique().alias("n_actors"),
            pl.col("_video").n_unique().alias("n_videos"),
            pl.col("test_only").any().alias("test_only"),
        )
        .sort("group_id")
    )
    donor_pins = set()
    if bridging is not None:
        donor_pins = set(bridging.filter("test_only")["donor_group"].to_list())
    groups = groups.with_columns(
        (pl.col("test_only") | pl.col("group_id").is_in(sorted(donor_pins))).alias("pinned")
    )
    gids = groups["group_id"].to_numpy()
    sizes = groups["n_faces"].to_numpy().astype(np.int64)
    forced = groups["pinned"].to_numpy().astype(bool)
    test = SPLITS.index("test")
    pinned = {int(g): test for g in gids[forced]}
    total = int(sizes.sum())
    effective = _effective_ratios(ratios, sizes[forced].sum() / total if total else 0.0, test)
    placed = place_groups(
        gids,
        sizes,
        counts,
        strata,
        effective,
        pinned=pinned,
        seed=seed,
        overall_weight=overall_weight,
        bridging=bridging,
        tolerance=tolerance,
        restarts=restarts,
        what="train/val/test",
    )
    n_donor_pins = int((forced & ~groups["test_only"].to_numpy()).sum())
    return _Plan(groups, placed, effective, n_donor_pins)


def _effective_ratios(ratios: list[float], forced_share: float, test: int) -> list[float]:
    """Targets the filler aims at: nominal, unless pinned test faces alone exceed the test
    ratio; then test keeps what it was given and the rest is shared in the other ratios."""
    if forced_share <= ratios[test]:
        return list(ratios)
    rest = sum(r for i, r in enumerate(ratios) if i != test)
    if rest <= 0:
        return list(ratios)
    return [
        forced_share if i == test else r / rest * (1.0 - forced_share) for i, r in enumerate(ratios)
    ]


def _test_only_sources(df: pl.DataFrame) -> list[str]:
    per = df.group_by("source").agg(pl.col("test_only").all().alias("all_test"))
    return sorted(str(s) for s in per.filter("all_test")["source"].to_list() if s is not None)


def _category_misses(
    report: pl.DataFrame, tol: float, test_only_sources: list[str], min_actors: int = 20
) -> list[str]:
    """One warning listing stratified categories (>= min_actors actors) off by more than tol."""
    rep = report.filter(pl.col("scope") != "overall")
    held_out = pl.col("category").is_in(list(test_only_sources))
    rep = rep.filter(~((pl.col("scope") == "source") & held_out))
    rep = rep.with_columns(
        pl.col("actors").sum().over("scope", "category").alias("_n"),
        (pl.col("share") - pl.col("target")).abs().alias("_miss"),
    ).filter((pl.col("_n") >= min_actors) & (pl.col("_miss") > tol))
    if rep.is_empty():
        return []
    worst = (
        rep.group_by("scope", "category").agg(pl.col("_miss").max()).sort("_miss", descending=True)
    )
    items = [f"{s}={c} ({m:.3f})" for s, c, m in worst.head(10).iter_rows()]
    more = f" and {worst.height - 10} more" if worst.height > 10 else ""
    return [f"categories off their target ratios by more than {tol}: {', '.join(items)}{more}"]


def _videos(df: pl.DataFrame) -> pl.DataFrame:
    return (
        df.group_by("_video")
        .agg(
            pl.col("source").first(),
            pl.col("video_id").first(),
            pl.col("original_video_id").first(),
            pl.col("label").first(),
            pl.col("group_id").first(),
            pl.col("split").first(),
            pl.len().cast(pl.UInt32).alias("n_faces"),
        )
        .drop("_video")
        .sort("source", "video_id", nulls_last=True)
    )


def _actors(df: pl.DataFrame) -> pl.DataFrame:
    key = pl.col("actor_key")
    return (
        df.group_by("_actor_key")
        .agg(
            pl.col("group_id").first(),
            pl.col("split").first(),
            pl.len().cast(pl.UInt32).alias("n_faces"),
            pl.col("test_only").any(),
        )
        .rename({"_actor_key": "actor_key"})
        .with_columns(pl.when(key.str.starts_with("a:")).then(key.str.slice(2)).alias("actor_id"))
        .select("actor_key", "actor_id", "group_id", "split", "n_faces", "test_only")
        .sort("actor_key")
    )
