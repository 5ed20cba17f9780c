"""The donor's face rebuilt from a fake and its original (identity/residual.py)."""

from __future__ import annotations

import cv2
import numpy as np
import polars as pl
import pytest
import skimage.data
from matplotlib import cbook

from deepfake_assets.identity.donors import DonorParams, actor_centroids, fake_identities
from deepfake_assets.identity.residual import (
    GAINS,
    ResidualTrack,
    estimate_gain,
    fakes_to_rebuild,
    rebuild,
    residual_means,
    residual_pairs,
    residual_table,
)

from .test_donors import _fake_actor, _fakes, _unit, _video_actors, _world
from .test_donors import people as people  # noqa: F401  (the fixture)


def _face(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return cv2.resize(img[y0:y1, x0:x1, :3], (160, 160), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def two_faces() -> tuple[np.ndarray, np.ndarray]:
    """Two real people's 160x160 crops (the astronaut and Grace Hopper)."""
    astronaut = _face(skimage.data.astronaut(), (150, 30, 300, 200))
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = cv2.cvtColor(cv2.imdecode(np.frombuffer(f.read(), np.uint8), 1), cv2.COLOR_BGR2RGB)
    return _face(hopper, (120, 60, 400, 380)), astronaut


def _blend(orig: np.ndarray, donor: np.ndarray, alpha: float, seed: int = 0) -> np.ndarray:
    """A face-swap-like blend: the donor inside a feathered ellipse, codec-like noise on top."""
    yy, xx = np.mgrid[:160, :160].astype(np.float32)
    r = np.sqrt(((xx - 80) / 50) ** 2 + ((yy - 85) / 62) ** 2)
    mask = np.clip((1.15 - r) / 0.3, 0, 1)[..., None]
    fake = orig * (1 - alpha * mask) + donor * alpha * mask
    noise = np.random.default_rng(seed).normal(0, 1.5, fake.shape)
    return np.clip(fake + noise + 0.5, 0, 255).astype(np.uint8), mask[..., 0]


@pytest.mark.parametrize("alpha", [0.35, 0.6, 0.9])
def test_the_gain_undoes_the_blend_and_the_rebuild_is_the_donor(two_faces, alpha):
    orig, donor = two_faces
    fake, mask = _blend(orig.astype(np.float32), donor.astype(np.float32), alpha)
    gain, share = estimate_gain(fake[None], orig[None])
    assert share > 0.2
    # the largest grid gain that stays valid: not past 1 / alpha by more than one grid step
    assert 0.8 <= gain * alpha <= 1.0 + (GAINS[1] - GAINS[0]) * 2, gain
    rebuilt = rebuild(fake[None], orig[None], gain)[0].astype(np.float32)
    core = mask > 0.99
    err_rebuilt = np.abs(rebuilt[core] - donor[core]).mean()
    err_fake = np.abs(fake[core].astype(np.float32) - donor[core]).mean()
    # much closer to the donor's face than the fake is (a strong blend: already close)
    assert err_rebuilt < max(0.6 * err_fake, 8.0), (err_rebuilt, err_fake)


def test_an_unaltered_fake_is_not_rebuilt(two_faces):
    orig, _ = two_faces
    noisy = np.clip(orig + np.random.default_rng(1).normal(0, 1.5, orig.shape), 0, 255)
    gain, share = estimate_gain(noisy.astype(np.uint8)[None], orig[None])
    assert gain is None and share < 0.02


def test_pairs_are_the_same_frames_of_fake_and_original_and_named_donors_are_skipped():
    faces = pl.DataFrame(
        {
            "source": ["s"] * 6,
            "video_id": ["real", "real", "fake", "fake", "fake", "named"],
            "frame_index": [0, 8, 0, 8, 16, 0],
            "track": [0, 0, 0, 0, 0, 0],
            "crop_160": ["r0", "r8", "f0", "f8", "f16", "n0"],
            "interpolated": [False] * 6,
        },
        schema_overrides={"track": pl.Int32},
    )
    videos = pl.DataFrame(
        {
            "video_id": ["real", "fake", "named", "orphan"],
            "label": ["REAL", "FAKE", "FAKE", "FAKE"],
            "status": ["ok"] * 4,
            "original_video_id": [None, "real", "real", "gone"],
            "donor_hint": [None, None, "bob", None],
            "orphan_fake": [False, False, False, True],
        }
    )
    todo = fakes_to_rebuild(videos)
    assert todo["video_id"].to_list() == ["fake"]  # a named donor and an orphan need nothing
    pairs = residual_pairs(faces, todo, per_track=8)
    # frame 16 has no original face to subtract
    assert pairs.select("fake_crop", "original_crop").rows() == [("f0", "r0"), ("f8", "r8")]
    assert residual_pairs(faces, todo, per_track=1).height == 1


def _tracks(rows: list[tuple[str, np.ndarray | None, float | None]]) -> pl.DataFrame:
    results = [
        ResidualTrack(v, 0, 4, 0.3, gain, "ok" if vec is not None else "unchanged", vec)
        for v, vec, gain in rows
    ]
    return residual_table("s", "m", results)


def test_a_weak_blend_gets_its_donor_from_the_rebuilt_face_and_only_when_clear(people):
    """The fake's own face stays near its target (no donor from it); the rebuilt face points
    at one actor (`residual`) or at two at once (no donor: the rebuild never invents one)."""
    emb, actors = _world(people)
    a, b, c = people["A"], people["B"], people["C"]
    names = ("weak_b", "weak_unclear", "weak_unchanged")
    actors += [_fake_actor(v, "real_A0", "actor_A") for v in names]
    video_actors = _video_actors(actors)
    fakes = _fakes([{"source": "s", "video_id": v, "original_video_id": "real_A0"} for v in names])
    means = {("s", v, 0): (_unit(0.98 * a + 0.15 * b), 4) for v in names}
    rebuilt = _tracks(
        [
            ("weak_b", _unit(0.45 * a + 0.9 * b), 2.75),
            ("weak_unclear", _unit(0.5 * a + 0.6 * b + 0.6 * c), 2.75),
            ("weak_unchanged", None, None),
        ]
    )
    params = DonorParams(min_target_shift=0.30, min_margin=0.10)
    centroids = actor_centroids(emb, video_actors)
    rows = {
        r["video_id"]: r
        for r in fake_identities(
            fakes, video_actors, centroids, means, params, "m", residual_means(rebuilt)
        ).to_dicts()
    }
    found = rows["weak_b"]
    assert (found["donor_actor_id"], found["donor_source"]) == ("actor_B", "residual")
    assert found["residual_gain"] == 2.75 and found["residual_margin"] >= 0.10
    assert found["candidate_actor_id"] == "actor_B"
    assert rows["weak_unclear"]["donor_actor_id"] is None
    assert rows["weak_unclear"]["residual_margin"] < 0.10
    assert rows["weak_unchanged"]["donor_source"] == "none"
    assert rows["weak_unchanged"]["residual_gain"] is None
    # without the rebuilt faces, none of them has a donor (what the fakes' faces alone give)
    alone = fake_identities(fakes, video_actors, centroids, means, params, "m")
    assert alone["donor_actor_id"].null_count() == 3
