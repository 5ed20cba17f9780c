"""``deepfake-assets demo [DIR]``: an offline demo source dataset in the DFDC layout.

Real people come from face photos that installed packages ship (scikit-image's astronaut,
matplotlib's Grace Hopper, insightface's group photo and portrait). Each photo is aligned to a
canonical upright pose once, its surroundings blurred (so neighbours in the group photo never
show up as a second face), and then filmed by a virtual camera: pan, zoom, slight roll,
changing light and sensor noise, at several resolutions. FAKE videos are real face swaps of
another demo identity onto those frames (see ``media/face_swap.py``), frame-aligned with
their original, at three blend strengths so the alteration levels differ.

Everything is deterministic for a seed, needs no network, and writes only under ``dest``:
``dfdc_train_part_0/`` and ``dfdc_train_part_1/`` with DFDC-shaped ``metadata.json`` files,
plus ``demo_truth.json`` with the true identities per file and the hostile entries (no face,
corrupt file, missing file, fake without its original, keys that escape the folder). Those are
the table ``HOSTILE_CASES``: how each is made and, as typed values (``CatalogExpect``), what the
catalog says of it after a run; the demo's graph test compares the catalog with the table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
import string
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from deepfake_assets.faces.reasons import ReasonCode
from deepfake_assets.media.face_swap import (
    apply_affine,
    similarity_transform,
    swap_face,
)
from deepfake_assets.media.probe import (
    STATUS_MISSING,
    STATUS_OK,
    STATUS_REJECTED,
    STATUS_UNREADABLE,
)
from deepfake_assets.media.video_writer import H264Writer

__all__ = [
    "DemoSourceMissingError",
    "CatalogExpect",
    "DemoSummary",
    "HOSTILE_CASES",
    "HostileCase",
    "IdentitySource",
    "IDENTITY_SOURCES",
    "PART_NAMES",
    "TRUTH_NAME",
    "build_demo_dataset",
    "main",
]

PART_NAMES = ("dfdc_train_part_0", "dfdc_train_part_1")
TRUTH_NAME = "demo_truth.json"
GENERATOR = "deepfake_assets.demo"
FPS = 25
SIZES = ((256, 256), (320, 240), (480, 360))
ALPHAS = (0.35, 0.6, 0.9)
REALS_PER_IDENTITY = 2
MAX_DONOR_TURN = 0.35

# Every portrait is aligned to the ArcFace 5-point template (defined on 112x112), scaled so
# the eyes are CANVAS_EYE_DIST apart and centred at CANVAS_EYES on a canvas large enough that
# the virtual camera never looks past its edge.
_ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)
CANVAS_W, CANVAS_H = 832, 704
CANVAS_EYE_DIST = 90.0
CANVAS_EYES = np.array([416.0, 320.0])

INSIGHTFACE_HINT = (
    "the demo needs the sample photos that the PyPI package insightface==2.1 ships "
    "(insightface/data/images/t1.jpg and Tom_Hanks_54745.png); install them with "
    "`pip install --no-deps insightface==2.1` (no dependency of it is used: the files are "
    "only read, the package is never imported)"
)


class DemoSourceMissingError(RuntimeError):
    """A package that ships one of the demo's face photos is not installed."""


@dataclass(frozen=True)
class IdentitySource:
    """One real person: which installed file shows them and where their face is in it.

    ``landmarks`` are five points (eyes, nose tip, mouth corners; MTCNN order) measured once
    with facenet-pytorch's MTCNN on the shipped photo; ``box`` is that detection's face box.
    """

    identity: str
    package: str
    resource: str
    who: str
    photo: str
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    fixture_id: str | None = None


