"""The faces stage as executor tasks: an original and its fakes are one task.

Fakes are cropped at their original's frames and boxes, so a task holds the whole family: the
original is detected on, then each fake is decoded at its frames, all in one worker, and only
the small `VideoFaces` records travel back (crops are written by the worker under `out_dir`,
which on a cluster is the shared data folder). A fake whose original finished in an earlier run
is a family without a head: its task carries the original's staged result. An orphan fake (its
original is not in the dataset) is detected on like an original and has no family.

The ensemble is built once per worker process (`compute.per_process`), however many tasks the
process runs. Per video, the task reports the seconds it spent on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from deepfake_assets.compute import Executor, Task, per_process
from deepfake_assets.compute.executor import set_threads
from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.video_faces import VideoFaces, VideoFacesConfig, VideoJob, run_job


@dataclass(frozen=True)
class Family:
    """One task: `head` (a real video or an orphan fake) then its `fakes`; or, when the head
    finished in an earlier run, `head` None and its result in `original`."""

    head: VideoJob | None
    fakes: tuple[VideoJob, ...] = ()
    original: VideoFaces | None = None

    @property
    def key(self) -> str:
        return (
            self.head.video_id
            if self.head is not None
            else f"fakes-of-{self.fakes[0].original_video_id}"
        )

    @property
    def jobs(self) -> list[VideoJob]:
        return ([self.head] if self.head is not None else []) + list(self.fakes)


@dataclass(frozen=True)
class FamilySettings:
    """What every task of one run shares (pickled with each task; small)."""

    out_dir: str
    cfg: VideoFacesConfig
    ensemble_config: EnsembleConfig
    threads: int = 1


def build_families(
    jobs: Iterable[VideoJob], originals: dict[str, VideoFaces] | None = None
) -> tuple[list[Family], list[VideoJob]]:
    """Group jobs into families; also the fakes that have no original to reuse (neither in
    this run nor finished before), which the caller settles without a worker."""
    originals = originals or {}
    job_list = list(jobs)
    heads = {j.video_id: j for j in job_list if j.role == "real"}
    fakes_of: dict[str, list[VideoJob]] = {}
    stranded: list[VideoJob] = []
    for j in job_list:
        if j.role != "fake":
            continue
        if j.original_video_id in heads or j.original_video_id in originals:
            fakes_of.setdefault(j.original_video_id, []).append(j)  # type: ignore[arg-type]
        else:
            stranded.append(j)
    families = [
        Family(j, tuple(fakes_of.pop(j.video_id, ()))) if j.role == "real" else Family(j)
        for j in job_list
        if j.role != "fake"
    ]
    for original_id, fakes in fakes_of.items():
        families.append(Family(None, tuple(fakes), originals[original_id]))
    return families, stranded


def run_family(family: Family, settings: FamilySettings) -> list[tuple[VideoFaces, float]]:
    """In a worker: every video of the family, each with its seconds. Never raises for a
    video (`run_job` turns every fault of the data into a status)."""
    import time

    per_process(("threads", settings.threads), lambda: set_threads(settings.threads))
    out: list[tuple[VideoFaces, float]] = []
    original = family.original
    if family.head is not None:
        from deepfake_assets.faces.ensemble import FaceEnsemble

        config = settings.ensemble_config
        ensemble = per_process(
            ("face_ensemble", repr(config)),  # a dataclass: its repr names every field
            lambda: FaceEnsemble(config),
        )
        start = time.perf_counter()
        original = run_job(family.head, ensemble, settings.out_dir, settings.cfg)
        out.append((original, time.perf_counter() - start))
    for fake in family.fakes:
        start = time.perf_counter()
        result = run_job(fake, None, settings.out_dir, settings.cfg, original)
        out.append((result, time.perf_counter() - start))
    return out


def failed(job: VideoJob, reason: str) -> VideoFaces:
    return VideoFaces(
        job.video_id, job.role, "failed", reason, original_video_id=job.original_video_id
    )


def run_families(
    executor: Executor,
    jobs: Iterable[VideoJob],
    out_dir: str | os.PathLike[str],
    cfg: VideoFacesConfig,
    *,
    ensemble_config: EnsembleConfig | None = None,
    threads_per_worker: int = 1,
    originals: dict[str, VideoFaces] | None = None,
) -> Iterator[tuple[VideoFaces, float]]:
    """Every job's result with its seconds in the worker, yielded as families finish.

    A family whose task was lost (its worker died and the backend gave up, the task raised)
    yields each of its videos `failed` with the backend's reason: worth retrying, so the next
    run does them again.
    """
    families, stranded = build_families(jobs, originals)
    for job in stranded:
        yield run_job(job, None, str(out_dir), cfg, None), 0.0
    settings = FamilySettings(
        str(out_dir), cfg, ensemble_config or EnsembleConfig(), max(threads_per_worker, 1)
    )
    by_key = {f.key: f for f in families}
    tasks = (Task(f.key, run_family, (f, settings)) for f in families)
    for outcome in executor.map(tasks):
        if outcome.ok:
            yield from outcome.value
            continue
        for job in by_key[outcome.key].jobs:
            yield failed(job, outcome.error or "task_lost"), 0.0
