"""The data card's funnel: what each stage kept, per source, and why the rest was lost.

videos listed -> probed ok -> with faces found -> faces deduplicated -> balanced and split ->
exported. The first three steps count videos (and, from "faces found" on, face images); the
later ones count face images. Every loss is named by the catalog's own columns: the probe's
status, the face stage's `reason_code` (its free-text `reason` only where a row has no code), and
`split_drops`' reasons for the faces the split policy left out (the rest of that step's loss is
the thinning that balances real and fake faces).
"""

from __future__ import annotations

import polars as pl

from deepfake_assets.splits.dataset import kept_faces

FUNNEL_SCHEMA = {
    "source": pl.Utf8,
    "step": pl.Utf8,
    "videos": pl.Int64,
    "faces": pl.Int64,
    "lost": pl.Int64,
    "why": pl.Utf8,
}
STEPS = ("listed", "probed ok", "faces found", "deduplicated", "balanced + split", "exported")


def _reasons(df: pl.DataFrame, column: str) -> str:
    """`N why, ...` most common first; `why` is `column`, or for the face stage's rows its
    `reason_code` (the same cause counted once whatever the detail says)."""
    if df.is_empty():
        return ""
    why = pl.col(column).cast(pl.Utf8).str.slice(0, 40)
    if column == "reason" and "reason_code" in df.columns:
        why = pl.coalesce(pl.col("reason_code").cast(pl.Utf8), why)
    counts = (
        df.select(why.fill_null("no reason").alias("why"))
        .group_by("why")
        .len()
        .sort("len", "why", descending=[True, False])
    )
    return ", ".join(f"{n} {why}" for why, n in counts.iter_rows())


def _split_losses(lost: int, drops: pl.DataFrame) -> str:
    """The split step's loss: faces the split policy left out, by reason, then the thinning."""
    if not lost:
        return ""
    left_out = drops.filter(pl.col("scope") == "splits") if "scope" in drops.columns else drops
    parts = [_reasons(left_out, "reason")] if left_out.height else []
    thinned = lost - left_out.height
    if thinned > 0:
        parts.append(f"{thinned} thinned for real/fake balance")
    return ", ".join(parts)


_EMPTY = {"source": pl.Utf8, "video_id": pl.Utf8, "status": pl.Utf8, "reason": pl.Utf8}
_NO_DROPS = pl.DataFrame(schema={"scope": pl.Utf8, "source": pl.Utf8, "reason": pl.Utf8})


def _for(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """The source's rows; a table never written counts as empty (no rows, the key columns)."""
    if "source" not in df.columns:
        return pl.DataFrame(schema=_EMPTY)
    return df.filter(pl.col("source") == source)


def funnel_table(
    videos: pl.DataFrame,
    face_videos: pl.DataFrame,
    faces: pl.DataFrame,
    duplicates: pl.DataFrame,
    splits: pl.DataFrame,
    info: pl.DataFrame,
    drops: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per source x step: videos and faces left after it, how many lost and why
    (`drops`: the `split_drops` table)."""
    rows = []
    sources = sorted(set(videos["source"].to_list()) | set(info["source"].to_list()))
    for src in sources:
        v = _for(videos, src)
        ok = v.filter(pl.col("status") == "ok")
        fv = _for(face_videos, src)
        with_faces = fv.filter(pl.col("status") == "ok")
        f = _for(faces, src)
        kept = kept_faces(f, _for(duplicates, src))
        s = _for(splits, src)
        e = _for(info, src)
        bad_probe = v.filter(pl.col("status") != "ok")
        no_faces = fv.filter(pl.col("status") != "ok")
        # videos probed ok that never reached the face stage (e.g. a run still pending)
        unseen = ok.height - fv.height
        face_why = _reasons(no_faces, "reason")
        if unseen > 0:
            face_why = ", ".join(x for x in (face_why, f"{unseen} not processed") if x)
        dedup_lost = f.height - kept.height
        split_lost = kept.height - s.height
        rows += [
            (src, STEPS[0], v.height, None, 0, ""),
            (src, STEPS[1], ok.height, None, bad_probe.height, _reasons(bad_probe, "status")),
            (src, STEPS[2], with_faces.height, f.height, ok.height - with_faces.height, face_why),
            (
                src,
                STEPS[3],
                kept.select("video_id").n_unique() if kept.height else 0,
                kept.height,
                dedup_lost,
                f"{dedup_lost} duplicate faces or static frames" if dedup_lost else "",
            ),
            (
                src,
                STEPS[4],
                s.select("video_id").n_unique() if s.height else 0,
                s.height,
                split_lost,
                _split_losses(split_lost, _for(drops if drops is not None else _NO_DROPS, src)),
            ),
            (
                src,
                STEPS[5],
                e.select("video_id").n_unique() if e.height else 0,
                e.height,
                s.height - e.height,
                f"{s.height - e.height} without a crop" if s.height - e.height else "",
            ),
        ]
    return pl.DataFrame(rows, schema=FUNNEL_SCHEMA, orient="row")
