"""``read_frames`` against plain sequential decoding, on videos written here with PyAV.

Every video is built from scikit-image's astronaut, panned so that each frame differs (an
off-by-one index would show as a pixel mismatch). Equality with sequential decoding is exact:
the same decoder decodes the same packets.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from deepfake_assets.media.frames import FrameReader, VideoDecodeError, read_frames
from deepfake_assets_tests.fixture_paths import SHARED_FIXTURES, requires_fixtures

W, H = 128, 96


def pan_frames(n: int, w: int = W, h: int = H) -> list[np.ndarray]:
    """``n`` different frames: a window sliding over the astronaut, 3 px per frame."""
    import cv2
    from skimage import data

    img = data.astronaut()
    out = []
    for i in range(n):
        x0, y0 = (3 * i) % 200, (2 * i) % 150
        crop = img[y0 : y0 + 300, x0 : x0 + 300]
        out.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA))
    return out


def write_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    container_format: str | None = None,
) -> Path:
    """Encode ``frames``; ``pts``/``time_base`` give a variable frame rate."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=Fraction(25, 1))
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.codec_context.thread_count = 1
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        stream.options = options if options is not None else {"g": "12", "bf": "2", "crf": "20"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """The reference: every frame in output order, counted from 0."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def assert_matches(path: Path, indices: list[int]) -> None:
    ref = decode_all(path)
    got = read_frames(path, indices)
    expected = sorted({i for i in indices if i < len(ref)})
    assert got.indices == expected
    assert got.missing == sorted({i for i in indices if i >= len(ref)})
    assert got.frame_count == len(ref)
    assert got.errors == []
    for i, frame in zip(got.indices, got.frames, strict=True):
        assert frame.dtype == np.uint8 and frame.shape == ref[i].shape
        assert np.array_equal(frame, ref[i]), f"frame {i} differs from sequential decoding"


@pytest.fixture(scope="module")
def gop_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 frames, a keyframe every 12, B-frames (decode order != display order)."""
    return write_video(tmp_path_factory.mktemp("v") / "gop.mp4", pan_frames(96))


def test_sparse_indices_seek_and_match_sequential_decoding(gop_video: Path) -> None:
    indices = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 30, 50, 70, 95]
    assert_matches(gop_video, indices)
    got = read_frames(gop_video, indices)
    assert got.seeks >= 2
    assert got.decoded < 96  # the GOPs between the planned frames are never decoded


def test_dense_indices_decode_forward_without_seeking(gop_video: Path) -> None:
    got = read_frames(gop_video, list(range(10)))
    assert got.seeks == 0
    assert got.decoded == 10


def test_unsorted_duplicate_and_out_of_range_indices(gop_video: Path) -> None:
    assert_matches(gop_video, [60, 13, 13, 95, 96, 500, 0])
    got = read_frames(gop_video, [96, 97])
    assert got.indices == [] or got.missing == [96, 97]


def test_every_index_once(gop_video: Path) -> None:
    assert_matches(gop_video, list(range(0, 96, 1)))


def _check_equal(path: Path, got_indices: list[int], got_frames: list[np.ndarray]) -> None:
    ref = decode_all(path)
    for i, frame in zip(got_indices, got_frames, strict=True):
        assert np.array_equal(frame, ref[i]), f"frame {i} differs from sequential decoding"


@pytest.mark.parametrize("hint", [True, False])
def test_reader_in_steps_gets_what_one_read_gets(gop_video: Path, hint: bool) -> None:
    """A plan's first frame, then the rest: the same frames as one read, no second scan.

    Without the ``upcoming`` hint the B-frames right after frame 0 were passed over by the
    decoder (not needed then); the reader must notice and seek back rather than lose them.
    """
    plan = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 30, 50, 70, 95]
    one = read_frames(gop_video, plan)
    with FrameReader(gop_video) as reader:
        first = reader.read(plan[:1], upcoming=plan[1:] if hint else ())
        rest = reader.read(plan[1:])
    assert first.indices == [0] and rest.indices == plan[1:]
    assert rest.missing == [] and rest.errors == []
    _check_equal(gop_video, first.indices + rest.indices, first.frames + rest.frames)
    if hint:  # went on forward: exactly the decoding of the single read
        assert first.decoded + rest.decoded == one.decoded
        assert first.seeks + rest.seeks == one.seeks


def test_reader_recovers_frames_the_decoder_skipped_for_an_earlier_read(gop_video: Path) -> None:
    """Reading frame k, then k+1..k+5 with no hint: after some k the decoder has already taken
    (and skipped) the packet of a wanted B-frame; the reader seeks back, never drops it."""
    ref = decode_all(gop_video)
    for k in [*range(24), *range(84, 95)]:  # the tail too: the stream ends right after them
        want = list(range(k + 1, min(k + 6, 96)))
        with FrameReader(gop_video) as reader:
            reader.read([k])
            nxt = reader.read(want)
        assert nxt.indices == want and nxt.missing == [], k
        for i, frame in zip(nxt.indices, nxt.frames, strict=True):
            assert np.array_equal(frame, ref[i]), (k, i)


def test_reader_goes_back_for_earlier_frames(gop_video: Path) -> None:
    """Seed 001's retries ask for frames before where the decoder stands."""
    with FrameReader(gop_video) as reader:
        late = reader.read([40, 80, 95])
        early = reader.read([1, 20, 41])
        again = reader.read([0])
    assert late.indices == [40, 80, 95] and early.indices == [1, 20, 41]
    assert again.indices == [0]
    _check_equal(
        gop_video,
        late.indices + early.indices + again.indices,
        late.frames + early.frames + again.frames,
    )
    assert late.frame_count == early.frame_count == 96


