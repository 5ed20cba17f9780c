"""Crop geometry: 160 stretch, 299 square with 15 % margin and black padding, raw."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_assets.faces.crops import (
    CropError,
    CropSpec,
    clip_box,
    crop_margin,
    crop_raw,
    crop_stretch,
    make_crops,
    margin_square,
    pixel_box,
)
from deepfake_assets.media.images import ImageIOError, read_png, write_png_atomic


def gradient_frame(h: int = 120, w: int = 200) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x % 256, y % 256, np.full_like(x, 200)], axis=-1).astype(np.uint8)


def test_raw_is_the_box_pixels_with_floor_ceil_rounding():
    frame = gradient_frame()
    raw = crop_raw(frame, (10.4, 20.6, 50.2, 60.0))
    assert raw.shape == (40, 41, 3)
    assert raw[0, 0, 0] == 10 and raw[0, 0, 1] == 20
    assert pixel_box((10.4, 20.6, 50.2, 60.0)) == (10, 20, 51, 60)


def test_raw_is_clipped_to_the_frame():
    frame = gradient_frame()
    raw = crop_raw(frame, (-20, -10, 30, 25))
    assert raw.shape == (25, 30, 3)
    assert clip_box((190, 100, 260, 300), 200, 120) == (190, 100, 200, 120)


def test_stretch_ignores_aspect():
    frame = gradient_frame()
    small = crop_stretch(frame, (0, 0, 100, 30))
    assert small.shape == (160, 160, 3) and small.dtype == np.uint8
    # left column stays dark red, right column bright: the whole box width is kept
    assert small[80, 0, 0] < 5 and small[80, -1, 0] > 94


def test_margin_square_grows_longer_side_by_fifteen_percent():
    assert margin_square((100, 100, 140, 200)) == (63, 93, 178, 208)  # side 115, centred
    frame = gradient_frame(400, 400)
    large = crop_margin(frame, (100, 100, 140, 200))
    assert large.shape == (299, 299, 3)
    # the square is 115 px: the x gradient spans 63..177 across the crop
    assert abs(int(large[150, 0, 0]) - 63) <= 1 and abs(int(large[150, -1, 0]) - 177) <= 1


def test_margin_pads_outside_the_frame_with_black():
    frame = np.full((100, 100, 3), 255, np.uint8)
    large = crop_margin(frame, (-20, 30, 20, 70), size=100, margin=0.0)  # left half outside
    assert large.shape == (100, 100, 3)
    assert large[:, :45].max() == 0 and large[:, 55:].min() == 255


def test_make_crops_and_spec():
    crops = make_crops(gradient_frame(), (20, 20, 60, 80), CropSpec(small=64, large=96))
    assert crops.small.shape == (64, 64, 3)
    assert crops.large.shape == (96, 96, 3)
    assert crops.raw.shape == (60, 40, 3)


def test_boxes_outside_or_bad_raise_crop_error():
    frame = gradient_frame()
    for box in [(300, 300, 400, 400), (10, 10, 10, 50), (np.nan, 0, 10, 10)]:
        with pytest.raises(CropError):
            make_crops(frame, box)
    with pytest.raises(CropError):
        crop_raw(np.zeros((10, 10), np.uint8), (0, 0, 5, 5))


def test_png_roundtrip_is_atomic_and_lossless(tmp_path):
    img = gradient_frame(33, 47)
    path = write_png_atomic(tmp_path / "a" / "b.png", img)
    assert np.array_equal(read_png(path), img)
    assert [p.name for p in path.parent.iterdir()] == ["b.png"]  # no temporary left
    write_png_atomic(path, img[::-1].copy())  # overwrite in place
    assert np.array_equal(read_png(path), img[::-1])
    with pytest.raises(ImageIOError):
        write_png_atomic(tmp_path / "bad.png", np.zeros((4, 4, 3), np.float32))
    assert not (tmp_path / "bad.png").exists()
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ImageIOError):
        read_png(tmp_path / "junk.png")
