"""Faces: frame plans, tracked face detections and face crops of one source dataset.

The work per video lives in `faces/video_faces.py`, the stage's run in `faces/run.py` (which
videos need it, resume from staged results, every finished video staged at once so an
interrupted run resumes where it stopped); this module wires them to the catalog, the
`compute` executor (a local process pool or a dask cluster) and the run's metadata, and
publishes the tables `frame_plans`, `faces`, `face_videos` and `frames`, one atomic write each.
"""

import time
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.catalog import remove_stale_temp_files
from deepfake_assets.compute import ExecutorUnavailable, summarise_seconds
from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.figures import faces_picture
from deepfake_assets.faces.run import FacesRun
from deepfake_assets.faces.sampling import (
    STRATEGIES,
    SamplingParams,
    SamplingStrategy,
    plan_source,
)
from deepfake_assets.faces.staging import ResultCache
from deepfake_assets.faces.tables import (
    default_workers,
    frames_by_label,
    plannable_videos,
    short_or_unplanned,
)
from deepfake_assets.faces.video_faces import VideoFacesConfig, remove_orphan_crop_folders
from deepfake_assets.jobs import PER_SOURCE
from deepfake_assets.media.written_files import record_written
from deepfake_assets.partitions import source_partitions
from deepfake_assets.resources import ComputeResource, DataDirResource

DEFAULT_STRATEGY = "first_and_even"


class SamplingConfig(dg.Config):
    """Frame sampling; `strategy` None = the source's own setting, else first_and_even."""

    strategy: SamplingStrategy | None = None  # first_and_even, uniform or balanced
    seed: int = 0
    first: int = 10
    evenly: int = 7
    num_frames: int = 32
    frames_per_fake: int = 4
    max_frames_per_video: int = 64


@dg.asset(
    partitions_def=source_partitions,
    group_name="faces",
    tags=PER_SOURCE,
    deps=["videos"],
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    description=(
        "The frame plan of every usable video, reproducible from a seed: first_and_even "
        "(seed 001: first 10 + 7 evenly spaced), balanced (seed 000: random frames, real and "
        "fake totals equal per dataset) or uniform. Fakes take their original's indices. "
        "Catalog table `frame_plans`."
    ),
)
def sampled_frames(
    context: dg.AssetExecutionContext, config: SamplingConfig, data: DataDirResource
) -> dg.MaterializeResult:
    source_name = context.partition_key
    catalog = data.catalog()
    source = data.registry().get(source_name)
    strategy = str(config.strategy or source.sampling or DEFAULT_STRATEGY)
    if strategy not in STRATEGIES:  # a registry written by hand: the config's are checked
        raise dg.Failure(f"unknown sampling strategy {strategy!r}; choose one of {STRATEGIES}")
    videos = data.require("videos", source_name, writer="videos")  # empty: nothing to plan
    usable = plannable_videos(videos)
    params = SamplingParams(
        first=config.first,
        evenly=config.evenly,
        num_frames=config.num_frames,
        frames_per_fake=config.frames_per_fake,
        max_frames_per_video=config.max_frames_per_video,
    )
    plan = plan_source(
        usable.select("video_id", "label", "original_video_id", "frame_count"),
        strategy,
        config.seed,
        params,
    )
    frames = plan.frames.with_columns(
        pl.lit(source_name).alias("source"), pl.lit(strategy).alias("strategy")
    )
    catalog.write("frame_plans", frames, source_name)
    return dg.MaterializeResult(
        metadata={
            "strategy": strategy,
            "seed": config.seed,
            "params": params.to_dict(),
            "num_videos_planned": plan.videos.filter(pl.col("planned") > 0).height,
            "num_frames_planned": frames.height,
            "frames_by_label": frames_by_label(frames, usable),
            "balance": {k: str(v) for k, v in plan.balance.items()},
            "short_or_unplanned_videos": md.table(short_or_unplanned(plan.videos, usable)),
        }
    )


