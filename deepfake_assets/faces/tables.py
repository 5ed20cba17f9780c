"""The face stage's tables: catalog rows in (videos, frame plans) -> jobs; results -> rows out.

``face_detections_and_crops`` reads and writes the catalog; what each row holds is decided here.
"""

from __future__ import annotations

import os

import polars as pl

from deepfake_assets.faces.ids import face_id_expr
from deepfake_assets.faces.video_faces import FACES_SCHEMA, VideoFaces, VideoJob


def plans_by_video(plan_table: pl.DataFrame) -> dict[str, list[int]]:
    """The ``frame_plans`` rows of one source as ``video_id -> frame indices``."""
    plans: dict[str, list[int]] = {}
    for vid, idx in zip(plan_table["video_id"], plan_table["frame_index"], strict=True):
        plans.setdefault(vid, []).append(int(idx))
    return plans


def default_workers(requested: int | None, detect_jobs: int) -> int:
    """Worker processes: ``requested`` when given, else none for two videos or fewer (starting
    processes costs more), else one per core up to 8 and the number of videos."""
    if requested is not None and requested >= 0:
        return requested
    return 0 if detect_jobs <= 2 else min(os.cpu_count() or 1, detect_jobs, 8)


def plannable_videos(videos: pl.DataFrame) -> pl.DataFrame:
    """The usable videos a frame plan is made for; a fake whose original is unusable (an orphan
    fake) is planned, and later detected, on its own: it names no original here."""
    return videos.filter(pl.col("status") == "ok").with_columns(
        pl.when(pl.col("orphan_fake"))
        .then(None)
        .otherwise(pl.col("original_video_id"))
        .alias("original_video_id")
    )


def short_or_unplanned(planned: pl.DataFrame, usable: pl.DataFrame) -> pl.DataFrame:
    """The plan's per-video rows worth a look: too short for the plan or not planned (with a
    reason). An image is one frame by nature: never "short"."""
    still: list[str] = []
    if "item_kind" in usable.columns:
        still = usable.filter(pl.col("item_kind") == "image")["video_id"].to_list()
    return planned.filter(
        (pl.col("short") | pl.col("reason").is_not_null()) & ~pl.col("video_id").is_in(still)
    )


def frames_by_label(frames: pl.DataFrame, usable: pl.DataFrame) -> dict[str, int]:
    """Planned frames per label (REAL / FAKE)."""
    per_label = frames.join(usable.select("video_id", "label"), on="video_id").group_by("label")
    return {r["label"]: r["len"] for r in per_label.len().to_dicts()}


def build_jobs(videos: pl.DataFrame, plans: dict[str, list[int]]) -> list[VideoJob]:
    """One job per usable video: reals and orphan fakes are detected on, fakes reuse boxes."""
    jobs = []
    for row in videos.filter(pl.col("status") == "ok").to_dicts():
        if row["label"] == "FAKE" and not row["orphan_fake"]:
            role, plan = "fake", ()
        else:
            role = "orphan_fake" if row["label"] == "FAKE" else "real"
            plan = tuple(plans.get(row["video_id"], ()))
        jobs.append(
            VideoJob(
                video_id=row["video_id"],
                path=row["abs_path"],
                role=role,
                plan_indices=plan,
                original_video_id=row["original_video_id"],
                rel_path=row["rel_path"],
            )
        )
    return jobs


FACE_VIDEOS_SCHEMA = {
    "source": pl.Utf8,
    "video_id": pl.Utf8,
    "label": pl.Utf8,
    "role": pl.Utf8,
    "status": pl.Utf8,
    "reason": pl.Utf8,
    "reason_code": pl.Utf8,  # faces.reasons.ReasonCode: why not ok (or orphan_fake)
    "reason_detail": pl.Utf8,
    "tries": pl.Int64,
    # tries that stopped at a faceless first frame (seed001 probe_first_frame)
    "tries_stopped_early": pl.Int64,
    "num_frames": pl.Int64,
    "num_faces": pl.Int64,
    "num_tracks": pl.Int64,
    "frame_indices": pl.List(pl.Int64),
    "original_video_id": pl.Utf8,
}


def face_tables(
    source: str, results: list[VideoFaces], labels: dict[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The `faces` rows (one per face per frame), `face_videos` rows (one per video) and
    `frames` rows (one per frame used, with its pHash)."""
    frames = [r.faces_frame() for r in results if r.ok and r.faces]
    faces = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=FACES_SCHEMA)
    faces = faces.with_columns(
        pl.lit(source).alias("source"),
        pl.col("video_id")
        .replace_strict(labels, default=None, return_dtype=pl.Utf8)
        .alias("label"),
    ).with_columns(face_id_expr().alias("face_id"))
    rows = [
        {
            "source": source,
            "video_id": r.video_id,
            "label": labels.get(r.video_id),
            "role": r.role,
            "status": r.status,
            "reason": r.reason,
            "reason_code": r.reason_code,
            "reason_detail": r.reason_detail,
            "tries": r.tries,
            "tries_stopped_early": sum(1 for a in r.attempts if a.stopped_early),
            "num_frames": len(r.frame_indices),
            "num_faces": len(r.faces),
            "num_tracks": len({f["track"] for f in r.faces}),
            "frame_indices": list(r.frame_indices),
            "original_video_id": r.original_video_id,
        }
        for r in results
    ]
    frames = pl.DataFrame(
        [
            {
                "source": source,
                "video_id": r.video_id,
                "label": labels.get(r.video_id),
                "frame_index": index,
                "phash": phash,
            }
            for r in results
            if r.ok
            for index, phash in zip(r.frame_indices, r.frame_hashes, strict=False)
        ],
        schema={
            "source": pl.Utf8,
            "video_id": pl.Utf8,
            "label": pl.Utf8,
            "frame_index": pl.Int64,
            "phash": pl.Int64,
        },
    )
    return faces, pl.DataFrame(rows, schema=FACE_VIDEOS_SCHEMA), frames
