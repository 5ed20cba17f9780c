"""Probe a video with PyAV: what it is, and whether it can be decoded at all.

The manifest records, for every listed video, either its technical description or a status and a
reason, so that a corrupt or empty file is a row in a table, never a crash later on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import av

from deepfake_assets.media.reasons import relative_reason

STATUS_OK = "ok"
STATUS_MISSING = "missing"
STATUS_UNREADABLE = "unreadable"
STATUS_EMPTY = "empty"
STATUS_REJECTED = "rejected"


@dataclass
class VideoProbe:
    """What the manifest keeps of one video file."""

    status: str
    reason: str | None = None
    codec: str | None = None
    pix_fmt: str | None = None
    fps: float | None = None
    frame_count: int | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    variable_frame_rate: bool | None = None
    size_bytes: int | None = None

    def as_row(self) -> dict:
        return asdict(self)


def _rotation(stream: av.video.stream.VideoStream, first_frame: av.VideoFrame | None) -> int:
    """Clockwise display rotation in degrees (0, 90, 180, 270) from the display matrix."""
    if first_frame is not None:
        rotation = getattr(first_frame, "rotation", 0) or 0
        if rotation:
            return int(round(-rotation)) % 360
    tag = stream.metadata.get("rotate")
    return int(tag) % 360 if tag else 0


def probe_video(path: Path, count_frames: bool = True, rel_path: str | None = None) -> VideoProbe:
    """Open, describe and decode the first frame of `path`; never raises for a bad file.

    Reasons name the file by ``rel_path`` (its path in the dataset; default its name), never by
    the machine's absolute path.
    """
    probe = _probe(Path(path), count_frames)
    probe.reason = relative_reason(probe.reason, path, rel_path)
    return probe


def _probe(path: Path, count_frames: bool) -> VideoProbe:
    if not path.exists():
        return VideoProbe(status=STATUS_MISSING, reason="listed in the metadata but not on disk")
    size = path.stat().st_size
    if size == 0:
        return VideoProbe(status=STATUS_EMPTY, reason="file is empty (0 bytes)", size_bytes=0)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return VideoProbe(
                    status=STATUS_UNREADABLE, reason="no video stream", size_bytes=size
                )
            stream = container.streams.video[0]
            ctx = stream.codec_context
            fps = float(stream.average_rate) if stream.average_rate else None
            first = None
            for frame in container.decode(stream):
                first = frame
                break
            if first is None:
                return VideoProbe(
                    status=STATUS_EMPTY,
                    reason="the video stream has no decodable frame",
                    codec=ctx.name,
                    size_bytes=size,
                )
            frames = stream.frames or 0
            vfr = None
            if count_frames or not frames:
                frames, vfr = _count_packets(path)
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            return VideoProbe(
                status=STATUS_OK if frames > 0 else STATUS_EMPTY,
                reason=None if frames > 0 else "zero frames",
                codec=ctx.name,
                pix_fmt=first.format.name,
                fps=fps if fps and math.isfinite(fps) else None,
                frame_count=frames,
                duration_s=duration,
                width=first.width,
                height=first.height,
                rotation=_rotation(stream, first),
                variable_frame_rate=vfr,
                size_bytes=size,
            )
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        return VideoProbe(status=STATUS_UNREADABLE, reason=f"cannot decode: {exc}", size_bytes=size)


def _count_packets(path: Path) -> tuple[int, bool]:
    """Frame count by demuxing (no decoding), and whether the frame durations vary."""
    count = 0
    durations: set[int] = set()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            count += 1
            if packet.duration:
                durations.add(int(packet.duration))
    return count, len(durations) > 1
