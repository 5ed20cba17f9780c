"""One source's faces stage without the Dagster shell: which videos to do, running them, the rows.

``FacesRun.plan`` turns the catalog's ``videos`` and ``frame_plans`` into jobs and resume keys,
``resume`` takes back what an earlier run finished (``staging.ResultCache``), ``run_pending``
sends the rest to an executor and stages every result the moment it arrives (so an interrupted
run loses only the videos in flight), and ``tables`` builds the catalog rows in job order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from deepfake_assets.compute import Executor
from deepfake_assets.compute.batches import progress_due
from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.families import run_families
from deepfake_assets.faces.staging import ResultCache, result_keys
from deepfake_assets.faces.tables import build_jobs, face_tables, plans_by_video
from deepfake_assets.faces.video_faces import VideoFaces, VideoFacesConfig, VideoJob, video_dirs
from deepfake_assets.media.written_files import WrittenFile

PROGRESS_STEPS = 20  # progress lines per run: every 1/20th of the videos, and the last


@dataclass
class FacesRun:
    """The jobs of one source, their resume keys, and the results so far (``done``)."""

    jobs: list[VideoJob]
    keys: dict[str, str]
    ensemble_config: EnsembleConfig
    video_cfg: VideoFacesConfig
    done: dict[str, VideoFaces] = field(default_factory=dict)

    @classmethod
    def plan(
        cls,
        videos: pl.DataFrame,
        plan_table: pl.DataFrame,
        ensemble_config: EnsembleConfig,
        video_cfg: VideoFacesConfig,
    ) -> FacesRun:
        """Jobs and keys; ValueError when two video ids would share a crop folder."""
        jobs = build_jobs(videos, plans_by_video(plan_table))
        video_dirs(j.video_id for j in jobs)
        fingerprints = dict(zip(videos["video_id"], videos["content_fingerprint"], strict=True))
        keys = result_keys(jobs, fingerprints, ensemble_config, video_cfg)
        return cls(jobs, keys, ensemble_config, video_cfg)

    def resume(self, cache: ResultCache) -> None:
        """Take every still-valid staged result of an earlier run as done."""
        for job in self.jobs:
            previous = cache.load(job.video_id, self.keys[job.video_id])
            if previous is not None:
                self.done[job.video_id] = previous

    @property
    def todo(self) -> list[VideoJob]:
        return [j for j in self.jobs if j.video_id not in self.done]

    @property
    def detect_jobs(self) -> int:
        """Jobs still to do that run the detector (fakes reuse their original's boxes)."""
        return sum(1 for j in self.todo if j.role != "fake")

    def summary(self, source: str) -> str:
        return (
            f"{source}: {len(self.jobs)} usable videos, {len(self.done)} already finished, "
            f"{len(self.todo)} to process"
        )

    def run_pending(
        self,
        executor: Executor,
        out_dir: Path,
        cache: ResultCache,
        threads: int,
        log: Callable[[str], None] = lambda _: None,
    ) -> list[float]:
        """Run every job not done, staging each result as it comes; the seconds of each video
        that did not fail (a failed one's time says nothing about the work)."""
        todo = self.todo
        originals = {v: r for v, r in self.done.items() if r.role == "real"}
        results = run_families(
            executor,
            todo,
            out_dir,
            self.video_cfg,
            ensemble_config=self.ensemble_config,
            threads_per_worker=threads,
            originals=originals,
        )
        seconds: list[float] = []
        for i, (result, spent) in enumerate(results, start=1):
            cache.save(self.keys[result.video_id], result)
            self.done[result.video_id] = result
            if result.status != "failed":
                seconds.append(spent)
            if progress_due(i, len(todo), PROGRESS_STEPS):
                log(f"faces: {i}/{len(todo)} videos done ({result.video_id}: {result.status})")
        return seconds

    def failed(self) -> list[VideoFaces]:
        """Videos that failed for a reason that is not the video's fault (worth retrying)."""
        return [r for r in self.done.values() if r.status == "failed"]

    def results(self) -> list[VideoFaces]:
        """The results in job (catalog) order."""
        return [self.done[j.video_id] for j in self.jobs if j.video_id in self.done]

    def tables(
        self, source: str, videos: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The `faces`, `face_videos` and `frames` rows of the results."""
        labels = dict(zip(videos["video_id"], videos["label"], strict=True))
        return face_tables(source, self.results(), labels)

    def written(self) -> list[WrittenFile]:
        """The verified crops of every video kept (what the export's file check trusts)."""
        return [w for r in self.results() if r.ok for w in r.written]

    def videos_with_faces(self) -> list[str]:
        return [r.video_id for r in self.results() if r.faces]
