"""Hostile image files: each one a status and a reason, never an exception."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_assets.media.frames import VideoDecodeError
from deepfake_assets.media.still_images import (
    MAX_PIXELS,
    ImageReader,
    is_image_path,
    load_image,
    probe_image,
)
from deepfake_assets_tests.conftest import grace_hopper


def _photo(size: int = 128) -> np.ndarray:
    return np.asarray(Image.fromarray(grace_hopper()).resize((size, size)))


def test_a_plain_jpeg_is_one_frame_ok(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    Image.fromarray(_photo()).save(path, quality=95)
    probe = probe_image(path, rel_path="real/a.jpg")
    assert (probe.status, probe.reason, probe.frame_count) == ("ok", None, 1)
    assert (probe.width, probe.height, probe.codec, probe.pix_fmt) == (128, 128, "jpeg", "RGB")


@pytest.mark.parametrize(
    ("name", "write", "status", "words"),
    [
        ("empty.jpg", lambda p: p.write_bytes(b""), "empty", "0 bytes"),
        ("notimg.png", lambda p: p.write_bytes(b"this is not a PNG" * 20), "unreadable", "image"),
        (
            "truncated.jpg",
            lambda p: p.write_bytes(_jpeg_bytes()[: len(_jpeg_bytes()) // 3]),
            "unreadable",
            "truncated",
        ),
        ("tiny.png", lambda p: Image.new("RGB", (20, 40)).save(p), "unusable", "too small"),
    ],
)
def test_bad_files_are_recorded_with_a_reason(tmp_path, name, write, status, words) -> None:
    path = tmp_path / name
    write(path)
    probe = probe_image(path, rel_path=f"real/{name}")
    assert probe.status == status
    assert words in probe.reason
    assert str(tmp_path) not in probe.reason  # named relative to the dataset


def _jpeg_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_a_huge_image_is_refused_before_decoding(tmp_path: Path) -> None:
    # a PNG header that claims 9000x9000 (81 MP): Pillow reads the size without decoding
    path = tmp_path / "bomb.png"
    Image.new("L", (9000, 9000)).save(path, optimize=False, compress_level=9)
    assert MAX_PIXELS < 9000 * 9000
    probe = probe_image(path)
    assert probe.status == "unusable"
    assert "too large" in probe.reason and "not decoded" in probe.reason


def test_cmyk_16bit_and_animated_are_converted_with_a_note(tmp_path: Path) -> None:
    photo = _photo()
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    grey16 = (photo[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])

    cmyk = probe_image(tmp_path / "cmyk.jpg")
    assert (cmyk.status, cmyk.pix_fmt) == ("ok", "CMYK") and "CMYK" in cmyk.reason
    deep = probe_image(tmp_path / "grey16.png")
    assert deep.status == "ok" and "16-bit" in deep.reason
    anim = probe_image(tmp_path / "anim.gif")
    assert anim.status == "ok" and "animated: 2 frames" in anim.reason

    # 16-bit values are scaled, not clipped to white: the 8-bit image is the original's
    rgb = load_image(tmp_path / "grey16.png").rgb
    assert rgb.dtype == np.uint8 and rgb.shape == (128, 128, 3)
    assert np.abs(rgb[..., 0].astype(int) - photo[..., 0].astype(int)).max() <= 1
    assert np.abs(load_image(tmp_path / "cmyk.jpg").rgb.astype(int) - photo).mean() < 12


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    photo = _photo()[:, :96]  # 128 high, 96 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    Image.fromarray(photo).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "phone.jpg")
    assert image.rgb.shape[:2] == (96, 128) and image.rotation == 90
    assert probe_image(tmp_path / "phone.jpg").width == 128


def test_the_reader_gives_frame_zero_only(tmp_path: Path) -> None:
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    with ImageReader(tmp_path / "a.png") as reader:
        got = reader.read([0, 5])
    assert got.indices == [0] and got.missing == [5] and got.frame_count == 1
    assert got.frames[0].shape == (128, 128, 3)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(VideoDecodeError), ImageReader(tmp_path / "bad.png") as reader:
        reader.read([0])
    assert is_image_path("x/Y.JPEG") and not is_image_path("x/y.mp4")
    assert not is_image_path("x/.hidden.png")