class FacesConfig(dg.Config):
    """Face detection, tracking and cropping."""

    recompute: bool = False  # re-run videos already finished by an earlier run
    workers: int | None = None  # worker processes; None = one per core for larger sources
    threads_per_worker: int = 1
    detect_max_side: int = 640
    # per_frame_faces: drop frames with no face or more than two (see README's glossary)
    rule: Literal["complete_tracks", "per_frame_faces", "seed001", "seed000"] = "complete_tracks"
    resample_offset: int = 20
    max_resamples: int = 5
    # complete_tracks: a try whose first frame has no face stops there (never complete);
    # False examines every planned frame of every try (same verdicts, slower on faceless videos)
    probe_first_frame: bool = True

    def video_config(self, data_dir: Path) -> VideoFacesConfig:
        """The per-video settings; crop paths in the rows are relative to `data_dir`."""
        return VideoFacesConfig(
            rule=self.rule,
            resample_offset=self.resample_offset,
            max_resamples=self.max_resamples,
            probe_first_frame=self.probe_first_frame,
            relative_to=data_dir,
        )


def _fail_on_broken_videos(run: FacesRun, source_name: str) -> None:
    """Stop before the catalog is touched when any video failed for a retryable reason."""
    failed = run.failed()
    if failed:
        examples = "; ".join(f"{r.video_id}: {r.reason}" for r in failed[:5])
        raise dg.Failure(
            f"{len(failed)} of {len(run.jobs)} videos of {source_name!r} failed for a reason "
            f"that is not the video's fault (e.g. {examples}). The catalog is unchanged; the "
            f"{len(run.done) - len(failed)} finished videos are saved, so a re-run resumes.",
            metadata={
                "failed_videos": md.table(
                    pl.DataFrame([{"video_id": r.video_id, "reason": r.reason} for r in failed])
                )
            },
        )


def _detections_metadata(faces, face_videos, ensemble_config, backend, ran_on, timing) -> dict:
    """The `face_detections` materialisation's metadata."""
    return {
        "num_videos": face_videos.height,
        "by_status": md.counts(face_videos, "label", "status"),
        "discarded_by_reason": md.counts(
            face_videos.filter(pl.col("status") != "ok"), "reason_code"
        ),
        "num_faces": faces.height,
        "num_interpolated": int(faces["interpolated"].sum()) if faces.height else 0,
        "num_tries": int(face_videos["tries"].sum()) if face_videos.height else 0,
        "tries_stopped_at_faceless_first_frame": (
            int(face_videos["tries_stopped_early"].sum()) if face_videos.height else 0
        ),
        "faces_per_video": md.table(
            face_videos.select(
                "video_id",
                "label",
                "role",
                "status",
                "reason",
                "tries",
                "num_frames",
                "num_faces",
                "num_tracks",
            ).sort("status", "video_id"),
            limit=50,
            where="catalog table face_videos",
        ),
        "ensemble": {k: str(v) for k, v in asdict(ensemble_config).items()},
        "backend": backend,
        "workers": ran_on,
        **timing.to_metadata("video"),
    }


def _crops_metadata(faces: pl.DataFrame, out_dir, data_dir) -> dict:
    """The `face_crops` materialisation's metadata, with a picture of sample crops."""
    crops_meta: dict = {
        "num_crops": faces.height * 3,
        "crop_folder": dg.MetadataValue.path(str(out_dir)),
    }
    picture = faces_picture(faces, data_dir)
    if picture is not None:
        crops_meta["sample_faces"] = dg.MetadataValue.md(
            "Rows: 160x160, 299x299 and raw crops of a real video, then its fakes at the same "
            "frames and boxes.\n\n" + md.png_markdown(picture, "sample faces")
        )
    return crops_meta


def _prepare_folders(context, source_name: str, staging: Path, out_dir: Path, root: Path) -> None:
    """Remove what an interrupted run half-wrote, and make the stage's folders (a Failure that
    names the folder when they cannot be made)."""
    stale = sum(remove_stale_temp_files(folder) for folder in (staging, out_dir, root))
    if stale:
        context.log.info(f"removed {stale} half-written files left by an interrupted run")
    try:
        staging.mkdir(parents=True, exist_ok=True)
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise dg.Failure(
            f"cannot write the face crops of {source_name!r} under {out_dir}: {exc}"
        ) from exc


