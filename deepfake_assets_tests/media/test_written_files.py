"""Files verified by their writer: the key recorded is the file's, a write that did not reach the
disk intact is an error, and the export's file check trusts a record only while the file is
unchanged."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from deepfake_assets import config
from deepfake_assets.export import file_checks
from deepfake_assets.export.file_checks import FileCheckParams, verify_files
from deepfake_assets.export.landmark_cache import LandmarkOptions
from deepfake_assets.media import images, written_files
from deepfake_assets.media.images import ImageIOError
from deepfake_assets.media.written_files import (
    read_written,
    record_written,
    write_png_verified,
)
from deepfake_assets.registry import source_folders


def _image(seed: int, side: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)


def _write(root: Path, n: int) -> list[written_files.WrittenFile]:
    out = []
    for i in range(n):
        rel = f"faces/src/v{i // 2}/f{i}.png"
        out.append(write_png_verified(root / rel, _image(i), rel))
    return out


def _check(root: Path, rels: list[str], written: pl.DataFrame | None, **params):
    return verify_files(
        root,
        pl.Series("path", rels),
        file_checks.cache_path(root),
        FileCheckParams(**params),
        written=written,
    )


def test_the_recorded_key_is_the_file_as_written(tmp_path):
    (record,) = _write(tmp_path, 1)
    st = (tmp_path / record.path).stat()
    assert (record.size, record.mtime_ns, record.ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert np.array_equal(images.read_png(tmp_path / record.path), _image(0))


def test_a_write_that_does_not_reach_the_disk_intact_is_an_error(tmp_path, monkeypatch):
    def short_write(path, data):  # a file system that kept only half of it
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data[: len(data) // 2])
        return Path(path)

    monkeypatch.setattr(written_files, "write_bytes_atomic", short_write)
    with pytest.raises(ImageIOError, match="read back"):
        write_png_verified(tmp_path / "a.png", _image(1), "a.png")


def test_records_round_trip_per_source_and_stage(tmp_path):
    files = _write(tmp_path, 3)
    record_written(config.work_dir("src", tmp_path), "faces", files[:2])
    record_written(config.work_dir("other", tmp_path), "fake_groups", files[2:])
    (config.work_dir("bad", tmp_path) / "written_files").mkdir(parents=True)
    (config.work_dir("bad", tmp_path) / "written_files" / "faces.parquet").write_bytes(b"no")
    table = read_written(tmp_path).sort("path")
    assert table["path"].to_list() == sorted(f.path for f in files)
    assert table["ino"].to_list() == [f.ino for f in sorted(files, key=lambda f: f.path)]


def test_the_file_check_trusts_a_writer_record_only_while_the_file_is_unchanged(tmp_path):
    files = _write(tmp_path, 4)
    rels = [f.path for f in files]
    record_written(config.work_dir("src", tmp_path), "faces", files)
    first = _check(tmp_path, rels, read_written(tmp_path))
    assert first.problems == []
    # nothing read, nothing decoded: every file is the one its writer verified
    assert (first.num_structure_read, first.num_decoded) == (0, 0)
    assert first.num_cached == first.num_verified_when_written == 4
    # changed after the record: truncated, overwritten by a non-PNG, replaced by another PNG
    victim = tmp_path / rels[0]
    victim.write_bytes(victim.read_bytes()[:-20])
    (tmp_path / rels[1]).write_bytes(b"GIF89a" + b"\0" * 200)
    images.write_png_atomic(tmp_path / rels[2], _image(9))
    second = _check(tmp_path, rels, read_written(tmp_path))
    assert sorted(p.split(": ", 1)[0] for p in second.problems) == sorted(rels[:2])
    assert (second.num_structure_read, second.num_decoded) == (3, 1)  # the new PNG is decoded
    assert second.num_cached == 1  # the untouched one


def test_a_newer_writer_record_wins_over_an_older_verdict(tmp_path):
    files = _write(tmp_path, 2)
    rels = [f.path for f in files]
    assert _check(tmp_path, rels, None).num_decoded == 2  # verdicts of the first files
    again = write_png_verified(tmp_path / rels[0], _image(5), rels[0])  # a re-run rewrites it
    record_written(config.work_dir("src", tmp_path), "faces", [again, files[1]])
    result = _check(tmp_path, rels, read_written(tmp_path))
    assert (result.problems, result.num_structure_read, result.num_decoded) == ([], 0, 0)


@pytest.mark.parametrize("name", ["landmarks", "file_checks", "cache", "work"])
def test_no_source_name_reaches_the_shared_caches(tmp_path, name):
    """A source may be called anything the registry accepts; removing it deletes its folders,
    which must never hold the caches every source shares."""
    shared = [file_checks.cache_path(tmp_path), LandmarkOptions().folder(tmp_path)]
    for folder in source_folders(tmp_path, name):
        for path in shared:
            assert not path.is_relative_to(folder), (name, folder, path)
