"""Decode a planned set of frames from a video once, seeking past what is not needed.

Frame index ``i`` is the ``i``-th frame in *presentation* order, counted from 0, found from
packet timestamps rather than from ``i / fps``: a variable-frame-rate video (phones) has no
fixed spacing, and B-frames make decode order differ from display order. One cheap pass over the
packets (demuxing, no decoding) lists every frame's pts and which are keyframes; then for each
wanted index the decoder either keeps going forward or, when a keyframe lies between where it is
and where it must go, seeks to the last keyframe before the wanted frame. Dense plans (the
seed's "ten first frames") therefore decode sequentially and sparse ones ("seven evenly spaced")
touch a GOP or so each.

Where timestamps can't be trusted (no or duplicate pts, e.g. a raw ``.h264`` stream) the video
is decoded sequentially from the start and frames are counted as they come out.

Frames come back as HxWx3 uint8 RGB whatever the pixel format (gray, yuv444p, 10-bit), turned
upright by the display-matrix rotation phones write instead of rotating pixels.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

# Seek only when it skips at least this many frames: a seek flushes the decoder and refills
# its reorder pipeline, which costs a few frames' worth of work itself.
MIN_SKIP = 4


class VideoDecodeError(Exception):
    """The video cannot be read at all (the message says why)."""


@dataclass
class DecodedFrames:
    """What ``read_frames`` got: frames for ``indices`` (sorted), and what it could not get.

    ``missing``: asked-for indices beyond the end or undecodable (a file that breaks in the
    middle gives the frames before the break plus ``missing``). ``frame_count``: frames the file
    really holds, ``None`` when unknown (timestamp-less stream read only part way).
    ``decoded`` and ``seeks`` say what the read cost; ``errors`` keeps decoder complaints.
    """

    indices: list[int]
    frames: list[np.ndarray]
    missing: list[int]
    frame_count: int | None
    decoded: int = 0
    seeks: int = 0
    errors: list[str] = field(default_factory=list)

    def followed_by(self, later: DecodedFrames) -> DecodedFrames:
        """This read and a ``later`` one of the same reader (its frames all after these)."""
        return DecodedFrames(
            indices=self.indices + later.indices,
            frames=self.frames + later.frames,
            missing=self.missing + later.missing,
            frame_count=later.frame_count if later.frame_count is not None else self.frame_count,
            decoded=self.decoded + later.decoded,
            seeks=self.seeks + later.seeks,
            errors=later.errors + [e for e in self.errors if e not in later.errors],
        )


@dataclass
class _Index:
    pts: list[int]  # presentation order
    keyframes: list[int]  # indices (into pts) of keyframes, sorted
    of_pts: dict[int, int]
    declared: int


def read_frames(path: Path | str, indices: Sequence[int], threads: int = 1) -> DecodedFrames:
    """Decode the frames at ``indices`` (presentation order, from 0) of the first video stream.

    ``threads``: decoder threads (one worker per video is the plan, so 1 by default).
    Raises :class:`VideoDecodeError` when the file cannot be opened, has no video stream or
    yields no frame at all although frames were asked for.
    """
    with FrameReader(path, threads) as reader:
        return reader.read(indices)


class FrameReader:
    """One video, read in several steps without scanning or decoding anything twice.

    The packet index is built once, and the decoder stays where the last ``read`` left it: a
    ``read`` of later frames goes on forward from there (or seeks, as one ``read_frames`` call
    would), so reading a plan's first frame, then its other frames, decodes what one call for
    all of them would. Reading earlier frames seeks back. Use as a context manager, or
    ``close()`` it.
    """

    def __init__(self, path: Path | str, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = max(1, threads)
        self._scan_errors: list[str] = []
        self._scanned = False
        self._index: _Index | None = None
        self._container: av.container.InputContainer | None = None
        self._stream: av.video.VideoStream | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._pos = -1  # index of the last frame the decoder gave
        self._slack = 0  # keyframes to step back: some demuxers land after the one asked for
        self._at_start = True  # nothing demuxed since the container was opened
        self._needed: set[int] = set()  # frames the decoder must not skip (this read's)
        self._decode_errors: list[str] = []  # what the live decoder complained about
        self._count_hint: int | None = None  # packet count, once decoding went sequential

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = self._stream = self._frames = None
        self._pos, self._at_start = -1, True

    @property
    def frame_count(self) -> int | None:
        """Frames the packet index lists (``None`` before the first read or without one)."""
        return len(self._index.pts) if self._index is not None else None

    def _reopen(self) -> None:
        self.close()
        self._container = _open(self.path)
        self._stream = _video_stream(self._container, self.path)
        self._stream.thread_count = self.threads

    def read(self, indices: Sequence[int], upcoming: Sequence[int] = ()) -> DecodedFrames:
        """Decode the frames at ``indices``; see :func:`read_frames`.

        ``upcoming``: frames a later ``read`` will probably ask for. They are decoded rather
        than skipped on the way (not returned), so that read can go on from here instead of
        seeking back for a non-reference frame the decoder has already passed.
        """
        wanted = sorted({int(i) for i in indices})
        if wanted and wanted[0] < 0:
            raise ValueError(f"frame indices must be >= 0, got {wanted[0]}")
        if not self._scanned:
            self._index = _scan(self.path, self._scan_errors)
            self._scanned = True
        errors = list(self._scan_errors)
        index = self._index
        if index is None:
            return _read_sequential(
                self.path, wanted, self.threads, errors, count_hint=self._count_hint
            )

        count = len(index.pts)
        if index.declared and index.declared > count:
            errors.append(f"container declares {index.declared} frames, {count} readable")
        todo = [i for i in wanted if i < count]
        got: dict[int, np.ndarray] = {}
        decoded = seeks = 0
        self._needed = set(todo) | {int(i) for i in upcoming}
        mark = len(self._decode_errors)
        retried: set[int] = set()  # targets already sought again after the decoder passed them

        def needed(pts: int | None) -> bool:
            return pts is None or index.of_pts.get(pts) in self._needed

        try:
            if self._container is None:
                self._reopen()
            container, stream = self._container, self._stream
            assert container is not None and stream is not None
            w_i = 0
            while w_i < len(todo):
                target = todo[w_i]
                k_i = max(0, bisect.bisect_right(index.keyframes, target) - 1 - self._slack)
                key = index.keyframes[k_i]
                fresh = False
                behind = target <= self._pos  # already past it: only a seek back reaches it
                if self._frames is None or behind or key - (self._pos + 1) >= MIN_SKIP:
                    if key > 0:
                        container.seek(
                            index.pts[key], stream=stream, backward=True, any_frame=False
                        )
                        seeks += 1
                    elif not self._at_start:  # back to the very start: reopen, no seek needed
                        self._reopen()
                        container, stream = self._container, self._stream
                        assert container is not None and stream is not None
                    self._frames = _decode(container, stream, self._decode_errors, needed)
                    fresh, self._at_start = True, False
                    self._pos = -1
                overshot = False
                started_fresh = fresh
                for frame in self._frames:
                    decoded += 1
                    idx = index.of_pts.get(frame.pts) if frame.pts is not None else None
                    if idx is None:
                        self.close()
                        self._index = None  # timestamps can't be trusted: sequential from now on
                        self._count_hint = count
                        errors.extend(self._decode_errors[mark:])
                        errors.append(
                            f"pts {frame.pts} not in the packet index; decoding sequentially"
                        )
                        return _read_sequential(
                            self.path, wanted, self.threads, errors, decoded, seeks, count
                        )
                    if fresh and idx > target:
                        if key == 0:  # even the start overshoots: the index is wrong
                            self.close()
                            self._index = None
                            errors.extend(self._decode_errors[mark:])
                            errors.append(f"decoding starts at frame {idx}; decoding sequentially")
                            return _read_sequential(
                                self.path, wanted, self.threads, errors, decoded, seeks
                            )
                        self._slack += 1
                        overshot = True
                        break
                    if not fresh and idx > target and target not in retried:
                        # a frame this read wants went by undecoded: a non-reference frame an
                        # earlier read did not need and whose packet the decoder already took
                        retried.add(target)
                        overshot = True  # seek again, now with this read's frames needed
                        self._pos = idx
                        break
                    fresh = False
                    self._pos = idx
                    if idx >= target:
                        if idx == target:
                            got[idx] = _to_rgb(frame)
                        break
                else:
                    self._frames = None  # the stream ended (or broke) before ``target``
                    if not started_fresh and target not in retried:
                        # maybe its packet went by under an earlier read: seek to it once more
                        retried.add(target)
                        continue
                    break
                if overshot:
                    self._frames = None
                    continue
                while w_i < len(todo) and todo[w_i] <= self._pos:
                    w_i += 1
        except av.error.FFmpegError as e:
            errors.append(f"{type(e).__name__}: {e}")
            self.close()
        errors.extend(self._decode_errors[mark:])

        if wanted and not got and (todo or count == 0):
            raise VideoDecodeError(
                f"{self.path}: no frame could be decoded ({'; '.join(errors) or 'empty'})"
            )
        return _result(wanted, got, count, decoded, seeks, errors)


def _result(
    wanted: list[int],
    got: dict[int, np.ndarray],
    count: int | None,
    decoded: int,
    seeks: int,
    errors: list[str],
) -> DecodedFrames:
    ok = sorted(got)
    return DecodedFrames(
        indices=ok,
        frames=[got[i] for i in ok],
        missing=[i for i in wanted if i not in got],
        frame_count=count,
        decoded=decoded,
        seeks=seeks,
        errors=errors,
    )


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise VideoDecodeError(f"{path}: cannot open: {e}") from e


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path}: no video stream")
    return container.streams.video[0]


def _scan(path: Path, errors: list[str]) -> _Index | None:
    """Every frame's pts in presentation order and the keyframes, from packets alone.

    ``None`` when timestamps are missing or repeated, i.e. unusable for seeking.
    """
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        declared = stream.frames or 0
        pts: list[int] = []
        keys: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 and packet.pts is None:
                    continue  # the flush packet demux() yields at the end
                if packet.is_discard:
                    continue  # before an edit list's start: the decoder drops it too
                if packet.pts is None:
                    return None
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        except av.error.FFmpegError as e:
            errors.append(f"file ends early: {e}")
    finally:
        container.close()
    order = sorted(pts)
    of_pts = {p: i for i, p in enumerate(order)}
    if len(of_pts) != len(order):
        return None
    keyframes = sorted(of_pts[p] for p in keys)
    if not keyframes or keyframes[0] != 0:
        keyframes = [0, *keyframes]  # the decoder can always start at the beginning
    return _Index(order, keyframes, of_pts, declared)


def _decode(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    errors: list[str],
    needed: Callable[[int | None], bool] | None = None,
) -> Iterator[av.VideoFrame]:
    """Frames from where the demuxer stands; a packet the decoder rejects is skipped.

    With `needed` (packet pts -> is this frame wanted), the decoder skips non-reference frames
    that are not wanted: nothing depends on them, and on long-GOP H.264 they are most of what
    seeking forward to a planned frame would otherwise decode.
    """
    ctx = stream.codec_context
    for packet in container.demux(stream):
        if needed is not None:
            ctx.skip_frame = "DEFAULT" if needed(packet.pts) else "NONREF"
        try:
            yield from packet.decode()
        except av.error.EOFError:
            return
        except (av.error.InvalidDataError, av.error.UndefinedError) as e:
            errors.append(f"bad packet at pts {packet.pts}: {e}")


def _read_sequential(
    path: Path,
    wanted: list[int],
    threads: int,
    errors: list[str],
    decoded: int = 0,
    seeks: int = 0,
    count_hint: int | None = None,
) -> DecodedFrames:
    """Decode from the start, counting frames as they come out (no trust in timestamps)."""
    got: dict[int, np.ndarray] = {}
    todo = set(wanted)
    last = wanted[-1] if wanted else -1
    count: int | None = None
    n = 0
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_count = max(1, threads)
        ended = True
        try:
            for frame in _decode(container, stream, errors):
                decoded += 1
                if n in todo:
                    got[n] = _to_rgb(frame)
                n += 1
                if n > last:
                    ended = False
                    break
        except av.error.FFmpegError as e:
            errors.append(f"{type(e).__name__}: {e}")
        count = n if ended else (count_hint or stream.frames or None)
    finally:
        container.close()
    if wanted and not got and (n == 0 or wanted[0] < n):
        raise VideoDecodeError(
            f"{path}: no frame could be decoded ({'; '.join(errors) or 'empty'})"
        )
    return _result(wanted, got, count, decoded, seeks, errors)


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """HxWx3 uint8 RGB, upright: the display matrix's rotation (counter-clockwise) applied."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = int(round((frame.rotation or 0) / 90.0)) % 4
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
    return rgb
