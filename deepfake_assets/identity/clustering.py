"""Clustering face embeddings into actors, and assigning one actor per video.

Methods of :func:`cluster_embeddings` (labels always >= 0: DBSCAN / HDBSCAN noise becomes one
singleton cluster per point, flagged in ``noise``):

* ``dbscan_cosine`` (default) - DBSCAN on L2-normalised embeddings with Euclidean ``eps``
  (cosine distance ``eps**2 / 2``), so ``eps`` is in the model's own distance units and does
  not depend on how many points there are. The eps-graph is exact (:func:`radius_graph`,
  blocked float32 matrix products over the upper triangle), O(N^2 d): minutes at 200k faces.
  The scalable default is to pass ``groups`` (face tracks): the re-normalised mean of each
  track is clustered and every face takes its track's label - seconds at 200k faces, and a
  track mean is a steadier identity estimate than any single frame (it merges fewer actors).
  Figures and machine: ``benchmarks/results/identity_bench.md``, reproduced by
  ``python benchmarks/identity_bench.py --sections clustering``.
* ``tsne_dbscan`` - seed 001's method: 2-d t-SNE (sklearn, Barnes-Hut) then DBSCAN in the map.
  The map's scale grows with N (std 3.3 for 100 points, 40 for 5000), so DBSCAN's eps is
  ``tsne_eps_factor`` (6) x the map's median 2nd-neighbour distance: factors 4-8 (min_samples
  2 or 3; 5-8 for 5000 points) gave ARI 1.0 on 100 real faces of 10 people and on 2000 / 5000
  synthetic faces of 200 / 500 identities, where a fixed eps on the standardised map worked
  for one size only. t-SNE is slow (tens of seconds for 2000 points; same file and command)
  and its distances are not metric: kept for fidelity, refused above ``tsne_max_points``;
  cluster track means.
* ``hdbscan_cosine`` - sklearn's HDBSCAN on the normalised vectors (no eps to calibrate; for
  a few thousand tracks, too slow for raw faces at scale). ``min_cluster_size = 3``: on the
  100 faces below 2 split the carphone speaker into per-frame pairs (ARI 0.948), 3 and 5 gave
  1.0.

Defaults per embedder (:func:`default_params`), measured on 100 real face crops of 10 people
(the packaged astronaut and Grace Hopper, the six fixture group faces, the fixture portrait
and carphone speaker), 10 variants each (x0.5 / x0.7 resolution, darker, brighter, JPEG 30,
JPEG 15 at x0.6, +-8 degree rotation, shifted box), dlib embedder, unit vectors
(``benchmarks/identity_bench.py --sections thresholds``): same person max 0.298 (p99 0.262,
mean 0.13), different people min 0.388 (p1 0.417, mean 0.53). ``eps = 0.35`` sits between
the two (about dlib's own 0.6 same-person threshold on its raw, norm ~1.47 descriptors,
scaled to unit length); every eps in 0.30-0.39 and min_samples 2-4 gave ARI 1.0 there.
facenet-vggface2's ``eps = 0.9`` could not be measured here (no weights offline): it is the
usual FaceNet unit-vector operating point (same person < ~0.8, different > ~1.1);
recalibrate with :func:`calibrate_eps` (or the benchmark's thresholds section) when the
weights are present.

``min_samples = 2`` (DBSCAN then is single linkage at ``eps``; only isolated points are noise)
because the default level is the track: one point is a whole video, and an actor seen in only
two videos must still form a cluster - with 3, both tracks would be noise, two singleton
actors, and the person could land in two splits. Splitting a person leaks them across splits;
merging two people only costs balance, so the defaults lean towards linking.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "METHODS",
    "ActorAssignment",
    "ClusterParams",
    "ClusterResult",
    "actor_assignment",
    "calibrate_eps",
    "cluster_embeddings",
    "dbscan_from_graph",
    "default_params",
    "mean_embeddings",
    "radius_graph",
]

log = logging.getLogger(__name__)

METHODS = ("dbscan_cosine", "tsne_dbscan", "hdbscan_cosine")
_GEMM_BUDGET = 50_000_000  # floats of one similarity block (200 MB)


@dataclass(frozen=True)
class ClusterParams:
    """Parameters of :func:`cluster_embeddings`; see the module docstring for the defaults."""

    method: str = "dbscan_cosine"
    eps: float = 0.35  # unit-vector Euclidean distance (dbscan_cosine)
    min_samples: int = 2  # DBSCAN: points within eps (self included) that make a core point
    perplexity: float = 30.0  # tsne_dbscan (clipped to (N - 1) / 3)
    tsne_eps_factor: float = 6.0  # tsne_dbscan: eps = factor x median 2nd-neighbour distance
    tsne_max_points: int = 20_000
    min_cluster_size: int = 3  # hdbscan_cosine (2 split a video's speaker by frame)
    random_state: int = 0


_DEFAULTS = {
    "dlib-resnet-v1": ClusterParams(eps=0.35, min_samples=2),
    "facenet-vggface2": ClusterParams(eps=0.9, min_samples=2),
}


def default_params(embedder_name: str | None = None, **overrides: Any) -> ClusterParams:
    """The measured defaults for an embedder's vectors (dlib's when unknown), with overrides;
    an override of None keeps the default (the config's one "use the default" value)."""
    base = _DEFAULTS.get(embedder_name or "", _DEFAULTS["dlib-resnet-v1"])
    if embedder_name and embedder_name not in _DEFAULTS:
        log.warning("no calibrated clustering defaults for %s; using dlib's", embedder_name)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class ClusterResult:
    """``labels`` >= 0 (clusters numbered by first member, then noise singletons); ``noise``
    marks points DBSCAN/HDBSCAN left unclustered."""

    labels: np.ndarray
    noise: np.ndarray
    n_clusters: int
    method: str
    params: ClusterParams
    stats: dict[str, Any] = field(default_factory=dict)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, dim), got {x.shape}")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------------------------
