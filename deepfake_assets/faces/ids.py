"""The ids of frames and faces, built in one place: ``source/video_id/frame:06d[/track]``.

Every table that names a face (``faces``, ``hashes``, ``duplicates``, ``splits``, exports) joins
on these strings, so they must be spelled the same everywhere.
"""

from __future__ import annotations

import polars as pl


def frame_id_expr() -> pl.Expr:
    """``source/video_id/frame_index`` (six digits) of the rows' columns of those names."""
    return (
        pl.col("source")
        + "/"
        + pl.col("video_id")
        + "/"
        + pl.col("frame_index").cast(pl.Utf8).str.zfill(6)
    )


def face_id_expr() -> pl.Expr:
    """``frame_id_expr() + /track``: one face of one frame."""
    return frame_id_expr() + "/" + pl.col("track").cast(pl.Utf8)


def face_id(source: str, video_id: str, frame_index: int, track: int) -> str:
    """``face_id_expr()`` of one row, for code that holds the values rather than a frame."""
    return f"{source}/{video_id}/{int(frame_index):06d}/{int(track)}"
