"""identity.actors on plain DataFrames: track means, hash items, per-actor rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from deepfake_assets.identity.actors import actor_table, hash_items, track_table


def test_track_table_means_each_track_and_keeps_the_text_order():
    rows = [("s", "v", 10, [1.0, 0.0]), ("s", "v", 2, [0.0, 1.0]), ("s", "v", 10, [1.0, 1.0])]
    rows.append(("r", "w", 0, [3.0, 4.0]))
    emb = pl.DataFrame(
        {
            "source": [r[0] for r in rows],
            "video_id": [r[1] for r in rows],
            "track": pl.Series([r[2] for r in rows], dtype=pl.Int32),
            "embedding": pl.Series([r[3] for r in rows], dtype=pl.Array(pl.Float32, 2)),
            "model": ["m"] * len(rows),
        }
    )
    videos = pl.DataFrame(
        {"source": ["s", "r"], "video_id": ["v", "w"], "label": ["REAL", "REAL"]}
    ).with_columns(actor_hint=pl.Series(["ann", None], dtype=pl.Utf8))
    tracks = track_table(emb, videos)
    assert tracks.select("source", "video_id", "track", "n_faces").rows() == [
        ("r", "w", 0, 1),
        ("s", "v", 10, 2),  # "10" sorts before "2", as the joined text keys did
        ("s", "v", 2, 1),
    ]
    means = np.asarray(tracks["embedding"].to_list())
    expected = np.array([1.0, 0.0]) + np.array([1.0, 1.0]) / np.sqrt(2)
    np.testing.assert_allclose(means[1], expected / np.linalg.norm(expected), rtol=1e-6)
    assert tracks["actor_hint"].to_list() == [None, "s:ann", "s:ann"]


def test_hash_items_name_frames_like_faces_and_carry_the_family():
    faces = pl.DataFrame(
        {
            "face_id": ["s/f/000007/0"],
            "source": ["s"],
            "video_id": ["f"],
            "frame_index": [7],
            "track": pl.Series([0], dtype=pl.Int32),
            "label": ["FAKE"],
            "phash_160": [5],
        }
    )
    frames = faces.select("source", "video_id", "frame_index", "label", phash=pl.lit(9))
    videos = pl.DataFrame({"video_id": ["f"], "original_video_id": ["o"], "status": ["ok"]})
    items = hash_items(faces, frames, videos)
    assert items["item_id"].to_list() == ["s/f/000007/0", "s/f/000007"]
    assert items["family_id"].to_list() == ["s/o", "s/o"]


def test_actor_table_counts_videos_faces_and_provided_ids():
    video_actors = pl.DataFrame(
        {
            "source": ["s", "s", "t"],
            "video_id": ["a", "b", "c"],
            "actor_id": ["A", "A", None],
            "label": ["REAL", "FAKE", "REAL"],
            "actor_hint": ["s:x", None, None],
        }
    )
    faces = pl.DataFrame({"source": ["s", "s", "s"], "video_id": ["a", "a", "b"]})
    table = actor_table(video_actors, faces)
    assert table.row(0, named=True) == {
        "actor_id": "A",
        "n_videos": 2,
        "n_real_videos": 1,
        "n_faces": 3,
        "sources": "s",
        "provided": "s:x",
    }
    assert table.height == 1
