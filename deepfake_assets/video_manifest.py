"""The video manifest: an adapter's table of listed videos, checked and probed on disk.

Every listed video becomes exactly one row with a `status` and a `reason`: paths that escape the
dataset folder and entries the adapter rejected (bad label, conflicting duplicates) are rejected
without being opened, missing and undecodable files are recorded, and fakes whose original is not
usable are flagged so later stages detect on them directly. A metadata file the adapter could
not read at all is one `rejected` row too (its path as `rel_path`, no label), so the catalog
says which part of a dataset is not listed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import polars as pl

from deepfake_assets.media.probe import STATUS_OK, STATUS_REJECTED, VideoProbe, probe_video
from deepfake_assets.media.reasons import relative_reason
from deepfake_assets.media.still_images import is_image_path, probe_image
from deepfake_assets.sources.fingerprint import file_content_fingerprint
from deepfake_assets.sources.safe_paths import resolve_inside
from deepfake_assets.sources.schema import MetadataProblem

PROBE_COLUMNS = {
    "status": pl.Utf8,
    "reason": pl.Utf8,
    "codec": pl.Utf8,
    "pix_fmt": pl.Utf8,
    "fps": pl.Float64,
    "frame_count": pl.Int64,
    "duration_s": pl.Float64,
    "width": pl.Int64,
    "height": pl.Int64,
    "rotation": pl.Int64,
    "variable_frame_rate": pl.Boolean,
    "size_bytes": pl.Int64,
}


def _probe_one(
    root: Path, rel_path: str, reject_reason: str | None
) -> tuple[VideoProbe, str | None, str | None]:
    if reject_reason is not None:
        return VideoProbe(status=STATUS_REJECTED, reason=reject_reason), None, None
    resolved = resolve_inside(root, rel_path)
    if resolved is None:
        probe = VideoProbe(
            status=STATUS_REJECTED,
            reason=f"path {rel_path!r} resolves outside the dataset folder; not opened",
        )
        return probe, None, None
    if is_image_path(rel_path):  # a still image: a one-frame item
        probe = probe_image(resolved, rel_path=rel_path)
    else:
        probe = probe_video(resolved, rel_path=rel_path)
    fingerprint = None
    if probe.status == STATUS_OK:
        try:
            fingerprint = file_content_fingerprint(resolved)
        except OSError as exc:
            reason = relative_reason(f"cannot read for fingerprint: {exc}", resolved, rel_path)
            probe.status, probe.reason = "unreadable", reason
    return probe, str(resolved), fingerprint


def item_kind(rel_path: str | None) -> str:
    """``image`` for a still image file (by extension), else ``video``."""
    return "image" if rel_path and is_image_path(rel_path) else "video"


def build_manifest(
    source: str,
    root: Path,
    listed: pl.DataFrame,
    *,
    problems: tuple[MetadataProblem, ...] = (),
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Probe every row of an adapter's table; returns the `videos` catalog table.

    The adapter's `reject_reason` becomes the row's status and reason (the column is dropped);
    each of the adapter's `problems` becomes a `rejected` row named after its metadata file.
    """
    rows = listed.to_dicts()
    for row in rows:
        if row.get("reject_reason") is not None:
            row["reject_reason"] += "; not opened"
    taken = {row["video_id"] for row in rows}
    for problem in problems:
        vid = problem.path if problem.path not in taken else f"{problem.path} (metadata)"
        taken.add(vid)
        blank = dict.fromkeys(listed.columns)
        rows.append(
            blank | {"video_id": vid, "rel_path": problem.path, "reject_reason": problem.reason}
        )
    probes: list[tuple[VideoProbe, str | None, str | None]] = [None] * len(rows)  # type: ignore[list-item]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(_probe_one, root, row["rel_path"], row.get("reject_reason")): i
            for i, row in enumerate(rows)
        }
        for done, future in enumerate(as_completed(futures), start=1):
            probes[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(rows))
    out = []
    for row, (probe, abs_path, fingerprint) in zip(rows, probes, strict=True):
        row.pop("reject_reason", None)
        out.append(
            {
                "source": source,
                **row,
                "item_kind": item_kind(row["rel_path"]),
                "abs_path": abs_path,
                **probe.as_row(),
                "content_fingerprint": fingerprint,
            }
        )
    listed_schema = {k: v for k, v in listed.schema.items() if k != "reject_reason"}
    schema = {
        "source": pl.Utf8,
        **listed_schema,
        "item_kind": pl.Utf8,
        "abs_path": pl.Utf8,
        **PROBE_COLUMNS,
    }
    schema["content_fingerprint"] = pl.Utf8
    table = pl.DataFrame(out, schema=schema, orient="row") if out else pl.DataFrame(schema=schema)
    return flag_orphan_fakes(table)


def flag_orphan_fakes(videos: pl.DataFrame) -> pl.DataFrame:
    """Mark fakes whose original is not listed or not usable (`orphan_fake`, with the reason)."""
    usable = set(
        videos.filter(pl.col("status") == STATUS_OK)
        .filter(pl.col("label") == "REAL")
        .get_column("video_id")
        .to_list()
    )
    listed = {r["video_id"]: r["status"] for r in videos.select("video_id", "status").to_dicts()}

    def why(label: str, original: str | None) -> str | None:
        if label != "FAKE":
            return None
        if original is None:
            return "fake without an original in the metadata"
        if original not in listed:
            return f"original {original!r} is not in this dataset"
        if original not in usable:
            return f"original {original!r} is not usable ({listed[original]})"
        return None

    reasons = [
        why(label, original)
        for label, original in zip(
            videos.get_column("label"), videos.get_column("original_video_id"), strict=True
        )
    ]
    return videos.with_columns(
        pl.Series("orphan_reason", reasons, dtype=pl.Utf8),
        pl.Series("orphan_fake", [r is not None for r in reasons], dtype=pl.Boolean),
    )


def manifest_problems(videos: pl.DataFrame) -> pl.DataFrame:
    """The rows worth a look: not usable, or a fake whose original is not."""
    return videos.filter((pl.col("status") != "ok") | pl.col("orphan_fake"))
