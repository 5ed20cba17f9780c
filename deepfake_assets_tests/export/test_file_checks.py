"""The crop and mask file check: corrupt files are caught, the verdict cache never vouches for a
file that changed, and files are decoded once until they change."""

import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from deepfake_assets.catalog import Catalog
from deepfake_assets.export import file_checks
from deepfake_assets.export.file_checks import FileCheckParams, verify_files
from deepfake_assets.media.images import write_png_atomic


def _write_crops(root: Path, n: int) -> list[str]:
    rng = np.random.default_rng(0)
    rels = []
    for i in range(n):
        rel = f"faces/src/v{i // 3}/f{i}.png"
        write_png_atomic(root / rel, rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
        rels.append(rel)
    return rels


def _check(root: Path, rels: list[str], **params) -> file_checks.FileCheckResult:
    return verify_files(
        root, pl.Series("path", rels), file_checks.cache_path(root), FileCheckParams(**params)
    )


def _corrupt_inside(path: Path) -> None:
    """Damage the compressed data, leaving size, signature, IHDR and IEND as they were."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 16] = bytes(b ^ 0xFF for b in data[mid : mid + 16])
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.write(bytes(data))
    # a later mtime, as any write has once the clock ticks (tests must not wait for it)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))


def test_good_files_pass_and_are_decoded_once(tmp_path):
    rels = _write_crops(tmp_path, 6)
    first = _check(tmp_path, rels)
    assert first.problems == []
    assert (first.num_files, first.num_decoded, first.num_cached) == (6, 6, 0)
    second = _check(tmp_path, rels)
    assert second.problems == []
    assert (second.num_decoded, second.num_cached, second.num_structure_only) == (0, 6, 0)


def test_missing_empty_truncated_and_foreign_files_are_caught_every_run(tmp_path):
    rels = _write_crops(tmp_path, 5)
    _check(tmp_path, rels)  # all verified and cached
    (tmp_path / rels[0]).unlink()
    (tmp_path / rels[1]).write_bytes(b"")
    data = (tmp_path / rels[2]).read_bytes()
    (tmp_path / rels[2]).write_bytes(data[: len(data) // 2])
    (tmp_path / rels[3]).write_bytes(b"GIF89a" + b"\0" * 200)
    for _ in range(2):
        result = _check(tmp_path, rels)
        reasons = dict(p.split(": ", 1) for p in result.problems)
        assert set(reasons) == set(rels[:4])
        assert reasons[rels[0]].startswith("cannot open")
        assert reasons[rels[1]].startswith("too short")
        assert reasons[rels[2]].startswith("truncated")
        assert reasons[rels[3]].startswith("not a PNG")
        assert result.num_cached == 1  # only the untouched file is vouched for


def test_damage_inside_the_data_is_caught_by_the_decode_and_never_cached(tmp_path):
    rels = _write_crops(tmp_path, 3)
    _corrupt_inside(tmp_path / rels[1])
    for _ in range(2):
        result = _check(tmp_path, rels)
        assert [p.split(": ", 1)[0] for p in result.problems] == [rels[1]]
        assert "does not decode" in result.problems[0]


def test_a_verified_file_that_changes_is_decoded_again(tmp_path):
    rels = _write_crops(tmp_path, 3)
    assert _check(tmp_path, rels).problems == []
    _corrupt_inside(tmp_path / rels[0])  # same size, in place: only the mtime tells
    result = _check(tmp_path, rels)
    assert [p.split(": ", 1)[0] for p in result.problems] == [rels[0]]
    assert (result.num_decoded, result.num_cached) == (1, 2)


def test_a_verified_file_replaced_by_rename_is_decoded_again(tmp_path):
    rels = _write_crops(tmp_path, 2)
    assert _check(tmp_path, rels).problems == []
    target = tmp_path / rels[1]
    replacement = tmp_path / "replacement.png"
    replacement.write_bytes(target.read_bytes())
    stat = target.stat()
    _corrupt_inside(replacement)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even the old mtime
    os.replace(replacement, target)  # a new inode
    result = _check(tmp_path, rels)
    assert [p.split(": ", 1)[0] for p in result.problems] == [rels[1]]


def test_over_max_decodes_a_seeded_sample_is_decoded_and_runs_converge(tmp_path):
    rels = _write_crops(tmp_path, 5)
    first = _check(tmp_path, rels, max_decodes=2)
    assert (first.num_decoded, first.num_cached, first.num_structure_only) == (2, 0, 3)
    second = _check(tmp_path, rels, max_decodes=2)
    assert (second.num_decoded, second.num_cached, second.num_structure_only) == (2, 2, 1)
    third = _check(tmp_path, rels, max_decodes=2)
    assert (third.num_decoded, third.num_cached, third.num_structure_only) == (1, 4, 0)
    assert not (first.problems or second.problems or third.problems)


def test_the_same_seed_samples_the_same_files(tmp_path):
    rels = _write_crops(tmp_path, 8)
    _corrupt_inside(tmp_path / rels[5])
    found = []
    for attempt in range(2):
        file_checks.cache_path(tmp_path).unlink(missing_ok=True)
        found.append(_check(tmp_path, rels, max_decodes=4, seed=3).problems)
        assert attempt == 0 or found[0] == found[1]


def test_an_unreadable_cache_only_costs_decoding(tmp_path):
    rels = _write_crops(tmp_path, 2)
    _check(tmp_path, rels)
    file_checks.cache_path(tmp_path).write_bytes(b"not parquet")
    result = _check(tmp_path, rels)
    assert result.problems == [] and result.num_decoded == 2


@pytest.mark.parametrize("with_masks", [True, False])
def test_catalog_file_paths_reads_every_crop_and_mask_column(tmp_path, with_masks):
    catalog = Catalog(tmp_path)
    catalog.write(
        "faces",
        pl.DataFrame(
            {"face_id": ["a", "b"], "crop_160": ["c1", "c2"], "crop_299": ["d1", None]}
        ).with_columns(crop_raw=pl.lit("r") + pl.col("face_id")),
        "src",
    )
    if with_masks:
        catalog.write("fake_groups", pl.DataFrame({"face_id": ["b"], "mask_path": ["m"]}), "src")
    paths = sorted(file_checks.catalog_file_paths(catalog).to_list())
    assert paths == sorted(["c1", "c2", "d1", "ra", "rb"] + (["m"] if with_masks else []))


def test_a_structure_verdict_is_kept_until_the_file_changes(tmp_path):
    rels = _write_crops(tmp_path, 5)
    first = _check(tmp_path, rels, max_decodes=1)
    assert (first.num_structure_read, first.num_decoded) == (5, 1)
    second = _check(tmp_path, rels, max_decodes=1)
    assert (second.num_structure_read, second.num_decoded, second.problems) == (0, 1, [])
    # truncating a file changes its key: it is read again and caught, decoded or not
    victim = tmp_path / rels[-1]
    victim.write_bytes(victim.read_bytes()[:-20])
    third = _check(tmp_path, rels, max_decodes=0)
    assert third.num_structure_read == 1
    assert [p.split(": ", 1)[0] for p in third.problems] == [rels[-1]]
