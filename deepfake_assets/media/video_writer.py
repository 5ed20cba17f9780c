"""Write RGB frames to an H.264 (yuv420p) mp4 with PyAV.

Pure media code (no dagster). The writer encodes to a temporary name in the target folder and
renames on success, so a reader never sees a half-written video and an interrupted run leaves
no file that looks complete. The encoder runs single-threaded with fixed settings (and without
macroblock-tree rate control, see below) so the same frames give the same bytes on the same
PyAV/FFmpeg build.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

__all__ = ["H264Writer", "write_h264"]


class H264Writer:
    """Incremental H.264 mp4 writer: ``with H264Writer(path, w, h) as w: w.write(rgb)``.

    Frames are ``uint8`` RGB arrays of shape ``(height, width, 3)``; width and height must be
    even (yuv420p). The file appears under ``path`` only when the context exits cleanly.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        *,
        fps: int = 25,
        crf: int = 18,
        preset: str = "superfast",
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even sizes, got {width}x{height}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.frames_written = 0
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        stream = self._container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        # mbtree=0: with macroblock-tree rate control the x264 that PyAV's wheels bundle gives
        # different bytes for the same frames from run to run (measured); without it the
        # output is reproducible, at a small cost in compression.
        stream.options = {"crf": str(crf), "preset": preset, "x264-params": "mbtree=0"}
        self._time_base = Fraction(1, fps)
        self._stream = stream
        self._closed = False

    def write(self, rgb: np.ndarray) -> None:
        """Encode one RGB frame."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 ({self.height}, {self.width}, 3), got {rgb.dtype} {rgb.shape}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = self._time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and move the finished file to its final name."""
        if self._closed:
            return
        self._closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file (used when frame generation fails)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # best effort: the encoder may already be broken
            self._container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_h264(path: Path, frames: list[np.ndarray] | np.ndarray, *, fps: int = 25) -> int:
    """Write a whole clip at once; returns the number of frames written."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to write")
    height, width = frames[0].shape[:2]
    with H264Writer(path, width, height, fps=fps) as writer:
        for rgb in frames:
            writer.write(rgb)
        return writer.frames_written
