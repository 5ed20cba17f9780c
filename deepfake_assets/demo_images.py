"""The demo's image source: a small folder of still photos in the ``images`` layout::

    real/<identity>.jpg                  a still of a demo person (their packaged photo, mirrored
                                         and framed by one draw of the demo's virtual camera)
    fake/faceswap/<target>__<donor>.png  another demo person's face swapped onto that still
    real/truncated.jpg, real/tiny.png    hostile files: recorded with a reason, never a crash
    images_truth.json                    the true person of every still (``identity``; a
                                         swap's ``target_identity`` and ``donor_identity``),
                                         entries like ``demo_truth.json``'s ``videos``; outside
                                         real/ and fake/, so not an item

The people are the video demo's, so actor clustering links a person's photos and videos into
one identity (and the splits keep them together). Stills are mirrored: a photo framed like a
video frame would otherwise be a near duplicate of it, and dedup would drop one of the two.
Generated fakes name no original, so each gets a pseudo-actor of its own. A few seconds to
write; deterministic for a seed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake_assets.demo import (
    IDENTITY_SOURCES,
    MAX_DONOR_TURN,
    Motion,
    _to_uint8,
    build_portrait,
    check_sources,
    head_turn,
    render_clean,
)
from deepfake_assets.media.face_swap import swap_face

SIZE = (320, 320)
N_REAL = 5
FAKES = ((0, 1), (2, 3), (4, 0))  # (target, donor) indices among the real stills' people
TRUTH_NAME = "images_truth.json"


@dataclass(frozen=True)
class DemoImagesSummary:
    dest: Path
    n_real: int
    n_fake: int
    n_hostile: int
    truth_path: Path

    def __str__(self) -> str:
        return (
            f"{self.n_real} real + {self.n_fake} fake images, {self.n_hostile} hostile files "
            f"-> {self.dest}"
        )


def _mirror(portrait):
    """The portrait seen in a mirror (landmarks too, left and right swapped)."""
    image = np.ascontiguousarray(portrait.image[:, ::-1])
    lm = portrait.landmarks.copy()
    lm[:, 0] = image.shape[1] - 1 - lm[:, 0]
    lm = lm[[1, 0, 2, 4, 3]]
    return type(portrait)(portrait.identity, image, lm)


def _write_image(path: Path, rgb: np.ndarray) -> None:
    """Encode by the extension, write to a temporary name, rename."""
    ok, buf = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def build_demo_images(dest: Path, *, seed: int = 0) -> DemoImagesSummary:
    """Write the image source under ``dest`` (replacing an earlier one)."""
    check_sources()
    dest = Path(dest)
    building = dest.with_name(f".{dest.name}.building")
    if building.exists():
        shutil.rmtree(building)
    (building / "real").mkdir(parents=True)
    (building / "fake" / "faceswap").mkdir(parents=True)
    rng = np.random.default_rng(1000 + seed)
    people = [s for s in IDENTITY_SOURCES if abs(head_turn(s)) <= MAX_DONOR_TURN][:N_REAL]
    portraits = [_mirror(build_portrait(s)) for s in people]
    stills = []
    truth: dict[str, dict[str, str]] = {}
    for source, portrait in zip(people, portraits, strict=True):
        motion = Motion.draw(rng, SIZE[0], SIZE[1], 9)
        frame, landmarks = render_clean(portrait, motion, 4)
        noise = rng.standard_normal(frame.shape).astype(np.float32) * motion.noise_sigma
        stills.append((frame, landmarks, noise))
        _write_image(building / "real" / f"{source.identity}.jpg", _to_uint8(frame, noise))
        truth[f"real/{source.identity}.jpg"] = {"label": "REAL", "identity": source.identity}
    for target, donor in FAKES:
        frame, landmarks, noise = stills[target]
        swapped = swap_face(
            frame, landmarks, portraits[donor].image, portraits[donor].landmarks, alpha=0.9
        )
        name = f"{people[target].identity}__{people[donor].identity}.png"
        _write_image(building / "fake" / "faceswap" / name, _to_uint8(swapped, noise))
        truth[f"fake/faceswap/{name}"] = {
            "label": "FAKE",
            "target_identity": people[target].identity,
            "donor_identity": people[donor].identity,
        }
    good = (building / "real" / f"{people[0].identity}.jpg").read_bytes()
    (building / "real" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    _write_image(building / "real" / "tiny.png", np.full((20, 20, 3), 128, np.uint8))
    tmp = building / f".{TRUTH_NAME}.tmp"
    tmp.write_text(json.dumps({"seed": seed, "images": truth}, indent=2), encoding="utf-8")
    os.replace(tmp, building / TRUTH_NAME)
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(building, dest)
    return DemoImagesSummary(dest, len(people), len(FAKES), 2, dest / TRUTH_NAME)
