"""Linking the export's images: every path once, folders made, the same bytes."""

import os

import polars as pl

from deepfake_assets.export.linking import link_tree


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
