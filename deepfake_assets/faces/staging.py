"""Finished videos kept on disk while a source is processed, so an interrupted run resumes.

Each video's ``VideoFaces`` is written (atomically) as soon as it is done, under a key made of
the file's content fingerprint, its frame plan and every setting that changes the result; a
rerun reads back what still matches and processes only the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path

from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.video_faces import CROP_KINDS, VideoFaces, VideoFacesConfig, VideoJob
from deepfake_assets.media.images import write_bytes_atomic

# The layout of a staged result: bump it when VideoFaces gains a field or the crop paths it
# names change, so that older staged results are recomputed instead of read with a field
# missing or pointing at crops of the old layout (3: one folder per video id; 4: typed
# attempts and reason codes).
STAGED_LAYOUT = 4


def result_key(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def result_keys(
    jobs: Iterable[VideoJob],
    fingerprints: Mapping[str, str],
    ensemble_config: EnsembleConfig,
    video_cfg: VideoFacesConfig,
) -> dict[str, str]:
    """Every job's key: its file's fingerprint, its plan (a fake: its original's key) and the
    settings. Where the crops are written from (``relative_to``) does not count."""
    jobs = list(jobs)
    settings = [asdict(ensemble_config), asdict(video_cfg) | {"relative_to": None}, STAGED_LAYOUT]
    keys: dict[str, str] = {}
    for job in jobs:
        if job.role != "fake":
            keys[job.video_id] = result_key(fingerprints[job.video_id], job.plan_indices, settings)
    for job in jobs:
        if job.role == "fake":
            original = keys.get(job.original_video_id)  # type: ignore[arg-type]
            keys[job.video_id] = result_key(fingerprints[job.video_id], original, settings)
    return keys


class ResultCache:
    """The staged results of one source: one JSON file per video under ``folder``; crop paths
    in them are relative to ``data_dir``."""

    def __init__(self, folder: Path, data_dir: Path) -> None:
        self.folder, self.data_dir = Path(folder), Path(data_dir)

    def path(self, video_id: str) -> Path:
        return self.folder / f"{hashlib.sha1(video_id.encode()).hexdigest()[:20]}.json"

    def save(self, key: str, result: VideoFaces) -> None:
        payload = json.dumps({"key": key, "result": result.to_dict()})
        write_bytes_atomic(self.path(result.video_id), payload.encode("utf-8"))

    def load(self, video_id: str, key: str) -> VideoFaces | None:
        """The staged result of an earlier run, or None when it must be computed again (none,
        stale key, failed, or crops no longer where it says: a crop folder deleted, an older
        layout)."""
        path = self.path(video_id)
        if not path.exists():
            return None
        try:
            payload = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if payload.get("key") != key:
            return None
        result = VideoFaces.from_dict(payload["result"])
        if result.status == "failed":
            return None
        ends = result.faces[:1] + result.faces[-1:]  # a stat of every crop slows big resumes
        crops = [row[f"crop_{kind}"] for row in ends for kind in CROP_KINDS]
        if not all((self.data_dir / rel).is_file() for rel in crops if rel):
            return None
        return result
