"""Duplicate grouping: exact and near groups, identical videos across datasets, never a fake
against its own original or sibling, multi-index search equal to brute force."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deepfake_assets.identity.dedup import (
    REASON_CROSS_DATASET,
    REASON_EXACT,
    REASON_RESAMPLED,
    REASON_STATIC,
    DedupParams,
    choose_n_blocks,
    group_duplicates,
    near_pairs,
    near_pairs_bruteforce,
)
from deepfake_assets.identity.hashing import phash_batch, to_int64
from deepfake_assets.testing.face_data import jpeg, packaged_people, relight, rescale


def _random_with_planted(n: int, n_planted: int, max_flips: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    src = rng.integers(0, n, n_planted)
    flips = rng.integers(0, max_flips + 1, n_planted)
    planted = []
    for s, f in zip(src, flips, strict=True):
        x = int(h[s])
        for b in rng.choice(64, f, replace=False):
            x ^= 1 << int(b)
        planted.append(x)
    # exact copies too, so buckets hold more than two items
    return np.concatenate([h, np.asarray(planted, np.uint64), h[:25], h[:5]])


@pytest.mark.parametrize(
    ("threshold", "blocks"),
    [(0, [1, 2]), (2, [2, 3]), (4, [2, 3, 4, 5, None]), (6, [3, 4, 7, None]), (10, [6, 11])],
)
def test_multi_index_search_equals_brute_force(threshold: int, blocks: list) -> None:
    h = _random_with_planted(2500, 400, threshold + 3, seed=threshold)
    expected = near_pairs_bruteforce(h, threshold)
    assert len(expected[0]) >= 100  # planted pairs are there to be found
    for m in blocks:
        got = near_pairs(to_int64(h), threshold, n_blocks=m)
        for a, b in zip(expected, got, strict=True):
            assert np.array_equal(a, b), (threshold, m)


def test_block_count_follows_size() -> None:
    assert choose_n_blocks(1_000, 4) == 5  # exact buckets (pigeonhole, k + 1 blocks)
    assert choose_n_blocks(1_000_000, 4) == 3  # wider blocks probed at radius 1


# ---------------------------------------------------------------------------------------------
# A small multi-dataset world built from real images.
# ---------------------------------------------------------------------------------------------


def _pan(image: np.ndarray, n: int, step: int) -> list[np.ndarray]:
    """A moving camera over a still image: one frame every ``step`` pixels."""
    return [image[40 + t * step : 340 + t * step, 60 + t * step : 360 + t * step] for t in range(n)]


def _paste_face(frame: np.ndarray, face: np.ndarray) -> np.ndarray:
    """A crude 'fake': another face pasted over a small region of the frame."""
    out = frame.copy()
    small = face[::4, ::4][:40, :40]
    out[100 : 100 + small.shape[0], 120 : 120 + small.shape[1]] = small
    return out


def _items(videos: dict[tuple[str, str], dict]) -> pl.DataFrame:
    rows = []
    for (source, video_id), v in videos.items():
        hashes = to_int64(phash_batch(v["frames"]))
        for k, (frame_index, h) in enumerate(zip(v["frame_index"], hashes, strict=True)):
            rows.append(
                {
                    "item_id": f"{source}/{video_id}/{k}",
                    "hash": int(h),
                    "source": source,
                    "video_id": video_id,
                    "family_id": v["family"],
                    "frame_index": frame_index,
                    "label": v["label"],
                    "kind": v.get("kind", "frame"),
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def world() -> pl.DataFrame:
    people = packaged_people()
    astro, hopper = people["astronaut"][0], people["grace_hopper"][0]
    real = _pan(astro, 6, 12)
    other = _pan(hopper, 6, 12)
    face = hopper[139:325, 180:366]
    fakes1 = [_paste_face(f, face) for f in real]
    fakes2 = [_paste_face(f, face[::-1]) for f in real]
    videos = {
        ("dsA", "real1"): {"frames": real, "family": "real1", "label": "real"},
        ("dsA", "fake1a"): {"frames": fakes1, "family": "real1", "label": "fake"},
        ("dsA", "fake1b"): {"frames": fakes2, "family": "real1", "label": "fake"},
        # The same real video shipped again by another dataset, re-encoded and rescaled.
        ("dsB", "copy_of_real1"): {
            "frames": [jpeg(rescale(f, 0.6), 30) for f in real],
            "family": "copy_of_real1",
            "label": "real",
        },
        # An unrelated real video with a static start: frames 0-2 identical up to noise.
        ("dsA", "real2"): {
            "frames": [other[0], relight(other[0], 1.05), jpeg(other[0], 40), *other[1:]],
            "family": "real2",
            "label": "real",
        },
    }
    for v in videos.values():
        v["frame_index"] = list(range(0, 10 * len(v["frames"]), 10))
    items = _items(videos)
    # A frame sampled twice (a resampling pass hit the same frame): same frame index.
    again = items.filter(pl.col("item_id") == "dsA/real2/4").with_columns(
        pl.lit("dsA/real2/4-again").alias("item_id")
    )
    # An exact re-upload of one frame of real2 inside an unrelated dataset C video.
    reup = items.filter(pl.col("item_id") == "dsA/real2/5").with_columns(
        pl.lit("dsC/upload/0").alias("item_id"),
        pl.lit("dsC").alias("source"),
        pl.lit("upload").alias("video_id"),
        pl.lit("upload").alias("family_id"),
        pl.lit(0, dtype=pl.Int64).alias("frame_index"),
    )
    return pl.concat([items, again, reup])


def test_groups_exact_near_static_resampled_and_cross_dataset(world: pl.DataFrame) -> None:
    res = group_duplicates(world)
    dec = {r["item_id"]: r for r in res.decisions.to_dicts()}
    assert len(dec) == world.height

    # Whole video found again in dataset B.
    matches = res.video_matches.filter(pl.col("identical"))
    assert matches.select("source_a", "video_id_a", "source_b", "video_id_b").rows() == [
        ("dsA", "real1", "dsB", "copy_of_real1")
    ]
    for k in range(6):
        d = dec[f"dsB/copy_of_real1/{k}"]
        assert d["is_duplicate"] and d["kept_item_id"] == f"dsA/real1/{k}"
        assert d["reason"] == REASON_CROSS_DATASET

    # Static start of real2: frames 1 and 2 point to frame 0.
    for k in (1, 2):
        d = dec[f"dsA/real2/{k}"]
        assert d["kept_item_id"] == "dsA/real2/0" and d["reason"] == REASON_STATIC
    assert not dec["dsA/real2/3"]["is_duplicate"]  # the camera moved
    assert dec["dsA/real2/4-again"]["reason"] == REASON_RESAMPLED
    assert dec["dsC/upload/0"]["reason"] == REASON_EXACT
    assert dec["dsC/upload/0"]["kept_item_id"] == "dsA/real2/5"
    near = res.decisions.filter(pl.col("reason").str.starts_with("near_duplicate"))
    assert near.height == 0 or near["distance"].min() > 0

    # Kept items point to themselves; every duplicate's kept item is kept.
    kept_ids = set(res.decisions.filter(~pl.col("is_duplicate"))["item_id"])
    assert set(res.duplicates["kept_item_id"]) <= kept_ids
    assert res.groups["n_items"].min() >= 2


def test_fake_never_linked_to_its_original_or_sibling(world: pl.DataFrame) -> None:
    # Even when labels may link (cross_label) and through the copy in dataset B.
    for params in (DedupParams(), DedupParams(cross_label=True), DedupParams(threshold=12)):
        dec = group_duplicates(world, params).decisions
        family = dict(zip(world["item_id"], world["family_id"], strict=True))
        video = dict(zip(world["item_id"], world["video_id"], strict=True))
        fakes = dec.filter(pl.col("item_id").str.contains("fake1"))
        for row in fakes.to_dicts():
            kept = row["kept_item_id"]
            if row["is_duplicate"]:
                assert (
                    family[kept] != family[row["item_id"]] or video[kept] == video[row["item_id"]]
                )
                assert not kept.startswith("dsB/copy_of_real1")
        # No group holds two videos of one family (other than identical copies).
        groups = dec.join(world.select("item_id", "family_id", "video_id"), on="item_id")
        per = groups.group_by("group_id", "family_id").agg(pl.col("video_id").n_unique())
        assert per["video_id"].max() == 1
    # At frame level a fake *is* within a few bits of its original: the rule is what holds.
    h = world.filter(pl.col("item_id").is_in(["dsA/real1/0", "dsA/fake1a/0"]))["hash"]
    assert near_pairs(h.to_numpy(), 12)[0].size == 1


@pytest.mark.parametrize("n_frames", [1, 4])
def test_transitive_chain_cannot_relink_excluded_pair(n_frames: int) -> None:
    # Siblings B1, B2 of one family (dataset s1) are each near X (unrelated video in s2):
    # B1 is visited first and kept, X points to B1, B2 must not join B1 through X - neither
    # through item edges nor by X being declared a copy of both videos.
    rng = np.random.default_rng(7)
    bases = rng.integers(0, 2**64 - 1, size=n_frames, dtype=np.uint64, endpoint=True)
    rows = []
    for f, base in enumerate(bases.tolist()):
        rows += [
            (f"s1/B1/{f}", base, "s1", "B1", "F", f),
            (f"s1/B2/{f}", base ^ 0b1111, "s1", "B2", "F", f),
            (f"s2/X/{f}", base ^ 0b11, "s2", "X", "X", f),
        ]
    items = pl.DataFrame(
        {
            "item_id": [r[0] for r in rows],
            "hash": to_int64(np.asarray([r[1] for r in rows], np.uint64)),
            "source": [r[2] for r in rows],
            "video_id": [r[3] for r in rows],
            "family_id": [r[4] for r in rows],
            "frame_index": [r[5] for r in rows],
            "label": ["fake"] * len(rows),
            "kind": ["face"] * len(rows),
        }
    )
    res = group_duplicates(items)
    dec = {r["item_id"]: r for r in res.decisions.to_dicts()}
    for f in range(n_frames):
        assert dec[f"s2/X/{f}"]["kept_item_id"] == f"s1/B1/{f}"
        assert not dec[f"s1/B2/{f}"]["is_duplicate"]
        assert dec[f"s1/B2/{f}"]["group_id"] != dec[f"s1/B1/{f}"]["group_id"]
    vm = {(r["video_id_a"], r["video_id_b"]): r for r in res.video_matches.to_dicts()}
    if n_frames >= 3:
        assert vm[("B1", "X")]["identical"]
        assert not vm[("B2", "X")]["identical"] and vm[("B2", "X")]["rejected_same_family"]
    else:  # too few items to call a whole video identical
        assert not any(r["identical"] for r in vm.values())


def test_decisions_do_not_depend_on_row_order(world: pl.DataFrame) -> None:
    a = group_duplicates(world).decisions.sort("item_id")
    b = group_duplicates(world.sample(fraction=1.0, shuffle=True, seed=3)).decisions
    assert a.equals(b.sort("item_id"))


def test_kinds_tracks_and_flat_images_are_kept_apart() -> None:
    rows = [
        # same hash as a frame and as a face: different kinds never compared
        ("v/frame/0", 0x1234_5678_9ABC_DEF0, "v", 0, 0, "frame"),
        ("v/face/0", 0x1234_5678_9ABC_DEF0, "v", 0, 0, "face"),
        # two faces of one frame (two people) with close hashes: different tracks
        ("v/face/1", 0x1234_5678_9ABC_DEF1, "v", 0, 1, "face"),
        # blank frames (hash 0) of two unrelated videos: not content, never linked
        ("w/frame/0", 0, "w", 5, 0, "frame"),
        ("u/frame/0", 0, "u", 5, 0, "frame"),
    ]
    items = pl.DataFrame(
        {
            "item_id": [r[0] for r in rows],
            "hash": to_int64(np.asarray([r[1] for r in rows], np.uint64)),
            "source": ["s"] * 5,
            "video_id": [r[2] for r in rows],
            "family_id": [r[2] for r in rows],
            "frame_index": [r[3] for r in rows],
            "track": [r[4] for r in rows],
            "label": ["real"] * 5,
            "kind": [r[5] for r in rows],
        }
    )
    res = group_duplicates(items)
    assert res.duplicates.height == 0
    low = res.decisions.filter(pl.col("low_information"))["item_id"].sort().to_list()
    assert low == ["u/frame/0", "w/frame/0"]


def test_empty_input_and_bad_tables() -> None:
    schema = {
        "item_id": pl.String,
        "hash": pl.Int64,
        "source": pl.String,
        "video_id": pl.String,
        "family_id": pl.String,
        "frame_index": pl.Int64,
        "label": pl.String,
        "kind": pl.String,
    }
    res = group_duplicates(pl.DataFrame(schema=schema))
    assert res.decisions.height == 0 and res.groups.height == 0 and res.video_matches.height == 0
    with pytest.raises(ValueError, match="lack columns"):
        group_duplicates(pl.DataFrame(schema=schema).drop("family_id"))
    row = {k: None for k in schema} | {"item_id": "a", "hash": 1, "source": "s", "kind": "face"}
    with pytest.raises(ValueError, match="unique"):
        group_duplicates(pl.DataFrame([row, row], schema=schema))
