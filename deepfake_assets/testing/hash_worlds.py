"""Hash tables for the duplicate grouping's tests and benchmarks."""

from __future__ import annotations

import numpy as np
import polars as pl

from deepfake_assets.identity.hashing import to_int64


def random_informative(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random 64-bit hashes with 32 bits set, like pHash's median threshold gives."""
    out = np.zeros(n, np.uint64)
    for k in range(n):
        for b in rng.choice(64, 32, replace=False):
            out[k] |= np.uint64(1) << np.uint64(int(b))
    return out


def identical_world(n_videos: int, per_video: int, seed: int = 0) -> pl.DataFrame:
    """Every face crop of every video has the same hash: two sources, families of one real
    and two fakes, two tracks per video."""
    h = int(random_informative(np.random.default_rng(seed), 1)[0])
    v = np.arange(n_videos)
    role = v % 3  # 0 real, 1-2 its fakes
    fam = v - role
    video = np.repeat(v, per_video)
    k = np.tile(np.arange(per_video), n_videos)
    return pl.DataFrame(
        {
            "item_id": np.char.add(
                np.char.add(np.char.add("v", video.astype(str)), "/"), k.astype(str)
            ),
            "hash": to_int64(np.full(len(video), h, np.uint64)),
            "source": np.where(video < n_videos // 2, "s0", "s1"),
            "video_id": np.char.add("v", video.astype(str)),
            "family_id": np.char.add("v", fam[video].astype(str)),
            "frame_index": k // 2,
            "label": np.where(role[video] == 0, "REAL", "FAKE"),
            "kind": "face",
            "track": k % 2,
        }
    )
