"""identity.actors on plain DataFrames: track means, hash items, per-actor rows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deepfake_assets.identity.actors import (
    actor_table,
    cluster_actors,
    cluster_params,
    cluster_sizes,
    hash_items,
    readable_disagreements,
    single_model,
    track_table,
)


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


def test_one_identity_space_needs_one_model():
    embeddings = pl.DataFrame({"model": ["facenet-vggface2", "dlib-resnet-v1"]})
    with pytest.raises(ValueError, match="several models"):
        single_model(embeddings)
    assert single_model(embeddings.head(1)) == "facenet-vggface2"


def test_cluster_params_take_the_models_defaults_unless_given():
    default = cluster_params("facenet-vggface2", "dbscan_cosine", None, None)
    assert (default.eps, default.min_samples) == (0.9, 2)
    with pytest.raises(ValueError, match="eps must be positive"):
        cluster_params("facenet-vggface2", "dbscan_cosine", 0.0, None)  # None is the default
    given = cluster_params("facenet-vggface2", "tsne_dbscan", 0.5, 3)
    assert (given.method, given.eps, given.min_samples) == ("tsne_dbscan", 0.5, 3)


def _video_embeddings() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Two real videos of one face (`a`, `b`), another person (`c`) and a fake of `a`."""
    vectors = {"a": [1.0, 0.0], "b": [0.99, 0.05], "c": [0.0, 1.0]}
    embeddings = pl.DataFrame(
        {
            "source": ["s"] * 6,
            "video_id": ["a", "a", "b", "b", "c", "c"],
            "track": pl.Series([0] * 6, dtype=pl.Int32),
            "label": ["REAL"] * 6,
            "embedding": pl.Series([vectors[v] for v in "aabbcc"], dtype=pl.Array(pl.Float32, 2)),
            "model": ["dlib-resnet-v1"] * 6,
        }
    )
    videos = pl.DataFrame(
        {
            "source": ["s"] * 4,
            "video_id": ["a", "b", "c", "f"],
            "label": ["REAL", "REAL", "REAL", "FAKE"],
            "original_video_id": [None, None, None, "a"],
            "actor_hint": pl.Series([None] * 4, dtype=pl.Utf8),
        }
    )
    face_videos = videos.select(
        "source", "video_id", role=pl.Series(["real", "real", "real", "fake"])
    )
    faces = pl.DataFrame({"source": ["s"] * 7, "video_id": list("aabbccf")})
    return embeddings, videos, face_videos, faces


def test_cluster_actors_gives_every_video_an_actor_and_counts_them():
    embeddings, videos, face_videos, faces = _video_embeddings()
    params = cluster_params("dlib-resnet-v1", "dbscan_cosine", 0.2, 1)
    run = cluster_actors(embeddings, videos, face_videos, faces, params)
    actor = dict(run.video_actors.select("video_id", "actor_id").rows())
    assert actor["a"] == actor["b"] == actor["f"] != actor["c"]
    assert dict(run.video_actors.select("video_id", "label").rows())["f"] == "FAKE"
    assert run.model == "dlib-resnet-v1" and run.tracks.height == 3
    assert run.actors["n_faces"].sum() == 7
    assert cluster_sizes(run.actors) == {"1": 1, "2": 1}


def test_disagreements_read_as_text():
    table = pl.DataFrame(
        {
            "clusters": pl.Series([[3, 5]], dtype=pl.List(pl.Int64)),
            "hints": [["s:x", "s:y"]],
        }
    )
    assert readable_disagreements(table).row(0) == ("3,5", "s:x,s:y")
