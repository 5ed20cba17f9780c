"""Linking the export's images: every path once, folders made, the same bytes."""

import os
from pathlib import Path

import polars as pl
import pytest

from deepfake_assets.export.linking import (
    TRASH_PREFIX,
    absolute,
    link_many,
    link_pairs,
    link_tree,
    remove_abandoned_trash,
    remove_in_background,
)


def test_link_tree_links_every_path_once_into_new_folders(tmp_path):
    src, dst = tmp_path / "data", tmp_path / "export"
    rels = [f"faces/s/v{i % 3}/{i:06d}_0_160.png" for i in range(10)] + ["masks/s/v0/m.png"]
    for rel in rels:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(rel.encode())
    series = pl.Series(rels + rels[:2] + [None])  # repeats and a null (a real face's mask)
    assert link_tree(src, dst, series, threads=3) == len(rels)
    for rel in rels:
        assert (dst / rel).read_bytes() == rel.encode()
        assert os.path.samefile(src / rel, dst / rel)


def test_link_many_shares_one_file_in_copies_of_at_most_max_links(tmp_path):
    zero = tmp_path / "zero.png"
    zero.write_bytes(b"\0" * 64)
    dst = pl.Series([f"{tmp_path}/out/v{i % 4}/deep/{i}.png" for i in range(25)])
    assert link_many(zero, dst, threads=2, max_links=10) == 25
    inodes = [os.stat(p).st_ino for p in dst.to_list()]
    assert len(set(inodes)) == 3  # 10 + 10 + 5
    assert max(os.stat(p).st_nlink for p in dst.to_list()) == 10
    assert all(Path(p).read_bytes() == b"\0" * 64 for p in dst.to_list())
    assert sorted(os.listdir(tmp_path)) == ["out", "zero.png"]  # the copies are gone


def test_link_pairs_makes_nested_folders_and_refuses_unequal_lengths(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"a")
    dst = absolute(tmp_path / "x", pl.Series([f"{d}/{j}/f.png" for d in "pq" for j in range(3)]))
    assert link_pairs(pl.Series([str(src)] * dst.len()), dst, threads=4) == 6
    assert all(os.path.samefile(src, p) for p in dst.to_list())
    with pytest.raises(ValueError):
        link_pairs(pl.Series([str(src)]), dst)


def test_an_old_export_is_removed_by_a_process_of_its_own(tmp_path):
    old = tmp_path / ".export.1.previous"
    link_tree(tmp_path / "src", old, pl.Series([]), threads=1)
    (old / "faces/v").mkdir(parents=True)
    (old / "faces/v/a.png").write_bytes(b"a")
    pid = remove_in_background(old)
    os.waitpid(pid, 0)  # our child: reaped here, so no zombie stays behind
    assert not old.exists() and list(tmp_path.iterdir()) == []


def test_trash_whose_deleter_died_is_removed_and_a_live_one_kept(tmp_path):
    for pid in (11, 22):
        (tmp_path / f"{TRASH_PREFIX}{pid}" / "faces").mkdir(parents=True)
    assert remove_abandoned_trash(tmp_path, alive=lambda pid: pid == 22) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"{TRASH_PREFIX}22"]