# Exact eps-neighbourhood graph
# --------------------------------------------------------------------------------------------


def radius_graph(
    x: np.ndarray, eps: float, *, block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of (normalised) vectors within Euclidean ``eps``: ``(i, j, dist)``.

    Exact: blocks of rows against the columns after them (the upper triangle only, half the
    work of a full distance matrix), one float32 matrix product per block, never N x N in
    memory. Pruning with the triangle inequality was tried (cells of ~100 points, compare only
    cell pairs whose centre distance <= radii + eps) and compared 99 % of all pairs: eps (0.35)
    is too close to the distance between different people (~0.53) for any metric-tree pruning
    to bite, which is why large inputs are clustered per track (:func:`cluster_embeddings`'s
    ``groups``).
    """
    x = _normalise(x)
    n = len(x)
    min_sim = np.float32(1.0 - eps * eps / 2.0)
    step = block_rows or max(64, min(4096, _GEMM_BUDGET // max(1, n)))
    out_i, out_j, out_s = [], [], []
    for s in range(0, n, step):
        e = min(n, s + step)
        sim = x[s:e] @ x[s:].T  # rows s..e against columns s..n
        a, b = np.nonzero(sim >= min_sim)
        keep = b > a  # column index s + b > row index s + a
        a, b = a[keep], b[keep]
        out_i.append(a + s)
        out_j.append(b + s)
        out_s.append(sim[a, b])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    i = np.concatenate(out_i).astype(np.int64)
    j = np.concatenate(out_j).astype(np.int64)
    d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.concatenate(out_s).astype(np.float64)))
    return i, j, d


# --------------------------------------------------------------------------------------------
# DBSCAN over the graph, t-SNE, HDBSCAN
# --------------------------------------------------------------------------------------------


def dbscan_from_graph(
    n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray, min_samples: int
) -> np.ndarray:
    """DBSCAN labels (-1 = noise) from the eps-graph's pairs ``i < j``.

    Core: at least ``min_samples`` points within eps, itself included (as sklearn counts).
    Clusters: connected components of core-core edges. Border points join their nearest core
    neighbour's cluster (sklearn: whichever cluster reaches them first).
    """
    deg = 1 + np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    core = deg >= min_samples
    both = core[i] & core[j]
    graph = coo_matrix((np.ones(int(both.sum()), np.int8), (i[both], j[both])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    labels = np.where(core, comp, -1).astype(np.int64)
    # Border points: non-core with a core neighbour.
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    dd = np.concatenate([d, d])
    m = ~core[src] & core[dst]
    if m.any():
        src, dst, dd = src[m], dst[m], dd[m]
        order = np.lexsort((dst, dd, src))  # per border point, nearest core first
        src, dst = src[order], dst[order]
        first = np.concatenate(([True], src[1:] != src[:-1]))
        labels[src[first]] = labels[dst[first]]
    return labels


def _finalise(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Renumber clusters by first member; every noise point becomes its own cluster."""
    noise = raw < 0
    labels = np.empty(len(raw), np.int64)
    clustered = np.flatnonzero(~noise)
    if len(clustered):
        _, first_idx, inv = np.unique(raw[clustered], return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first_idx))
        labels[clustered] = rank[inv]
        n_real = len(first_idx)
    else:
        n_real = 0
    labels[noise] = n_real + np.arange(int(noise.sum()))
    return labels, noise, n_real + int(noise.sum())


