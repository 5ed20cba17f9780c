import os

import pytest

from deepfake_assets.sources import file_content_fingerprint, folder_fingerprint

from .conftest import make_files


def test_folder_fingerprint_tracks_adds_touches_and_nothing_else(tmp_path):
    make_files(tmp_path, ["a/1.mp4", "b/2.mp4"])
    first = folder_fingerprint(tmp_path)
    assert folder_fingerprint(tmp_path) == first  # stable

    make_files(tmp_path, [".hidden/x", "a/.DS_Store", "__pycache__/m.pyc", "a/3.mp4.tmp"])
    assert folder_fingerprint(tmp_path) == first  # hidden files and scratch are ignored

    make_files(tmp_path, ["c/3.mp4"])
    added = folder_fingerprint(tmp_path)
    assert added != first

    stat = (tmp_path / "a" / "1.mp4").stat()
    os.utime(tmp_path / "a" / "1.mp4", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    touched = folder_fingerprint(tmp_path)
    assert touched not in (first, added)

    (tmp_path / "c" / "3.mp4").unlink()
    assert folder_fingerprint(tmp_path) not in (first, added, touched)


def test_folder_fingerprint_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        folder_fingerprint(tmp_path / "gone")


def test_content_fingerprint_small_and_sampled_files(tmp_path):
    small = tmp_path / "s.mp4"
    small.write_bytes(b"abc")
    same = tmp_path / "t.mp4"
    same.write_bytes(b"abc")
    assert file_content_fingerprint(small) == file_content_fingerprint(same)  # name-independent

    big = tmp_path / "big.mp4"
    payload = bytearray(os.urandom(3 << 20))
    big.write_bytes(payload)
    base = file_content_fingerprint(big)
    assert base == file_content_fingerprint(big)

    changed = bytearray(payload)
    changed[-1] ^= 0xFF  # the tail (e.g. an MP4 index at the end)
    big.write_bytes(changed)
    assert file_content_fingerprint(big) != base

    big.write_bytes(payload[:-1])  # truncated download
    assert file_content_fingerprint(big) != base
