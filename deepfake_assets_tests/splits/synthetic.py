"""A synthetic kept-faces table: actors with reals and fakes across sources, with demographics."""

from __future__ import annotations

import numpy as np
import polars as pl

SOURCES = ("dfdc", "celebdf", "faceforensics")


def synthetic_faces(
    n_actors: int = 300,
    seed: int = 0,
    test_only_source: str | None = None,
    test_only_share: float = 0.0,
    max_videos: int = 3,
) -> pl.DataFrame:
    """One row per face image. Each actor has 1..max_videos real videos (5..40 faces each,
    heavy-tailed across actors), each with 0..2 fakes of the same faces. With
    `test_only_source`, that share of videos is moved to a held-out (test-only) source."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {
        k: []
        for k in (
            "face_id", "source", "video_id", "original_video_id", "label",
            "actor_id", "gender", "age", "race", "test_only",
        )
    }  # fmt: skip
    for a in range(n_actors):
        gender = str(rng.choice(["female", "male"], p=[0.45, 0.55]))
        age = str(int(rng.integers(18, 75)))
        race = str(rng.choice(["a", "b", "c", "d"], p=[0.5, 0.3, 0.15, 0.05]))
        scale = float(rng.lognormal(0.0, 0.6))  # some actors have many more faces
        for v in range(int(rng.integers(1, max_videos + 1))):
            source = SOURCES[int(rng.integers(0, len(SOURCES)))]
            if test_only_source and rng.random() < test_only_share:
                source = test_only_source
            real = f"a{a}_v{v}"
            n = max(1, int(rng.integers(5, 40) * scale))
            for k in range(int(rng.integers(0, 3)) + 1):
                video = real if k == 0 else f"{real}_fake{k}"
                for f in range(n):
                    cols["face_id"].append(f"{source}/{video}/{f}")
                    cols["source"].append(source)
                    cols["video_id"].append(video)
                    cols["original_video_id"].append(None if k == 0 else real)
                    cols["label"].append("REAL" if k == 0 else "FAKE")
                    cols["actor_id"].append(f"actor{a}")
                    cols["gender"].append(gender)
                    cols["age"].append(age)
                    cols["race"].append(race)
                    cols["test_only"].append(source == test_only_source)
    return pl.DataFrame(cols)