def cluster_embeddings(
    emb: np.ndarray,
    method: str | None = None,
    params: ClusterParams | None = None,
    *,
    groups: np.ndarray | None = None,
) -> ClusterResult:
    """Cluster (N, dim) embeddings; see the module docstring for methods and defaults.

    With ``groups`` (one key per row, e.g. a track id), the groups' re-normalised mean
    embeddings are clustered and each row gets its group's label and noise flag.
    """
    p = params or ClusterParams()
    if method is not None:
        p = replace(p, method=method)
    if p.method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {p.method!r}")
    if groups is not None:
        if len(groups) != len(emb):
            raise ValueError("groups must have one entry per embedding")
        _, inv = np.unique(np.asarray(groups), return_inverse=True)
        _, means = mean_embeddings(emb, groups)
        inner = cluster_embeddings(means, params=p)
        # Renumber by first row so labels follow the input order, not the group keys' order.
        raw = np.where(inner.noise[inv], -1, inner.labels[inv])
        labels, _, n_clusters = _finalise(raw)
        noise = inner.noise[inv]
        # Each noise *group* is one singleton cluster, not each of its rows.
        if noise.any():
            labels[noise] = _finalise_groups(inv[noise], labels[~noise].max(initial=-1) + 1)
            n_clusters = int(labels.max()) + 1
        stats = dict(inner.stats, n_rows=len(emb), n_groups=len(means))
        return ClusterResult(labels, noise, n_clusters, p.method, p, stats)
    x = _normalise(emb)
    n = len(x)
    stats: dict[str, Any] = {"n": n}
    if n == 0:
        return ClusterResult(np.zeros(0, np.int64), np.zeros(0, bool), 0, p.method, p, stats)
    if n == 1:
        raw = np.array([-1])
    elif p.method == "dbscan_cosine":
        i, j, d = radius_graph(x, p.eps)
        stats["edges"] = int(len(i))
        raw = dbscan_from_graph(n, i, j, d, p.min_samples)
    elif p.method == "tsne_dbscan":
        raw = _tsne_dbscan(x, p)
    else:
        from sklearn.cluster import HDBSCAN

        raw = HDBSCAN(
            min_cluster_size=max(2, p.min_cluster_size),
            min_samples=p.min_samples,
            metric="euclidean",
            copy=True,
        ).fit_predict(x)
    labels, noise, n_clusters = _finalise(np.asarray(raw))
    stats["noise"] = int(noise.sum())
    return ClusterResult(labels, noise, n_clusters, p.method, p, stats)


def _finalise_groups(group_of_row: np.ndarray, start: int) -> np.ndarray:
    """Consecutive ids from ``start`` per distinct group, in order of first row."""
    _, first, inv = np.unique(group_of_row, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return start + rank[inv]


def _tsne_dbscan(x: np.ndarray, p: ClusterParams) -> np.ndarray:
    from sklearn.cluster import DBSCAN
    from sklearn.manifold import TSNE

    n = len(x)
    if n > p.tsne_max_points:
        raise ValueError(
            f"tsne_dbscan on {n} points exceeds tsne_max_points={p.tsne_max_points}: "
            "cluster track means (actor_assignment) or use dbscan_cosine"
        )
    if n < 4:
        return np.full(n, -1)
    perplexity = float(min(p.perplexity, (n - 1) / 3.0))
    y = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        random_state=p.random_state,
        metric="euclidean",
    ).fit_transform(x)
    # The map's scale grows with N; the median distance to the 2nd nearest neighbour is what
    # the spacing inside a cluster looks like at this N.
    from sklearn.neighbors import NearestNeighbors

    second = NearestNeighbors(n_neighbors=3).fit(y).kneighbors(y)[0][:, 2]
    eps = p.tsne_eps_factor * max(float(np.median(second)), 1e-12)
    return DBSCAN(eps=eps, min_samples=p.min_samples).fit_predict(y)