@dg.multi_asset(
    partitions_def=source_partitions,
    group_name="faces",
    specs=[
        dg.AssetSpec(
            "face_detections",
            deps=["sampled_frames"],
            tags=PER_SOURCE,
            kinds={"pytorch", "parquet"},
            owners=["team:data-engineering"],
            description=(
                "Faces found in the planned frames of every real video by the MTCNN + "
                "BlazeFace + dlib ensemble, linked into tracks, gaps of one interpolated, "
                "re-sampled (+20 frames, at most 5 times) until every frame has the face, else "
                "discarded with the reason. Fakes reuse their original's frames and boxes. "
                "Catalog tables `faces` (boxes) and `face_videos` (status per video)."
            ),
        ),
        dg.AssetSpec(
            "face_crops",
            deps=["sampled_frames"],
            tags=PER_SOURCE,
            kinds={"python", "png"},
            owners=["team:data-engineering"],
            description=(
                "PNG crops of every face: 160x160 stretched, 299x299 with a 15% margin, and raw "
                "box size, under `$DEEPFAKE_DATA_DIR/faces/<source>/<video slug>-<hash>/` (one "
                "folder per video); paths in `faces`."
            ),
        ),
    ],
)
def face_detections_and_crops(
    context: dg.AssetExecutionContext,
    config: FacesConfig,
    data: DataDirResource,
    compute: ComputeResource,
):
    source_name = context.partition_key
    catalog, data_dir = data.catalog(), data.path()
    videos = data.require("videos", source_name, writer="videos")
    plan_table = data.require("frame_plans", source_name, writer="sampled_frames")
    ensemble_config = EnsembleConfig(detect_max_side=config.detect_max_side)
    video_cfg = config.video_config(data_dir)
    try:
        run = FacesRun.plan(videos, plan_table, ensemble_config, video_cfg)
    except ValueError as exc:
        raise dg.Failure(f"{source_name!r}: {exc}; rename one of the two files") from exc
    staging, out_dir = data.work_dir(source_name) / "faces", data.faces_dir(source_name)
    _prepare_folders(context, source_name, staging, out_dir, catalog.root)
    cache = ResultCache(staging, data_dir)
    if not config.recompute:
        run.resume(cache)
    context.log.info(run.summary(source_name))
    threads = compute.threads(config.threads_per_worker)
    started = time.perf_counter()
    executor = compute.executor(default_workers(config.workers, run.detect_jobs), threads)
    try:
        ran_on = executor.workers()
        context.log.info(f"faces: {executor.backend} backend, {ran_on} workers")
        seconds = run.run_pending(executor, out_dir, cache, threads, log=context.log.info)
    except ExecutorUnavailable as exc:
        raise dg.Failure(f"faces of {source_name!r}: {exc}") from exc
    finally:
        executor.close()
    timing = summarise_seconds(seconds, time.perf_counter() - started)
    # a worker killed mid-write (its task was run again elsewhere) leaves a temporary file
    remove_stale_temp_files(out_dir)
    _fail_on_broken_videos(run, source_name)
    faces, face_videos, frames = run.tables(source_name, videos)
    for name, table in (("faces", faces), ("face_videos", face_videos), ("frames", frames)):
        catalog.write(name, table, source_name)
    record_written(data.work_dir(source_name), "faces", run.written())
    orphans = remove_orphan_crop_folders(out_dir, run.videos_with_faces())
    if orphans:
        context.log.info(f"removed {orphans} crop folders no face of {source_name!r} points to")
    detections_meta = _detections_metadata(
        faces, face_videos, ensemble_config, executor.backend, ran_on, timing
    )
    yield dg.MaterializeResult(asset_key="face_detections", metadata=detections_meta)
    yield dg.MaterializeResult(
        asset_key="face_crops", metadata=_crops_metadata(faces, out_dir, data_dir)
    )
