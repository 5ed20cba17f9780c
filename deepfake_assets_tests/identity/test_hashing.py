"""pHash: invariant to re-encoding, rescaling and small brightness changes; distinct faces."""

from __future__ import annotations

import numpy as np

from deepfake_assets.identity.dedup import DEFAULT_THRESHOLD
from deepfake_assets.identity.hashing import (
    from_int64,
    hamming,
    phash,
    phash_batch,
    popcount64,
    to_int64,
)
from deepfake_assets.testing.face_data import (
    crop_160,
    jpeg,
    packaged_people,
    relight,
    rescale,
)


def _faces() -> dict[str, np.ndarray]:
    return {name: crop_160(img, box) for name, (img, box) in packaged_people().items()}


def test_altered_copies_stay_within_threshold() -> None:
    for face in _faces().values():
        copies = [
            jpeg(face, 30),
            rescale(face, 0.5),
            rescale(face, 0.35),
            relight(face, 1.1),
            relight(face, 0.9),
            jpeg(relight(rescale(face, 0.5), 1.08), 30),
        ]
        h = phash_batch([face, *copies])
        assert hamming(h[0], h[1:]).max() <= DEFAULT_THRESHOLD


def test_different_faces_and_moved_frames_are_far() -> None:
    faces = _faces()
    h = phash_batch(list(faces.values()))
    assert hamming(h[0], h[1]) >= 4 * DEFAULT_THRESHOLD
    # A camera panning 20 px over the astronaut: no longer a duplicate of the first frame.
    image, _ = packaged_people()["astronaut"]
    first = image[50:350, 100:400]
    moved = image[70:370, 120:420]
    assert hamming(phash(first), phash(moved)) > DEFAULT_THRESHOLD


def test_batch_forms_agree_and_sizes_may_differ() -> None:
    faces = list(_faces().values())
    image, _ = packaged_people()["astronaut"]
    gray = image.mean(axis=2).astype(np.uint8)
    mixed = phash_batch([faces[0], image, gray])
    assert mixed.dtype == np.uint64 and mixed.shape == (3,)
    assert mixed[0] == phash(faces[0])
    assert np.array_equal(phash_batch(np.stack(faces)), phash_batch(faces))
    assert hamming(mixed[1], mixed[2]) <= 2  # gray vs RGB of one image: same luma
    assert phash_batch([]).shape == (0,)


def test_every_content_hash_has_32_bits_and_flat_images_none() -> None:
    # Median threshold over 64 distinct coefficients: exactly 32 ones, distances are even.
    h = phash_batch(list(_faces().values()))
    assert set(popcount64(h).tolist()) == {32}
    assert phash(np.full((50, 60, 3), 128, np.uint8)) == 0


def test_int64_storage_round_trip_and_popcount() -> None:
    rng = np.random.default_rng(0)
    u = rng.integers(0, 2**64 - 1, size=1000, dtype=np.uint64, endpoint=True)
    s = to_int64(u)
    assert s.dtype == np.int64 and (s < 0).any()
    assert np.array_equal(from_int64(s), u)
    assert np.array_equal(hamming(s, u), np.zeros(1000))
    expected = [bin(int(a) ^ int(b)).count("1") for a, b in zip(u[:-1], u[1:], strict=True)]
    assert hamming(u[:-1], s[1:]).tolist() == expected
    assert int(to_int64(2**64 - 1)) == -1 and int(from_int64(-1)) == 2**64 - 1
    assert hamming(u[:3, None], u[None, :4]).shape == (3, 4)