def calibrate_eps(emb: np.ndarray, identities: np.ndarray) -> dict[str, float]:
    """Same- vs different-identity distance statistics of labelled unit vectors, and the
    midpoint between the largest same-identity and smallest different-identity distance."""
    x = _normalise(emb)
    ids = np.asarray(identities)
    d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (x @ x.T).astype(np.float64)))
    iu = np.triu_indices(len(x), 1)
    same = (ids[:, None] == ids[None, :])[iu]
    s, o = d[iu][same], d[iu][~same]
    out = {
        "same_max": float(s.max()) if len(s) else float("nan"),
        "same_p99": float(np.percentile(s, 99)) if len(s) else float("nan"),
        "same_mean": float(s.mean()) if len(s) else float("nan"),
        "diff_min": float(o.min()) if len(o) else float("nan"),
        "diff_p1": float(np.percentile(o, 1)) if len(o) else float("nan"),
        "diff_mean": float(o.mean()) if len(o) else float("nan"),
    }
    out["suggested_eps"] = (out["same_max"] + out["diff_min"]) / 2.0
    return out


def mean_embeddings(emb: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique groups, re-normalised mean embedding per group), groups in sorted order."""
    x = _normalise(emb)
    keys, inv = np.unique(np.asarray(groups), return_inverse=True)
    sums = np.zeros((len(keys), x.shape[1]), np.float64)
    np.add.at(sums, inv, x)
    return keys, _normalise(sums)


# --------------------------------------------------------------------------------------------
# Actors
# --------------------------------------------------------------------------------------------


@dataclass
class ActorAssignment:
    """``videos``: one row per video (source, video_id, label, actor_id, second_actor_id,
    main_track, n_tracks, actor_source: 'cluster' | 'original' | 'missing_original' |
    'no_faces'); ``tracks``: each real track's cluster and actor; ``disagreements``: provided
    identities (actor_hint) vs clusters; ``stats``: counts and the parameters used."""

    videos: pl.DataFrame
    tracks: pl.DataFrame
    disagreements: pl.DataFrame
    stats: dict[str, Any]


def _embedding_matrix(tracks: pl.DataFrame, embedding_col: str) -> np.ndarray:
    if embedding_col in tracks.columns:
        col = tracks[embedding_col]
        if isinstance(col.dtype, pl.Array):
            return np.asarray(col.to_numpy(), dtype=np.float32)
        if isinstance(col.dtype, pl.List):
            return np.asarray(col.to_list(), dtype=np.float32)
        raise TypeError(f"{embedding_col} must be a list/array column, got {col.dtype}")
    cols = sorted(
        (c for c in tracks.columns if c.startswith(f"{embedding_col}_")),
        key=lambda c: int(c.rsplit("_", 1)[1]),
    )
    if not cols:
        raise ValueError(f"tracks need an '{embedding_col}' column or {embedding_col}_0.. columns")
    return tracks.select(cols).to_numpy().astype(np.float32)


def actor_assignment(
    tracks: pl.DataFrame,
    videos: pl.DataFrame | None = None,
    params: ClusterParams | None = None,
    *,
    embedding_col: str = "embedding",
    merge_on_hints: bool = True,
) -> ActorAssignment:
    """One actor per real video, inherited by its fakes.

    ``tracks``: one row per face track of a *real* video: source, video_id, track, n_faces,
    and the track's embedding (``embedding`` list/array column, or ``embedding_0..``; a mean of
    its faces, see :func:`mean_embeddings`); optional ``actor_hint`` (an identity the dataset
    provides, namespaced by source) and ``embedder`` (model name: picks default parameters).
    ``videos`` (optional): every video, source, video_id, label, ``original_video_id`` (a fake's
    original, same source); without it only the real videos of ``tracks`` are returned.

    A real video's actor is the cluster of its main (most faces; ties: lowest track) track; the
    next track of another cluster is recorded as ``second_actor_id``. Actor ids
    (``actor_0000``..) follow first appearance in (source, video_id) order. With
    ``merge_on_hints`` clusters that share a provided identity are merged (splitting one person
    across clusters would leak them across splits; merging only costs balance); every
    disagreement is reported either way.
    """
    need = {"source", "video_id", "track", "n_faces"}
    missing = need - set(tracks.columns)
    if missing:
        raise ValueError(f"tracks lack columns {sorted(missing)}")
    if params is None:
        name = tracks["embedder"][0] if "embedder" in tracks.columns and tracks.height else None
        if "embedder" in tracks.columns and tracks["embedder"].n_unique() > 1:
            raise ValueError("tracks mix embedders: their vectors are not comparable")
        params = default_params(name)
    t = tracks.sort(
        ["source", "video_id", "n_faces", "track"], descending=[False, False, True, False]
    )
    emb = _embedding_matrix(t, embedding_col)
    res = cluster_embeddings(emb, params=params)
    cluster = res.labels
    has_hint = "actor_hint" in t.columns
    t = t.with_columns(pl.Series("cluster", cluster), pl.Series("noise", res.noise)).with_columns(
        rank_in_video=pl.int_range(pl.len()).over(["source", "video_id"])
    )

    # Provided identities vs clusters (on main tracks: the hint names the video's subject).
    groups = cluster.copy()
    disagreements = _empty_disagreements()
    if has_hint:
        mains = t.filter((pl.col("rank_in_video") == 0) & pl.col("actor_hint").is_not_null())
        disagreements = _hint_disagreements(mains)
        if merge_on_hints and mains.height:
            groups = _merge_on_hints(cluster, mains)
    t = t.with_columns(pl.Series("group", groups))

    # Stable ids by first appearance: videos in (source, video_id) order, main track first.
    first_seen: dict[int, int] = {}
    for g in t["group"].to_list():  # t is sorted by video, then main track first
        first_seen.setdefault(g, len(first_seen))
    width = max(4, len(str(max(len(first_seen) - 1, 0))))
    actor_of = {g: f"actor_{k:0{width}d}" for g, k in first_seen.items()}
    t = t.with_columns(actor_id=pl.col("group").replace_strict(actor_of, return_dtype=pl.String))

    main = t.filter(pl.col("rank_in_video") == 0)
    second = (
        t.join(
            main.select("source", "video_id", pl.col("group").alias("main_group")),
            on=["source", "video_id"],
        )
        .filter(pl.col("group") != pl.col("main_group"))
        .sort(["source", "video_id", "rank_in_video"])  # joins do not promise row order
        .group_by(["source", "video_id"], maintain_order=True)
        .agg(pl.col("actor_id").first().alias("second_actor_id"))
    )
    n_tracks = t.group_by(["source", "video_id"]).agg(pl.len().cast(pl.Int64).alias("n_tracks"))
    real = (
        main.select(
            "source",
            "video_id",
            "actor_id",
            pl.col("track").alias("main_track"),
            *(["actor_hint"] if has_hint else []),
        )
        .join(second, on=["source", "video_id"], how="left")
        .join(n_tracks, on=["source", "video_id"], how="left")
        .with_columns(actor_source=pl.lit("cluster"))
    )
    out = _videos_with_fakes(real, videos)
    track_out = t.select(
        "source",
        "video_id",
        "track",
        "n_faces",
        "cluster",
        "noise",
        "actor_id",
        (pl.col("rank_in_video") == 0).alias("is_main"),
    )
    stats = {
        "n_tracks": t.height,
        "n_clusters": res.n_clusters,
        "n_noise_tracks": int(res.noise.sum()),
        "n_actors": len(first_seen),
        "n_disagreements": disagreements.height,
        "params": asdict(params),
        "cluster_stats": res.stats,
    }
    return ActorAssignment(out, track_out, disagreements, stats)


def _empty_disagreements() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "kind": pl.String,
            "source": pl.String,
            "actor_hint": pl.String,
            "clusters": pl.List(pl.Int64),
            "hints": pl.List(pl.String),
            "n_videos": pl.Int64,
        }
    )


def _hint_disagreements(mains: pl.DataFrame) -> pl.DataFrame:
    """'hint_split': one provided identity over several clusters; 'cluster_merges_hints': one
    cluster holding several provided identities (of one source)."""
    m = mains.with_columns(pl.col("actor_hint").cast(pl.String), pl.col("source").cast(pl.String))
    split = (
        m.group_by(["source", "actor_hint"])
        .agg(
            pl.col("cluster").cast(pl.Int64).unique().sort().alias("clusters"),
            pl.len().cast(pl.Int64).alias("n_videos"),
        )
        .filter(pl.col("clusters").list.len() > 1)
        .with_columns(kind=pl.lit("hint_split"), hints=pl.concat_list(pl.col("actor_hint")))
    )
    merged = (
        m.group_by(["source", "cluster"])
        .agg(
            pl.col("actor_hint").unique().sort().alias("hints"),
            pl.len().cast(pl.Int64).alias("n_videos"),
        )
        .filter(pl.col("hints").list.len() > 1)
        .with_columns(
            kind=pl.lit("cluster_merges_hints"),
            actor_hint=pl.lit(None, pl.String),
            clusters=pl.concat_list(pl.col("cluster").cast(pl.Int64)),
        )
    )
    cols = ["kind", "source", "actor_hint", "clusters", "hints", "n_videos"]
    return pl.concat([split.select(cols), merged.select(cols)]).sort(["kind", "source"])


def _merge_on_hints(cluster: np.ndarray, mains: pl.DataFrame) -> np.ndarray:
    """Union clusters whose main tracks share a (source, actor_hint)."""
    n = int(cluster.max()) + 1
    pairs = (
        mains.group_by(["source", "actor_hint"])
        .agg(pl.col("cluster").unique())
        .filter(pl.col("cluster").list.len() > 1)["cluster"]
        .to_list()
    )
    if not pairs:
        return cluster
    rows, cols = [], []
    for cl in pairs:
        rows.extend([cl[0]] * (len(cl) - 1))
        cols.extend(cl[1:])
    g = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    # Keep the smallest original cluster id as the merged group's id.
    rep = np.full(comp.max() + 1, n)
    np.minimum.at(rep, comp, np.arange(n))
    return rep[comp[cluster]]


def _videos_with_fakes(real: pl.DataFrame, videos: pl.DataFrame | None) -> pl.DataFrame:
    cols = [
        "source",
        "video_id",
        "label",
        "actor_id",
        "second_actor_id",
        "main_track",
        "n_tracks",
        "actor_source",
    ]
    if videos is None:
        return (
            real.with_columns(label=pl.lit("real"))
            .select(*cols, *(["actor_hint"] if "actor_hint" in real.columns else []))
            .sort(["source", "video_id"])
        )
    v = videos.select("source", "video_id", "label", "original_video_id")
    real_part = (
        v.filter(pl.col("label") == "real")
        .join(real.drop("actor_source"), on=["source", "video_id"], how="left")
        .with_columns(
            actor_source=pl.when(pl.col("actor_id").is_null())
            .then(pl.lit("no_faces"))
            .otherwise(pl.lit("cluster"))
        )
    )
    fake_part = (
        v.filter(pl.col("label") != "real")
        .join(
            real.select(
                "source",
                pl.col("video_id").alias("original_video_id"),
                "actor_id",
                "second_actor_id",
            ),
            on=["source", "original_video_id"],
            how="left",
        )
        .with_columns(
            main_track=pl.lit(None, pl.Int64),
            n_tracks=pl.lit(None, pl.Int64),
            actor_source=pl.when(pl.col("actor_id").is_null())
            .then(pl.lit("missing_original"))
            .otherwise(pl.lit("original")),
        )
    )
    extra = ["original_video_id"]
    if "actor_hint" in real_part.columns:
        fake_part = fake_part.with_columns(actor_hint=pl.lit(None, pl.String))
        extra.append("actor_hint")
    out = pl.concat(
        [
            real_part.select(*cols, *extra),
            fake_part.select(*cols, *extra).cast({"main_track": real_part["main_track"].dtype}),
        ],
        how="vertical_relaxed",
    )
    return out.sort(["source", "video_id"])