_T1 = "insightface/data/images/t1.jpg (group photo, six people)"
IDENTITY_SOURCES: tuple[IdentitySource, ...] = (
    IdentitySource(
        "skimage_astronaut",
        "scikit-image",
        "skimage.data.astronaut()",
        "astronaut Eileen Collins (NASA portrait)",
        "astronaut",
        (181.1, 62.2, 267.7, 172.1),
        ((205.0, 101.7), (246.8, 103.7), (224.7, 129.0), (201.7, 139.2), (245.3, 141.9)),
    ),
    IdentitySource(
        "mpl_grace_hopper",
        "matplotlib",
        'matplotlib.cbook.get_sample_data("grace_hopper.jpg")',
        "Rear Admiral Grace Hopper (portrait)",
        "grace_hopper",
        (174.4, 119.6, 355.6, 340.5),
        ((221.7, 192.2), (309.8, 186.1), (269.4, 239.2), (232.7, 279.6), (306.6, 275.9)),
    ),
    IdentitySource(
        "insightface_t1_a",
        "insightface",
        _T1,
        "t1.jpg person 1 from the left (woman holding cards, head tilted)",
        "t1",
        (54.6, 262.8, 165.3, 397.3),
        ((84.1, 330.3), (128.1, 303.5), (118.4, 337.7), (114.5, 373.2), (149.7, 349.0)),
        "person_a",
    ),
    IdentitySource(
        "insightface_t1_b",
        "insightface",
        _T1,
        "t1.jpg person 2 from the left (dark-haired woman standing behind)",
        "t1",
        (268.2, 149.7, 375.1, 272.4),
        ((292.5, 209.1), (323.1, 187.4), (311.4, 224.2), (315.1, 244.3), (344.2, 228.2)),
        "person_b",
    ),
    IdentitySource(
        "insightface_t1_c",
        "insightface",
        _T1,
        "t1.jpg person 3 from the left (man in grey shirt, smiling)",
        "t1",
        (465.0, 261.8, 570.4, 405.2),
        ((492.8, 319.0), (543.4, 331.6), (510.6, 362.9), (482.5, 369.6), (529.9, 380.5)),
        "person_c",
    ),
    IdentitySource(
        "insightface_t1_d",
        "insightface",
        _T1,
        "t1.jpg person 4 from the left (man in red shirt, laughing)",
        "t1",
        (743.0, 346.0, 843.5, 473.8),
        ((761.2, 397.2), (803.4, 401.4), (773.6, 431.8), (761.6, 439.0), (808.7, 442.4)),
        "person_d",
    ),
    IdentitySource(
        "insightface_t1_e",
        "insightface",
        _T1,
        "t1.jpg person 5 from the left (standing man, three-quarter view)",
        "t1",
        (908.2, 62.0, 1013.6, 201.5),
        ((919.2, 119.1), (954.6, 112.0), (926.2, 151.1), (933.2, 176.5), (961.5, 170.0)),
        "person_e",
    ),
    IdentitySource(
        "insightface_t1_f",
        "insightface",
        _T1,
        "t1.jpg person 6 from the left (blonde woman, right edge)",
        "t1",
        (1134.5, 276.3, 1227.7, 395.4),
        ((1150.1, 326.3), (1193.7, 324.6), (1164.1, 349.5), (1155.3, 367.6), (1196.5, 365.4)),
        "person_f",
    ),
    IdentitySource(
        "insightface_tom_hanks",
        "insightface",
        "insightface/data/images/Tom_Hanks_54745.png (112x112 aligned portrait)",
        "Tom Hanks (tightly cropped grey portrait)",
        "tom_hanks",
        (-2.9, -0.9, 82.8, 119.5),
        ((33.6, 50.7), (72.4, 49.7), (61.2, 78.7), (33.1, 91.6), (66.3, 90.5)),
        "person_g",
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    """What ``build_demo_dataset`` wrote: counts, paths and where each identity comes from."""

    dest: Path
    parts: tuple[Path, ...]
    truth_path: Path
    seed: int
    identities: dict[str, str]
    n_identities: int
    n_real: int
    n_fake: int
    n_hostile: int
    n_files: int
    frames_written: int
    elapsed_s: float
    hostile: tuple[dict[str, object], ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return (
            f"{self.n_real} real + {self.n_fake} fake videos of {self.n_identities} people, "
            f"{self.n_hostile} hostile entries, {self.n_files} files, {self.frames_written} "
            f"frames in {self.elapsed_s:.1f} s -> {self.dest} (truth: {self.truth_path.name})"
        )


# --------------------------------------------------------------------------- source photos


def _package_file(package: str, relative: str) -> Path:
    """Locate a data file inside an installed package without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DemoSourceMissingError(f"package {package!r} is not installed: {INSIGHTFACE_HINT}")
    for root in spec.submodule_search_locations:
        path = Path(root) / relative
        if path.is_file():
            return path
    raise DemoSourceMissingError(f"{package} has no {relative}: {INSIGHTFACE_HINT}")


def _read_rgb(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DemoSourceMissingError(f"cannot decode the demo photo {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@lru_cache(maxsize=8)
def _load_photo(photo: str) -> np.ndarray:
    """The shipped photo as uint8 RGB."""
    if photo == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    if photo == "grace_hopper":
        import matplotlib.cbook

        return _read_rgb(
            Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        )
    if photo == "t1":
        return _read_rgb(_package_file("insightface", "data/images/t1.jpg"))
    if photo == "tom_hanks":
        return _read_rgb(_package_file("insightface", "data/images/Tom_Hanks_54745.png"))
    raise KeyError(photo)


def _package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_sources() -> None:
    """Raise ``DemoSourceMissingError`` early if a shipped photo cannot be found."""
    for photo in sorted({s.photo for s in IDENTITY_SOURCES}):
        _load_photo(photo)


# --------------------------------------------------------------------------- portraits


@dataclass(frozen=True)
class Portrait:
    """An identity on the canonical canvas: float32 RGB in [0, 1] and its five landmarks."""

    identity: str
    image: np.ndarray
    landmarks: np.ndarray


def _canvas_template() -> np.ndarray:
    eyes = _ARCFACE_112[:2].mean(axis=0)
    k = CANVAS_EYE_DIST / float(np.hypot(*(_ARCFACE_112[1] - _ARCFACE_112[0])))
    return (_ARCFACE_112 - eyes) * k + CANVAS_EYES


def build_portrait(source: IdentitySource) -> Portrait:
    """Align the person upright on the canvas; keep the head sharp and blur everything else.

    The blur (a shallow depth of field) turns neighbouring faces of the group photo and any
    face-like clutter into blobs no detector fires on, and hides the mirrored padding used
    where the camera looks past the photo's edge.
    """
    photo = _load_photo(source.photo).astype(np.float32) / 255.0
    lm_src = np.asarray(source.landmarks, dtype=np.float64)
    mat = similarity_transform(lm_src, _canvas_template())
    size = (CANVAS_W, CANVAS_H)
    aligned = cv2.warpAffine(
        photo, mat, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )
    aligned = np.clip(aligned, 0.0, 1.0)
    inside = np.ones(photo.shape[:2], dtype=np.float32)
    inside = cv2.warpAffine(
        inside, mat, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    # Fade the sharp photo out well inside its edge: a small photo (the 112 px portrait) is
    # upscaled a lot and a hard edge would show as a frame around it.
    margin = int(0.12 * CANVAS_EYE_DIST) | 1
    inside = cv2.erode((inside > 0.99).astype(np.float32), np.ones((margin, margin), np.uint8))
    inside = cv2.GaussianBlur(inside, (0, 0), 0.1 * CANVAS_EYE_DIST)
    background = cv2.GaussianBlur(aligned, (0, 0), 0.35 * CANVAS_EYE_DIST)
    # The head: an ellipse from above the hair to the neck, twice the inner-face size.
    d = CANVAS_EYE_DIST
    head = np.zeros((CANVAS_H, CANVAS_W), dtype=np.float32)
    center = (int(CANVAS_EYES[0]), int(CANVAS_EYES[1] + 0.45 * d))
    cv2.ellipse(head, center, (int(1.75 * d), int(2.3 * d)), 0, 0, 360, 1.0, thickness=-1)
    head = cv2.GaussianBlur(head, (0, 0), 0.3 * d)
    sharp = (head * inside)[..., None]
    image = aligned * sharp + background * (1.0 - sharp)
    return Portrait(source.identity, image.astype(np.float32), apply_affine(mat, lm_src))


# --------------------------------------------------------------------------- the camera


@dataclass(frozen=True)
class Motion:
    """A virtual camera over a portrait: all per-frame geometry and light, from one seed."""

    width: int
    height: int
    frames: int
    face_frac: float
    pan: tuple[float, float]
    pan_cycles: float
    pan_phase: float
    zoom: tuple[float, float]
    roll_deg: float
    roll_cycles: float
    roll_phase: float
    gain: tuple[float, float]
    tint: tuple[float, float, float]
    light_grad: float
    light_angle: tuple[float, float]
    noise_sigma: float
    noise_seed: int

    @staticmethod
    def draw(rng: np.random.Generator, width: int, height: int, frames: int) -> Motion:
        """Random but safe camera work: the face stays >= ~90 px wide, frontal and in frame."""
        return Motion(
            width=width,
            height=height,
            frames=frames,
            face_frac=float(rng.uniform(0.19, 0.22)),
            pan=(float(rng.uniform(0.03, 0.07)), float(rng.uniform(0.02, 0.04))),
            pan_cycles=float(rng.uniform(0.5, 1.0)),
            pan_phase=float(rng.uniform(0, 2 * math.pi)),
            zoom=tuple(float(z) for z in rng.permutation([rng.uniform(0.92, 0.98), 1.12])),
            roll_deg=float(rng.uniform(3.0, 7.0)),
            roll_cycles=float(rng.uniform(0.4, 0.9)),
            roll_phase=float(rng.uniform(0, 2 * math.pi)),
            gain=tuple(float(g) for g in rng.permutation([rng.uniform(0.78, 0.88), 1.12])),
            tint=tuple(float(t) for t in rng.uniform(0.94, 1.06, size=3)),
            light_grad=float(rng.uniform(0.1, 0.3)),
            light_angle=(float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(-1.5, 1.5))),
            noise_sigma=float(rng.uniform(1.5, 4.0)),
            noise_seed=int(rng.integers(0, 2**31 - 1)),
        )

    def _phase(self, t: int) -> float:
        return t / max(1, self.frames - 1)

    def affine(self, t: int) -> np.ndarray:
        """2x3 matrix mapping canvas pixels to output pixels for frame ``t``."""
        u = self._phase(t)
        zoom = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * (0.5 - 0.5 * math.cos(math.pi * u))
        scale = self.face_frac * min(self.width, self.height) * zoom / CANVAS_EYE_DIST
        angle = math.radians(
            self.roll_deg * math.sin(2 * math.pi * self.roll_cycles * u + self.roll_phase)
        )
        w = 2 * math.pi * self.pan_cycles * u + self.pan_phase
        cx = self.width / 2 + self.pan[0] * self.width * math.sin(w)
        cy = 0.42 * self.height + self.pan[1] * self.height * math.sin(2 * w + 1.0)
        c, s = scale * math.cos(angle), scale * math.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        mat = np.empty((2, 3))
        mat[:, :2] = rot
        mat[:, 2] = np.array([cx, cy]) - rot @ CANVAS_EYES
        return mat

    def light(self, t: int) -> np.ndarray:
        """Per-pixel multiplicative light for frame ``t``: gain ramp, tint, moving gradient."""
        u = self._phase(t)
        gain = self.gain[0] + (self.gain[1] - self.gain[0]) * u
        theta = self.light_angle[0] + self.light_angle[1] * u
        xs = (np.arange(self.width, dtype=np.float32) / self.width - 0.5)[None, :]
        ys = (np.arange(self.height, dtype=np.float32) / self.height - 0.5)[:, None]
        ramp = xs * math.cos(theta) + ys * math.sin(theta)
        field_ = 1.0 + self.light_grad * ramp
        return (field_[..., None] * (gain * np.asarray(self.tint, dtype=np.float32))).astype(
            np.float32
        )


def render_clean(portrait: Portrait, motion: Motion, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` before noise (float32 RGB in [0, 1], lit) and the face's landmarks in it."""
    mat = motion.affine(t)
    frame = cv2.warpAffine(
        portrait.image,
        mat,
        (motion.width, motion.height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    frame *= motion.light(t)
    return frame, apply_affine(mat, portrait.landmarks)


def _to_uint8(frame: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    out = frame * 255.0
    if noise is not None:
        out += noise
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- the plan


HostileKind = Literal["missing_file", "corrupt", "orphan_fake", "no_face", "path_escape"]


@dataclass
class FakePlan:
    """One fake of a real clip: its file name, whose face is pasted, how strongly."""

    name: str
    donor: str
    alpha: float
    write: bool = True


@dataclass
class RealPlan:
    """One real clip (written or, for hostile cases, withheld) and the fakes made from it."""

    part: str
    name: str
    identity: str
    motion: Motion
    fakes: list[FakePlan]
    write_real: bool = True
    hostile: HostileKind | None = None


def head_turn(source: IdentitySource) -> float:
    """How far the nose sits off the eyes' midpoint, in eye distances (0 = frontal).

    A clearly turned head (|turn| > ``MAX_DONOR_TURN``) is still filmed and still a swap
    target, but it is never a donor: a similarity warp cannot turn it back, and its cheek and
    the background beside it would be pasted onto a frontal face.
    """
    lm = np.asarray(source.landmarks, dtype=np.float64)
    eyes = lm[:2].mean(axis=0)
    axis = lm[1] - lm[0]
    dist = float(np.hypot(*axis)) or 1.0
    return float((lm[2] - eyes) @ axis) / dist**2


def _names(rng: np.random.Generator, taken: set[str]) -> Callable[[], str]:
    letters = np.array(list(string.ascii_lowercase))

    def new() -> str:
        while True:
            name = "".join(rng.choice(letters, size=10)) + ".mp4"
            if name not in taken:
                taken.add(name)
                return name

    return new


def _plan(seed: int) -> tuple[list[RealPlan], tuple[str, str]]:
    rng = np.random.default_rng(seed)
    new_name = _names(rng, set())
    ids = [s.identity for s in IDENTITY_SOURCES]
    donor_pool = [s.identity for s in IDENTITY_SOURCES if abs(head_turn(s)) <= MAX_DONOR_TURN]
    plans: list[RealPlan] = []
    alpha_i = int(rng.integers(0, len(ALPHAS)))
    counts = rng.permutation(np.resize([1, 2, 3, 2], len(ids) * REALS_PER_IDENTITY))
    k = 0
    for i, identity in enumerate(ids):
        others = [o for o in donor_pool if o != identity]
        for r in range(REALS_PER_IDENTITY):
            width, height = SIZES[(i + r) % len(SIZES)]
            motion = Motion.draw(rng, width, height, int(rng.integers(40, 61)))
            donors = rng.choice(others, size=int(counts[k]), replace=False)
            k += 1
            fakes = []
            for donor in donors:
                fakes.append(FakePlan(new_name(), str(donor), ALPHAS[alpha_i % len(ALPHAS)]))
                alpha_i += 1
            plans.append(
                RealPlan(PART_NAMES[r % len(PART_NAMES)], new_name(), identity, motion, fakes)
            )

    # Hostile entries (what the pipeline should make of each is written to the truth file).
    # A FAKE listed in metadata whose file was never delivered (its original is fine).
    victim = next(p for p in plans if p.part == PART_NAMES[0])
    donor = next(d for d in donor_pool if d != victim.identity)
    victim.fakes.append(FakePlan(new_name(), donor, 0.6, write=False))
    # A corrupt REAL: a proper clip of a real person, truncated to a third (no moov atom).
    corrupt = RealPlan(
        PART_NAMES[1], new_name(), ids[2], Motion.draw(rng, 320, 240, 45), [], hostile="corrupt"
    )
    plans.append(corrupt)
    # A FAKE whose original is not in its folder: the swap video exists, the real was dropped.
    orphan_real = RealPlan(
        PART_NAMES[1],
        new_name(),
        ids[3],
        Motion.draw(rng, 320, 240, 44),
        [FakePlan(new_name(), ids[0], 0.9)],
        write_real=False,
        hostile="orphan_fake",
    )
    plans.append(orphan_real)
    no_face = (PART_NAMES[0], new_name())
    return plans, no_face


# --------------------------------------------------------------------------- hostile entries


@dataclass(frozen=True)
class CatalogExpect:
    """What the catalog says of a hostile entry after `deepfake-assets materialize`: typed
    values the demo's graph test compares with the catalog's own columns, field by field.

    ``video_status`` and ``orphan_fake`` are the ``videos`` row's; ``face_status``, ``role`` and
    ``reason_code`` the ``face_videos`` row's, None where the faces stage gets no row (only
    ``ok`` videos reach it).
    """

    video_status: str
    orphan_fake: bool = False
    face_status: str | None = None
    role: str | None = None
    reason_code: ReasonCode | None = None

    def as_json(self) -> dict[str, object]:
        """The truth file's form (``reason_code`` as its string value)."""
        values = asdict(self)
        values["reason_code"] = self.reason_code.value if self.reason_code else None
        return values


@dataclass(frozen=True)
class HostileCase:
    """One hostile entry of the demo: its kind, how it is made, what the catalog must say.

    ``part`` and ``key`` are fixed for entries listed under a given name (the path escapes);
    None: the plan names the file (a fresh demo name, see ``_plan``).
    """

    kind: HostileKind
    made: str
    expect: CatalogExpect
    part: str | None = None
    key: str | None = None

    def entry(self, part: str, key: str) -> dict[str, object]:
        """The entry of ``demo_truth.json``'s ``hostile`` list."""
        return {
            "part": part,
            "key": key,
            "kind": self.kind,
            "made": self.made,
            "expect": self.expect.as_json(),
        }


HOSTILE_CASES: tuple[HostileCase, ...] = (
    HostileCase(
        "missing_file",
        "a FAKE listed in metadata.json whose file was never written (its original is fine)",
        CatalogExpect(STATUS_MISSING),
    ),
    HostileCase(
        "corrupt",
        "a REAL clip of a demo person, an H.264 mp4 truncated to a third (no moov atom): the "
        "file exists, nothing can open it",
        CatalogExpect(STATUS_UNREADABLE),
    ),
    HostileCase(
        "orphan_fake",
        "a readable face swap whose original was never written: detected on directly, "
        "flagged, no pairing",
        CatalogExpect(
            STATUS_OK,
            orphan_fake=True,
            face_status="ok",
            role="orphan_fake",
            reason_code=ReasonCode.ORPHAN_FAKE,
        ),
    ),
    HostileCase(
        "no_face",
        "a pan over scikit-image's coffee cup: decodes fine, no face in any frame, so every "
        "try stops at its first frame and the video is discarded without crops",
        CatalogExpect(
            STATUS_OK, face_status="discarded", role="real", reason_code=ReasonCode.NO_FACE
        ),
    ),
    HostileCase(
        "path_escape",
        "a key that climbs out of its part folder into the dataset root, where no such file is",
        CatalogExpect(STATUS_MISSING),
        part=PART_NAMES[0],
        key="../escape.mp4",
    ),
    HostileCase(
        "path_escape",
        "a key that climbs out of the dataset root: rejected, never opened",
        CatalogExpect(STATUS_REJECTED),
        part=PART_NAMES[1],
        key="../../escape.mp4",
    ),
)
_BY_KIND = {c.kind: c for c in HOSTILE_CASES if c.key is None}  # the ones the plan names


# --------------------------------------------------------------------------- no-face clip


def _no_face_frames(
    seed: int, width: int = 320, height: int = 240, frames: int = 40
) -> Iterator[np.ndarray]:
    """A slow pan and zoom over scikit-image's coffee cup photo: real video, no face."""
    import skimage.data

    img = skimage.data.coffee().astype(np.float32) / 255.0
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed + 7)
    for t in range(frames):
        u = t / (frames - 1)
        scale = max(width / w, height / h) * (1.1 + 0.15 * u)
        cx = w / 2 + 40 * math.sin(2 * math.pi * 0.5 * u)
        cy = h / 2 + 20 * math.cos(2 * math.pi * 0.5 * u)
        mat = np.array([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]])
        frame = cv2.warpAffine(
            img, mat, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        noise = rng.standard_normal(frame.shape, dtype=np.float32) * 2.0
        yield _to_uint8(frame * (0.9 + 0.2 * u), noise)


# --------------------------------------------------------------------------- writing


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _render_group(
    plan: RealPlan,
    portraits: dict[str, Portrait],
    folder: Path,
) -> int:
    """Write one real clip and all its fakes in a single pass over the frames."""
    portrait = portraits[plan.identity]
    m = plan.motion
    writers: list[tuple[H264Writer, FakePlan | None]] = []
    with contextlib.ExitStack() as stack:
        if plan.write_real:
            writers.append(
                (
                    stack.enter_context(H264Writer(folder / plan.name, m.width, m.height, fps=FPS)),
                    None,
                )
            )
        for fake in plan.fakes:
            if fake.write:
                w = H264Writer(folder / fake.name, m.width, m.height, fps=FPS)
                writers.append((stack.enter_context(w), fake))
        noise_rng = np.random.default_rng(m.noise_seed)
        for t in range(m.frames):
            clean, lm = render_clean(portrait, m, t)
            noise = noise_rng.standard_normal(clean.shape, dtype=np.float32) * m.noise_sigma
            for writer, fake in writers:
                if fake is None:
                    writer.write(_to_uint8(clean, noise))
                else:
                    donor = portraits[fake.donor]
                    swapped = swap_face(clean, lm, donor.image, donor.landmarks, alpha=fake.alpha)
                    writer.write(_to_uint8(swapped, noise))
    return m.frames * len(writers)


def _claim_dest(dest: Path) -> None:
    """Refuse to overwrite part folders that an earlier demo run did not write."""
    truth = dest / TRUTH_NAME
    ours = False
    if truth.is_file():
        with contextlib.suppress(OSError, ValueError):
            ours = json.loads(truth.read_text(encoding="utf-8")).get("generator") == GENERATOR
    for part in PART_NAMES:
        if (dest / part).exists() and not ours:
            raise FileExistsError(
                f"{dest / part} exists and was not written by the demo; use an empty folder"
            )


REAL_META = {"label": "REAL", "split": "train"}
NO_FACE_SIZE, NO_FACE_FRAMES = (320, 240), 40


@dataclass
class _Listing:
    """What the build has listed so far: each part's metadata, the truth's entries, counts."""

    metadata: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=lambda: {part: {} for part in PART_NAMES}
    )
    videos: dict[str, dict[str, object]] = field(default_factory=dict)
    hostile: list[dict[str, object]] = field(default_factory=list)
    frames: int = 0
    files: int = 0
    n_real: int = 0
    n_fake: int = 0

    def add(
        self,
        part: str,
        key: str,
        meta: dict[str, str],
        entry: dict[str, object] | None = None,
        case: HostileCase | None = None,
    ) -> None:
        self.metadata[part][key] = meta
        if entry is not None:
            self.videos[f"{part}/{key}"] = entry
        if case is not None:
            self.hostile.append(case.entry(part, key))


def _list_group(plan: RealPlan, folder: Path, out: _Listing) -> None:
    """List one rendered real clip and its fakes; make the plan's hostile cases hostile."""
    m = plan.motion
    geometry = {"frames": m.frames, "width": m.width, "height": m.height, "fps": FPS}
    if plan.write_real:
        out.files += 1
        case = _BY_KIND["corrupt"] if plan.hostile == "corrupt" else None
        if case is not None:
            path = folder / plan.name
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 3])
        else:
            out.n_real += 1
        entry: dict[str, object] = {
            "part": plan.part,
            "file": plan.name,
            "label": "REAL",
            "identity": plan.identity,
            "identities": [plan.identity],
            **geometry,
            "expect": case.kind if case else "ok",
        }
        out.add(plan.part, plan.name, REAL_META, entry, case)
    for fake in plan.fakes:
        kind = "missing_file" if not fake.write else None if plan.write_real else "orphan_fake"
        out.files += fake.write
        out.n_fake += kind is None
        entry = {
            "part": plan.part,
            "file": fake.name,
            "label": "FAKE",
            "original": plan.name,
            "identity": plan.identity,
            "identities": [plan.identity, fake.donor],
            "target_identity": plan.identity,
            "donor_identity": fake.donor,
            "alpha": fake.alpha,
            **geometry,
            "expect": kind or "ok",
        }
        meta = {"label": "FAKE", "split": "train", "original": plan.name}
        out.add(plan.part, fake.name, meta, entry, _BY_KIND[kind] if kind else None)


def _write_no_face(folder: Path, part: str, name: str, seed: int, out: _Listing) -> None:
    """The readable clip without any face, listed as a REAL."""
    width, height = NO_FACE_SIZE
    with H264Writer(folder / name, width, height, fps=FPS) as writer:
        for frame in _no_face_frames(seed, width, height, NO_FACE_FRAMES):
            writer.write(frame)
        out.frames += writer.frames_written
    out.files += 1
    entry: dict[str, object] = {
        "part": part,
        "file": name,
        "label": "REAL",
        "identity": None,
        "identities": [],
        "frames": NO_FACE_FRAMES,
        "width": width,
        "height": height,
        "fps": FPS,
        "expect": "no_face",
    }
    out.add(part, name, REAL_META, entry, _BY_KIND["no_face"])


def _truth(seed: int, out: _Listing) -> dict[str, object]:
    """``demo_truth.json``: where each identity comes from, every video, the hostile cases."""
    return {
        "generator": GENERATOR,
        "seed": seed,
        "layout": "dfdc",
        "parts": list(PART_NAMES),
        "identities": {
            s.identity: {
                "package": s.package,
                "version": _package_version(s.package),
                "resource": s.resource,
                "who": s.who,
                "fixture_id": s.fixture_id,
                "head_turn": round(head_turn(s), 3),
                "donor": abs(head_turn(s)) <= MAX_DONOR_TURN,
                "box_in_photo": list(s.box),
            }
            for s in IDENTITY_SOURCES
        },
        "videos": out.videos,
        "hostile": out.hostile,
        "counts": {
            "identities": len(IDENTITY_SOURCES),
            "real": out.n_real,
            "fake": out.n_fake,
            "hostile": len(out.hostile),
            "files": out.files,
        },
    }


def build_demo_dataset(
    dest: Path,
    *,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write the demo DFDC-layout dataset under ``dest`` (see the module docstring)."""
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    _claim_dest(dest)
    check_sources()

    say(f"aligning {len(IDENTITY_SOURCES)} identities from packaged photos")
    portraits = {s.identity: build_portrait(s) for s in IDENTITY_SOURCES}
    plans, (no_face_part, no_face_name) = _plan(seed)

    building = {part: dest / f".{part}.building" for part in PART_NAMES}
    for folder in building.values():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()

    out = _Listing()
    for i, plan in enumerate(plans, start=1):
        m = plan.motion
        say(
            f"[{i}/{len(plans)}] {plan.part}/{plan.name} {plan.identity} {m.width}x{m.height} "
            f"{m.frames} frames + {sum(f.write for f in plan.fakes)} fakes"
        )
        out.frames += _render_group(plan, portraits, building[plan.part])
        _list_group(plan, building[plan.part], out)
    say(f"[no face] {no_face_part}/{no_face_name} coffee cup pan")
    _write_no_face(building[no_face_part], no_face_part, no_face_name, seed, out)
    for case in HOSTILE_CASES:  # listed under a fixed key; nothing is written
        if case.key is not None and case.part is not None:
            out.add(case.part, case.key, REAL_META, case=case)

    for part in PART_NAMES:
        _write_json(building[part] / "metadata.json", out.metadata[part])
    # Swap the finished folders in (an old demo's folders are ours: _claim_dest checked).
    for part in PART_NAMES:
        final = dest / part
        if final.exists():
            shutil.rmtree(final)
        os.replace(building[part], final)

    truth_path = dest / TRUTH_NAME
    _write_json(truth_path, _truth(seed, out))
    elapsed = time.perf_counter() - started
    say(
        f"done: {out.n_real} real + {out.n_fake} fake videos of {len(IDENTITY_SOURCES)} people, "
        f"{len(out.hostile)} hostile entries, {out.frames} frames in {elapsed:.1f} s"
    )
    return DemoSummary(
        dest=dest,
        parts=tuple(dest / p for p in PART_NAMES),
        truth_path=truth_path,
        seed=seed,
        identities={
            s.identity: f"{s.package} {_package_version(s.package) or '?'}: {s.resource}"
            for s in IDENTITY_SOURCES
        },
        n_identities=len(IDENTITY_SOURCES),
        n_real=out.n_real,
        n_fake=out.n_fake,
        n_hostile=len(out.hostile),
        n_files=out.files,
        frames_written=out.frames,
        elapsed_s=elapsed,
        hostile=tuple(out.hostile),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m deepfake_assets.demo DIR [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="deepfake-assets demo",
        description="Write an offline demo source dataset (DFDC layout) of real packaged "
        "face photos animated into videos, with face-swap fakes and hostile entries.",
    )
    parser.add_argument("dir", nargs="?", default="demo_source", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    try:
        summary = build_demo_dataset(
            args.dir, seed=args.seed, progress=None if args.quiet else print
        )
    except (DemoSourceMissingError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {summary.dest}: {summary.n_real} real, {summary.n_fake} fake, "
        f"{summary.n_hostile} hostile entries; truth in {summary.truth_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
