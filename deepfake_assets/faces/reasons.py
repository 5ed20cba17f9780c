"""Why a video has the status it has: a code to count and filter by, and a detail to read.

A reason used to be one free text (``decode_error: ...``) that callers split again at ``:`` or
``(`` to count videos by cause. The code is now stored on its own (``reason_code`` in the
catalog's ``face_videos``), the rest in ``reason_detail``; ``reason`` keeps the full text a
person reads.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """The causes a video of ``face_videos`` is discarded, failed, or flagged for."""

    # discarded: the data is unusable
    NO_FACE = "no_face"
    NO_FRAMES = "no_frames"
    NO_FRAME_WITH_ONE_OR_TWO_FACES = "no_frame_with_one_or_two_faces"  # per_frame_faces rule
    INCOMPLETE_TRACK = "incomplete_track"  # the main face not in every frame, after resampling
    TOO_FEW_FRAMES = "too_few_frames"
    DECODE_ERROR = "decode_error"
    GEOMETRY_MISMATCH = "geometry_mismatch"
    ORIGINAL_NOT_OK = "original_not_ok"
    ORIGINAL_HAS_NO_FACES = "original_has_no_faces"
    # failed: the machinery broke, worth retrying
    DETECT_ERROR = "detect_error"
    WRITE_ERROR = "write_error"
    ERROR = "error"
    WORKER_ERROR = "worker_error"
    NO_ENSEMBLE = "no_ensemble"
    ORIGINAL_NOT_PROCESSED = "original_not_processed"
    # ok, flagged
    ORPHAN_FAKE = "orphan_fake"


def reason_text(code: ReasonCode | None, detail: str | None) -> str | None:
    """The text a person reads: ``code: detail``, the code alone, or the detail alone."""
    if code is None:
        return detail or None
    return f"{code.value}: {detail}" if detail else code.value
