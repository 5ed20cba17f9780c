"""Duplicate grouping without listing the pairs of identical items: the same decisions as the
pair-listing implementation (kept as a reference oracle in ``dedup_reference``) on random mixed
worlds, and intermediate structures that do not grow with the size of a group of identical
hashes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deepfake_assets.identity.dedup import DedupParams, group_duplicates
from deepfake_assets.identity.hashing import popcount64, to_int64
from deepfake_assets.testing.dedup_reference import reference_group_duplicates
from deepfake_assets.testing.hash_worlds import identical_world, random_informative


def _flip(rng: np.random.Generator, h: int, max_bits: int) -> int:
    for b in rng.choice(64, int(rng.integers(0, max_bits + 1)), replace=False):
        h ^= 1 << int(b)
    return h


def mixed_world(seed: int, odd_video: bool = False) -> pl.DataFrame:
    """Three sources; real videos with fakes (one family each), copies of videos in other
    sources (re-encoded: 0-1 bit flips), frames and two-track faces, hashes drawn from a
    small pool with 0-3 bit flips (many exact and near duplicates), a few blank hashes."""
    rng = np.random.default_rng(seed)
    pool = [int(x) for x in random_informative(rng, 12)] + [0, 0b1011, (1 << 64) - 1]
    videos: list[dict] = []
    for s in range(3):
        for r in range(int(rng.integers(2, 5))):
            real = f"r{r}"
            videos.append({"source": f"s{s}", "video_id": real, "family": real, "label": "REAL"})
            for f in range(int(rng.integers(0, 4))):
                videos.append(
                    {"source": f"s{s}", "video_id": f"{real}_f{f}", "family": real, "label": "FAKE"}
                )
    rows = []

    def add(v: dict, hashes: list[tuple[str, int, int, int]]) -> None:
        for k, (kind, frame, track, h) in enumerate(hashes):
            rows.append(
                {
                    "item_id": f"{v['source']}/{v['video_id']}/{kind}{k}",
                    "hash": h,
                    "source": v["source"],
                    "video_id": v["video_id"],
                    "family_id": v["family"],
                    "frame_index": frame,
                    "label": v["label"],
                    "kind": kind,
                    "track": track,
                }
            )

    content = {}
    for v in videos:
        items = []
        for k in range(int(rng.integers(2, 8))):
            frame = int(rng.integers(0, 6)) * 10  # repeated frame indices: resampled frames
            base = pool[int(rng.integers(0, len(pool)))]
            items.append(("frame", frame, None, _flip(rng, base, 3)))
            for t in range(int(rng.integers(0, 3))):
                items.append(("face", frame, t, _flip(rng, pool[(k + t) % len(pool)], 3)))
        content[(v["source"], v["video_id"])] = items
        add(v, items)
    # whole videos shipped again by another source, fakes of those copies too
    for v in [videos[int(i)] for i in rng.choice(len(videos), 4, replace=False)]:
        s = f"s{(int(v['source'][1]) + 1 + int(rng.integers(0, 2))) % 3}"
        copy = {"source": s, "video_id": f"copy_{v['source']}_{v['video_id']}", "label": v["label"]}
        copy["family"] = copy["video_id"]
        items = [
            (kd, fr, t, _flip(rng, h, 1)) for kd, fr, t, h in content[(v["source"], v["video_id"])]
        ]
        add(copy, items)
        if rng.random() < 0.5:
            fake = {"source": s, "video_id": f"{copy['video_id']}_f", "label": "FAKE"}
            fake["family"] = copy["video_id"]
            add(fake, [(kd, fr, t, _flip(rng, h, 2)) for kd, fr, t, h in items])
    df = pl.DataFrame(rows, schema_overrides={"hash": pl.UInt64, "track": pl.Int64})
    df = df.with_columns(pl.col("hash").cast(pl.Int64, wrap_numerical=True))
    df = df.with_columns(  # a few missing frame indices and families
        frame_index=pl.when(pl.int_range(pl.len()) % 37 == 5).then(None).otherwise("frame_index"),
        family_id=pl.when(pl.int_range(pl.len()) % 53 == 7).then(None).otherwise("family_id"),
    )
    if odd_video:  # one video whose items name two families (not produced by dedup_hashes)
        first = df["video_id"][0]
        df = df.with_columns(
            family_id=pl.when((pl.col("video_id") == first) & (pl.int_range(pl.len()) % 2 == 0))
            .then(pl.lit("elsewhere"))
            .otherwise("family_id")
        )
    return df


PARAMS = [
    DedupParams(),
    DedupParams(cross_label=True),
    DedupParams(threshold=6, within_video_threshold=2),
    DedupParams(threshold=2, within_video_threshold=6, video_min_items=2, n_blocks=2),
    DedupParams(video_match_fraction=0.3, video_min_items=1),
]


def _same_results(items: pl.DataFrame, params: DedupParams) -> None:
    new = group_duplicates(items, params)
    old = reference_group_duplicates(items, params)
    assert new.decisions.sort("item_id").equals(old.decisions.sort("item_id"))
    assert new.groups.equals(old.groups)
    assert new.video_matches.equals(old.video_matches)


@pytest.mark.parametrize("seed", range(8))
def test_same_decisions_as_the_pair_listing_reference(seed: int) -> None:
    items = mixed_world(seed)
    assert items.height > 100
    for params in PARAMS:
        _same_results(items, params)
    _same_results(items.drop("track"), DedupParams())


def test_a_video_naming_two_families_is_handled_like_the_reference() -> None:
    for seed in range(3):
        _same_results(mixed_world(seed, odd_video=True), DedupParams())
        _same_results(mixed_world(seed, odd_video=True), DedupParams(threshold=6))


def test_a_group_of_identical_hashes_costs_its_videos_not_its_pairs() -> None:
    n_videos = 125
    small = identical_world(n_videos, per_video=4)
    _same_results(small, DedupParams())  # the reference still affords this one
    items = identical_world(n_videos, per_video=800)
    assert items.height == 100_000
    assert popcount64(to_int64(items["hash"][:1].to_numpy()).astype(np.uint64))[0] == 32
    res = group_duplicates(items)
    s = res.stats
    # one distinct hash, no pair of items listed: the reference would list 5e9 pairs
    assert s["n_distinct_hashes"] == 1 and s["n_distinct_hash_pairs"] == 0
    assert s["n_video_match_rows"] <= n_videos**2  # (video, hash, video) cells, not items
    assert s["n_index_entries"] <= 3 * 2 * n_videos  # kept items are per video and track

    # the same decisions per (video, track) as with 4 items per video
    def kept_cells(r) -> pl.DataFrame:
        ids = r.decisions.filter(~pl.col("is_duplicate"))["item_id"]
        return (
            ids.str.split("/")
            .list.first()
            .to_frame("video")
            .with_columns(track=ids.str.split("/").list.last().cast(pl.Int64) % 2)
            .sort("video", "track")
        )

    assert kept_cells(res).equals(kept_cells(reference_group_duplicates(small)))
    assert res.video_matches.drop("matched_fraction").equals(
        reference_group_duplicates(small).video_matches.drop("matched_fraction")
    )
