"""Clustering real faces into identities, the exact eps-graph, and actor assignment."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from deepfake_assets.identity.clustering import (
    ClusterParams,
    actor_assignment,
    cluster_embeddings,
    dbscan_from_graph,
    default_params,
    mean_embeddings,
    radius_graph,
)
from deepfake_assets.testing.face_data import FIXTURES


def _merged_identities(labels: np.ndarray, ids: np.ndarray) -> int:
    return sum(len(set(ids[labels == c].tolist())) > 1 for c in np.unique(labels))


def test_default_clustering_recovers_people_from_altered_faces(variant_set, variant_embeddings):
    _, ids, _ = variant_set
    res = cluster_embeddings(variant_embeddings, params=default_params("dlib-resnet-v1"))
    assert (res.labels >= 0).all()
    assert adjusted_rand_score(ids, res.labels) >= 0.95
    assert _merged_identities(res.labels, ids) == 0


def test_fixture_people_cluster_apart(variant_set, variant_embeddings) -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}: six group faces, portrait, video")
    _, ids, _ = variant_set
    res = cluster_embeddings(variant_embeddings)
    assert len(set(ids.tolist())) == 10
    assert adjusted_rand_score(ids, res.labels) >= 0.95
    assert _merged_identities(res.labels, ids) == 0


def test_seed_method_tsne_dbscan_and_hdbscan(variant_set, variant_embeddings) -> None:
    _, ids, _ = variant_set
    for method in ("tsne_dbscan", "hdbscan_cosine"):
        res = cluster_embeddings(variant_embeddings, method=method)
        assert (res.labels >= 0).all()
        assert adjusted_rand_score(ids, res.labels) >= 0.95, method
        assert _merged_identities(res.labels, ids) == 0, method
    with pytest.raises(ValueError, match="tsne_max_points"):
        cluster_embeddings(
            variant_embeddings, params=ClusterParams(method="tsne_dbscan", tsne_max_points=10)
        )


def _blobs(n_ids: int, n_per: int, dim: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, dim))
    lab = np.repeat(np.arange(n_ids), n_per)
    x = centres[lab] / np.sqrt(dim) * 3 + rng.standard_normal((len(lab), dim)) * 0.04
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), lab


def test_radius_graph_is_exact_and_dbscan_matches_sklearn() -> None:
    x, _ = _blobs(12, 30)
    rng = np.random.default_rng(1)
    x = np.concatenate([x, rng.standard_normal((40, x.shape[1])).astype(np.float32)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for eps in (0.2, 0.5):
        i, j, d = radius_graph(x, eps, block_rows=37)
        full = np.linalg.norm(x[:, None] - x[None], axis=2)
        ei, ej = np.nonzero(np.triu(full <= eps, k=1))
        got = set(zip(i.tolist(), j.tolist(), strict=True))
        # float32 products vs float64 distances may disagree exactly at the boundary only
        boundary = np.abs(full - eps) < 1e-5
        want = {(a, b) for a, b in zip(ei.tolist(), ej.tolist(), strict=True)}
        assert {p for p in got ^ want if not boundary[p]} == set()
        np.testing.assert_allclose(d, full[i, j], atol=1e-4)
        for ms in (2, 3, 5):
            ours = dbscan_from_graph(len(x), i, j, d, ms)
            ref = DBSCAN(eps=eps, min_samples=ms).fit_predict(x)
            assert np.array_equal(ours < 0, ref < 0)
            assert adjusted_rand_score(ref[ref >= 0], ours[ours >= 0]) == 1.0


def test_noise_becomes_singletons_and_labels_follow_input_order() -> None:
    x, lab = _blobs(3, 5)
    far = np.eye(x.shape[1], dtype=np.float32)[:2]  # two isolated points
    x = np.concatenate([far[:1], x, far[1:]])
    res = cluster_embeddings(x, params=ClusterParams(eps=0.3, min_samples=2))
    assert res.noise.tolist() == [True] + [False] * 15 + [True]
    assert (res.labels >= 0).all() and len(np.unique(res.labels)) == 5
    assert res.labels[1] == 0  # the first clustered point's cluster is 0
    assert res.labels[0] != res.labels[-1]
    assert res.n_clusters == 5


def test_groups_cluster_track_means() -> None:
    x, lab = _blobs(4, 20)
    tracks = lab * 10 + np.arange(len(lab)) % 4  # 4 tracks per identity
    res = cluster_embeddings(x, params=ClusterParams(eps=0.3), groups=tracks)
    assert adjusted_rand_score(lab, res.labels) == 1.0
    assert res.stats["n_groups"] == 16
    keys, means = mean_embeddings(x, tracks)
    assert len(keys) == 16
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0, atol=1e-6)


def _track_rows(variant_set, variant_embeddings) -> pl.DataFrame:
    """Each packaged identity as 3 'videos' of a single track (means of variant subsets)."""
    _, ids, _ = variant_set
    rows = []
    for person in ("astronaut", "grace_hopper"):
        idx = np.flatnonzero(ids == person)
        for v in range(3):
            _, mean = mean_embeddings(variant_embeddings[idx[v::3]], np.zeros(len(idx[v::3])))
            rows.append(
                {
                    "source": "dsA" if person == "astronaut" else "dsB",
                    "video_id": f"{person}_{v}",
                    "track": 0,
                    "n_faces": 17,
                    "embedding": mean[0].tolist(),
                    "actor_hint": f"{person}" if v < 2 else "mislabelled",
                    "embedder": "dlib-resnet-v1",
                }
            )
    # A second, smaller track in astronaut_0: Grace Hopper in the background.
    hopper = variant_embeddings[np.flatnonzero(ids == "grace_hopper")[0]]
    rows.append({**rows[0], "track": 1, "n_faces": 6, "embedding": hopper.tolist()})
    return pl.DataFrame(rows)


def test_actor_assignment(variant_set, variant_embeddings) -> None:
    tracks = _track_rows(variant_set, variant_embeddings)
    videos = pl.concat(
        [
            tracks.select("source", "video_id").unique(),
            pl.DataFrame(
                {"source": ["dsA", "dsA", "dsB"], "video_id": ["fake_1", "fake_2", "fake_3"]}
            ),
        ]
    ).with_columns(
        label=pl.when(pl.col("video_id").str.starts_with("fake"))
        .then(pl.lit("fake"))
        .otherwise(pl.lit("real")),
        original_video_id=pl.col("video_id").replace_strict(
            {"fake_1": "astronaut_1", "fake_2": "astronaut_1", "fake_3": "missing"},
            default=None,
            return_dtype=pl.String,
        ),
    )
    res = actor_assignment(tracks, videos, merge_on_hints=False)
    v = {r["video_id"]: r for r in res.videos.to_dicts()}
    # First appearance: dsA/astronaut_0 -> actor_0000, its second person -> actor_0001.
    assert [v[f"astronaut_{k}"]["actor_id"] for k in range(3)] == ["actor_0000"] * 3
    assert [v[f"grace_hopper_{k}"]["actor_id"] for k in range(3)] == ["actor_0001"] * 3
    assert v["astronaut_0"]["second_actor_id"] == "actor_0001"
    assert v["astronaut_0"]["main_track"] == 0 and v["astronaut_0"]["n_tracks"] == 2
    assert v["astronaut_1"]["second_actor_id"] is None
    assert v["fake_1"]["actor_id"] == v["fake_2"]["actor_id"] == "actor_0000"
    assert v["fake_1"]["actor_source"] == "original"
    assert v["fake_3"]["actor_id"] is None and v["fake_3"]["actor_source"] == "missing_original"
    # Provided identities: 'mislabelled' spans two clusters; each cluster holds two hints.
    kinds = res.disagreements["kind"].to_list()
    assert kinds.count("hint_split") == 0  # hints are per source: one cluster each
    assert kinds.count("cluster_merges_hints") == 2
    # Stable under row order.
    again = actor_assignment(tracks.reverse(), videos.reverse(), merge_on_hints=False)
    assert again.videos.equals(res.videos)


def test_hints_shared_across_clusters_merge_them(variant_set, variant_embeddings) -> None:
    tracks = _track_rows(variant_set, variant_embeddings).with_columns(
        source=pl.lit("dsA"), actor_hint=pl.lit("same_person_says_dataset")
    )
    split = actor_assignment(tracks, merge_on_hints=False)
    assert split.videos["actor_id"].n_unique() == 2
    assert split.disagreements.filter(pl.col("kind") == "hint_split").height == 1
    merged = actor_assignment(tracks, merge_on_hints=True)
    assert merged.videos["actor_id"].unique().to_list() == ["actor_0000"]
    assert merged.disagreements.height == split.disagreements.height


def test_actor_assignment_refuses_mixed_models(variant_set, variant_embeddings) -> None:
    tracks = _track_rows(variant_set, variant_embeddings)
    mixed = tracks.with_columns(
        embedder=pl.when(pl.col("video_id") == "astronaut_0")
        .then(pl.lit("facenet-vggface2"))
        .otherwise(pl.col("embedder"))
    )
    with pytest.raises(ValueError, match="mix embedders"):
        actor_assignment(mixed)