def test_variable_frame_rate_uses_timestamps(tmp_path: Path) -> None:
    """Frame durations of 10-90 ms: index i must still be the i-th displayed frame."""
    rng = np.random.default_rng(1)
    gaps = rng.integers(10, 90, size=60)
    pts = np.concatenate([[0], np.cumsum(gaps[:-1])]).tolist()
    path = write_video(tmp_path / "vfr.mp4", pan_frames(60), pts=pts, time_base=Fraction(1, 1000))
    with av.open(str(path)) as c:
        seen = [f.pts for f in c.decode(video=0)]
    assert np.ptp(np.diff(seen)) > 20  # the file really has uneven spacing
    assert_matches(path, [0, 5, 17, 18, 40, 59])


def test_raw_h264_without_timestamps_falls_back_to_counting(tmp_path: Path) -> None:
    path = write_video(tmp_path / "raw.h264", pan_frames(40), container_format="h264")
    ref = decode_all(path)
    got = read_frames(path, [0, 7, 25, 39, 60])
    assert got.indices == [0, 7, 25, 39] and got.missing == [60]
    for i, frame in zip(got.indices, got.frames, strict=True):
        assert np.array_equal(frame, ref[i])


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_display_rotation_is_applied(tmp_path: Path, rotation: int) -> None:
    """A phone stores pixels sideways plus a display matrix; frames must come out upright."""
    upright = pan_frames(6, w=128, h=96)
    turns = rotation // 90
    stored = [np.ascontiguousarray(np.rot90(f, k=-turns)) for f in upright]
    path = write_video(tmp_path / f"rot{rotation}.mp4", stored, rotation=rotation)
    got = read_frames(path, [0, 5])
    assert got.indices == [0, 5]
    for i, frame in zip(got.indices, got.frames, strict=True):
        assert frame.shape == upright[i].shape
        err = np.abs(frame.astype(int) - upright[i].astype(int)).mean()
        assert err < 6, f"rotation {rotation}: mean abs error {err:.1f} against upright"


@pytest.mark.parametrize(
    ("codec", "suffix", "pix_fmt"),
    [
        ("ffv1", "mkv", "gray"),  # this libx264 build turns gray into yuv420p
        ("ffv1", "mkv", "gray16le"),
        ("libx264", "mp4", "yuv444p"),
        ("libx264", "mp4", "yuv420p10le"),
    ],
)
def test_any_pixel_format_comes_back_rgb_uint8(
    tmp_path: Path, codec: str, suffix: str, pix_fmt: str
) -> None:
    frames = pan_frames(8)
    options = {} if codec == "ffv1" else None
    path = write_video(
        tmp_path / f"v.{suffix}", frames, codec=codec, pix_fmt=pix_fmt, options=options
    )
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pix_fmt
    got = read_frames(path, [2, 7])
    assert got.indices == [2, 7]
    for i, frame in zip(got.indices, got.frames, strict=True):
        assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)
        expected = frames[i].astype(float)
        if pix_fmt.startswith("gray"):
            expected = np.repeat(expected @ [0.299, 0.587, 0.114], 3).reshape(expected.shape)
            assert np.ptp(frame.astype(int), axis=2).max() <= 2  # grey stays grey
        assert np.abs(frame - expected).mean() < 8


def test_truncated_mp4_without_index_raises_with_reason(gop_video: Path, tmp_path: Path) -> None:
    broken = tmp_path / "truncated.mp4"
    broken.write_bytes(gop_video.read_bytes()[: gop_video.stat().st_size // 2])
    with pytest.raises(VideoDecodeError, match="cannot open"):
        read_frames(broken, [0, 1])


def test_stream_that_breaks_in_the_middle_gives_partial_frames(tmp_path: Path) -> None:
    """MPEG-TS has no index: a cut file still plays up to the cut."""
    full = write_video(tmp_path / "full.ts", pan_frames(80), container_format="mpegts")
    cut = tmp_path / "cut.ts"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.5)])
    assert_matches(full, [0, 5, 20, 40, 50, 79])  # its seeks land late: stepped back
    ref = decode_all(full)
    got = read_frames(cut, [0, 5, 20, 79])
    assert 0 in got.indices and 5 in got.indices
    assert 79 in got.missing
    assert got.frame_count is not None and got.frame_count < 80
    for i, frame in zip(got.indices, got.frames, strict=True):
        assert np.array_equal(frame, ref[i])


def test_not_a_video_raises(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a video" * 50)
    with pytest.raises(VideoDecodeError):
        read_frames(junk, [0])
    with pytest.raises(VideoDecodeError):
        read_frames(tmp_path / "absent.mp4", [0])


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.m4a"
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("aac", rate=16000)
        t = np.arange(16000) / 16000
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in s.encode(frame):
            c.mux(packet)
        c.mux(s.encode(None))
    with pytest.raises(VideoDecodeError, match="no video stream"):
        read_frames(path, [0])


def test_negative_index_is_an_error(gop_video: Path) -> None:
    with pytest.raises(ValueError):
        read_frames(gop_video, [-1, 3])


@requires_fixtures
@pytest.mark.parametrize(
    ("name", "indices"),
    [
        ("bikes.mp4", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 40, 80, 117, 160, 200, 249, 250]),
        ("carphone_pristine.mp4", [0, 9, 30, 59, 119]),
    ],
)
def test_fixture_videos_match_sequential_decoding(name: str, indices: list[int]) -> None:
    assert_matches(SHARED_FIXTURES / "videos" / name, indices)
