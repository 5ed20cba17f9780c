"""The near-duplicates-across-splits check over cells of identical faces: the same offenders
as listing every pair of faces, without the n^2 pairs of a family of identical crops."""

from __future__ import annotations

import numpy as np
import polars as pl

from deepfake_assets.identity.dedup import near_pairs
from deepfake_assets.splits.validation import near_duplicates_across_splits


def _pairwise(hashes: pl.DataFrame, splits: pl.DataFrame, threshold: int) -> set:
    """Every offending pair of faces, listed one by one (the check as it was; small n)."""
    faces = hashes.filter(pl.col("kind") == "face").join(splits, on="face_id")
    i, j, _ = near_pairs(faces["hash"].to_numpy(), threshold)
    ids, split, family = (faces[c].to_numpy() for c in ("face_id", "split", "family_id"))
    keep = (split[i] != split[j]) & (family[i] != family[j])
    return {frozenset((ids[a], ids[b])) for a, b in zip(i[keep], j[keep], strict=True)}


def _world(n: int, n_hashes: int, n_families: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 2**62, n_hashes, dtype=np.int64)
    pool[1:3] = pool[0] ^ np.array([0b11, 0b1111000], np.int64)  # near hashes, 2 and 4 bits
    face_id = [f"f{k:05d}" for k in range(n)]
    hashes = pl.DataFrame(
        {
            "face_id": face_id + ["frame0"],
            "kind": ["face"] * n + ["frame"],
            "hash": np.append(pool[rng.integers(0, n_hashes, n)], pool[0]),
            "family_id": [f"fam{x}" for x in rng.integers(0, n_families, n + 1)],
        }
    )
    splits = pl.DataFrame({"face_id": face_id, "split": rng.choice(["train", "val", "test"], n)})
    return hashes, splits


def test_cells_name_the_same_offenders_as_every_pair() -> None:
    for seed in range(5):
        hashes, splits = _world(300, 12, 6, seed)
        expected = _pairwise(hashes, splits, 4)
        got = near_duplicates_across_splits(hashes, splits, 4)
        assert len(expected) > 50
        assert got["n_pairs"].sum() == len(expected)
        # each row's example pair is an offending pair, and every offending pair's cells are
        # one row: hash, split and family of both faces
        cell = {
            r["face_id"]: (r["hash"], r["split"], r["family_id"])
            for r in hashes.join(splits, on="face_id").to_dicts()
        }
        rows = {frozenset((cell[r["face_id_a"]], cell[r["face_id_b"]])) for r in got.to_dicts()}
        assert {frozenset(cell[f] for f in p) for p in expected} == rows
        assert all(frozenset((r["face_id_a"], r["face_id_b"])) in expected for r in got.to_dicts())
        assert got.height == len(rows)
    assert near_duplicates_across_splits(hashes, splits, 0)["distance"].max() == 0


def test_a_family_of_identical_crops_is_one_cell_per_split() -> None:
    n = 60_000  # one family, one hash, three splits: 1.8e9 face pairs, all exempt
    hashes = pl.DataFrame(
        {
            "face_id": [f"f{k}" for k in range(n)],
            "kind": "face",
            "hash": np.full(n, 0x0F0F_0F0F_0F0F_0F0F, np.int64),
            "family_id": "one",
        }
    )
    splits = pl.DataFrame(
        {"face_id": hashes["face_id"], "split": ["train", "val", "test"] * (n // 3)}
    )
    assert near_duplicates_across_splits(hashes, splits, 4).is_empty()
    # a face of another family with that hash in another split: its cell pairs, n_pairs faces
    other = pl.DataFrame(
        {"face_id": ["g"], "kind": "face", "hash": [0x0F0F_0F0F_0F0F_0F0F], "family_id": "two"}
    )
    got = near_duplicates_across_splits(
        pl.concat([hashes, other]),
        pl.concat([splits, pl.DataFrame({"face_id": ["g"], "split": ["test"]})]),
        4,
    )
    assert sorted(got["split_a"].to_list() + got["split_b"].to_list()).count("test") == 2
    assert got["n_pairs"].sum() == 2 * n // 3
