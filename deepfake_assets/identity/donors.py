"""Whose face a fake shows: its target (the person of its original) and its donor.

A face-swap fake puts the donor's face on the target's head. Where the dataset names the donor
(``videos.donor_hint``: FF++/DFD ``<target>_<source>``, Celeb-DF ``idX_idY``, DeeperForensics'
actor, a manifest's ``donor``), that name is looked up among the actors' dataset identities.
Where it is silent (DFDC), the fake's face is compared with the actors' faces.

Why not simply "the nearest actor, if it is not the target": a blend keeps much of its target.
On the demo (dlib embeddings, 35 fakes of 9 people at blend strengths 0.35 / 0.6 / 0.9) even
the strongest fakes stay 0.36-0.51 from their target, about as far as from their donor
(0.23-0.50), so the nearest actor was the donor on 9 of 12 strong fakes and the rule found
donors on weak ones that were not theirs. What a swap changes is the *direction* in which the
fake moved away from its target: :func:`match_donor` removes the target's component from the
fake's track mean and from every other actor's centroid and compares the remainders (cosine).
A donor is recorded when

* the fake moved away from its target by at least ``min_target_shift`` (farther than the same
  person's own variants: 0.298 at most for dlib, see ``identity/clustering.py``; a weak blend
  that still looks like its target never gets a donor), and
* the best actor's direction leads the runner-up's by at least ``min_margin``.

The figures behind the defaults are in README.md (``benchmarks/donor_bench.py`` reproduces them).
Everything here is pure polars / numpy: the ``fake_identities`` asset only reads and writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import NamedTuple

import numpy as np
import polars as pl

from deepfake_assets.sources.methods import synthesis_rows

__all__ = [
    "FAKE_IDENTITY_SCHEMA",
    "Centroids",
    "DonorMatch",
    "DonorParams",
    "DonorSource",
    "MatchArrays",
    "TrackMeans",
    "actor_centroids",
    "default_donor_params",
    "embedding_matrix",
    "fake_identities",
    "hint_actors",
    "match_arrays",
    "match_donor",
    "match_donors",
    "namespaced",
    "pick_fake_faces",
    "pseudo_actor",
    "track_means",
]

log = logging.getLogger(__name__)

PSEUDO_PREFIX = "pseudo:"  # a fake's own stand-in for a target nobody names
PERSON_PREFIX = "person:"  # a person the dataset names who has no actor (no face of theirs)


class DonorSource(str, Enum):
    """Where a fake's ``donor_actor_id`` came from."""

    METADATA = "metadata"  # the dataset names the donor
    EMBEDDING = "embedding"  # the fake's face matched an actor
    RESIDUAL = "residual"  # the donor's face rebuilt from fake - original matched an actor
    NONE = "none"  # no donor recorded


@dataclass(frozen=True)
class DonorParams:
    """Acceptance of a face-inferred donor (unit-vector distances, cosine margins)."""

    min_target_shift: float = 0.30  # fake track mean vs target centroid, Euclidean
    min_margin: float = 0.10  # best actor's direction similarity minus the runner-up's


_DEFAULTS = {
    "dlib-resnet-v1": DonorParams(min_target_shift=0.30, min_margin=0.10),
    # not measured (no weights offline): FaceNet's usual same-person bound is ~0.8
    "facenet-vggface2": DonorParams(min_target_shift=0.80, min_margin=0.10),
}


def default_donor_params(embedder_name: str | None, **overrides: float | None) -> DonorParams:
    """The measured defaults for an embedder (dlib's when unknown); an override of None keeps
    the default (the config's one "use the default" value)."""
    if embedder_name not in _DEFAULTS:
        log.warning("no calibrated donor thresholds for %s; using dlib's", embedder_name)
    base = _DEFAULTS.get(embedder_name or "", _DEFAULTS["dlib-resnet-v1"])
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


FAKE_IDENTITY_SCHEMA = pl.Schema(
    {
        "source": pl.Utf8,
        "video_id": pl.Utf8,
        "original_video_id": pl.Utf8,  # null for orphan fakes
        "orphan_fake": pl.Boolean,
        "generated": pl.Boolean,  # entire-face synthesis: no face match, no donor unless named
        "target_actor_id": pl.Utf8,  # an actor id, or pseudo:/person: (see below)
        "target_from": pl.Utf8,  # original | name | pseudo
        "donor_actor_id": pl.Utf8,
        "donor_source": pl.Utf8,  # DonorSource values
        "donor_hint": pl.Utf8,  # the dataset's donor name, namespaced like actor hints
        "candidate_actor_id": pl.Utf8,  # the face match considered (kept even when refused)
        "face_agrees": pl.Boolean,  # the face match accepted and equal to a named donor
        "target_distance": pl.Float64,
        "donor_distance": pl.Float64,
        "margin": pl.Float64,
        "similarity": pl.Float64,  # the candidate's direction similarity
        "residual_gain": pl.Float64,  # 1 / blend strength estimated from fake - original
        "residual_margin": pl.Float64,  # the face match's margin on the rebuilt donor face
        "n_faces_embedded": pl.Int64,
        "model": pl.Utf8,
    }
)


def namespaced(source: str, hint: str | None) -> str | None:
    """``source:hint``, the form actor hints take in the identity space (see track_table)."""
    return f"{source}:{hint}" if hint else None


def pseudo_actor(source: str, video_id: str) -> str:
    """A stand-in target of its own for a fake whose target nobody can name."""
    return f"{PSEUDO_PREFIX}{source}:{video_id}"


# ----------------------------------------------------------------------------------- inputs


def pick_fake_faces(faces: pl.DataFrame, per_track: int) -> pl.DataFrame:
    """Up to ``per_track`` faces per (source, video, track), evenly spread over the track.

    Detected faces are used when a track has enough of them, else interpolated ones too.
    Bounded on purpose: on the demo a track mean of 4 crops moved the margins of
    :func:`match_donor` by at most 0.02 against the mean of every crop.
    """
    if faces.is_empty() or per_track <= 0:
        return faces.head(0)
    keys = ["source", "video_id", "track"]
    detected = (
        ~pl.col("interpolated").fill_null(False)
        if "interpolated" in faces.columns
        else pl.lit(True)
    )
    pool = faces.with_columns(_det=detected).filter(
        pl.col("_det") | (pl.col("_det").sum().over(keys) < per_track)
    )
    pool = pool.sort([*keys, "frame_index"]).with_columns(
        _i=pl.int_range(pl.len()).over(keys), _m=pl.len().over(keys)
    )
    # positions round(j * (m - 1) / (k - 1)), j = 0 .. k - 1, with k = min(m, per_track)
    k = pl.min_horizontal(pl.col("_m"), pl.lit(per_track))
    span = pl.max_horizontal(pl.col("_m") - 1, pl.lit(1)).cast(pl.Float64)
    steps = pl.max_horizontal(k - 1, pl.lit(1)).cast(pl.Float64)
    j = (pl.col("_i") * steps / span).round()
    evenly = (j * span / steps).round() == pl.col("_i")
    keep = (k >= pl.col("_m")) | pl.when(k == 1).then(pl.col("_i") == 0).otherwise(evenly)
    return pool.filter(keep).drop("_det", "_i", "_m")


@dataclass(frozen=True)
class Centroids:
    """Unit mean embedding per actor, rows in ``ids`` order."""

    ids: tuple[str, ...]
    matrix: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {a: i for i, a in enumerate(self.ids)})

    def index(self) -> dict[str, int]:
        """Actor id -> row (built once: it is asked for every fake)."""
        return self._index


def embedding_matrix(df: pl.DataFrame) -> np.ndarray:
    col = df["embedding"]
    if isinstance(col.dtype, pl.Array):
        return np.asarray(col.to_numpy(), dtype=np.float32).reshape(df.height, -1)
    return np.asarray(col.to_list(), dtype=np.float32).reshape(df.height, -1)


TRACK_KEYS = ["source", "video_id", "track"]


@dataclass(frozen=True)
class TrackMeans:
    """Unit mean embedding per (source, video_id, track): row ``row`` of ``keys`` (which also
    holds ``n_faces``, and any per-track column a producer adds) is row ``row`` of ``matrix``.

    A table, not a dict of tuples: `fake_identities` joins it to the fakes (vectorised; a
    Python dict of 340k tracks took most of the stage's 219 s at 1M faces)."""

    keys: pl.DataFrame
    matrix: np.ndarray

    @staticmethod
    def empty() -> TrackMeans:
        keys = pl.DataFrame(
            schema={"source": pl.Utf8, "video_id": pl.Utf8, "track": pl.Int64,
                    "n_faces": pl.Int64, "row": pl.Int64}
        )  # fmt: skip
        return TrackMeans(keys, np.zeros((0, 0), np.float32))

    @staticmethod
    def from_dict(means: dict[tuple[str, str, int], tuple[np.ndarray, int]]) -> TrackMeans:
        """The hand-made form tests use: (source, video_id, track) -> (vector, n_faces)."""
        if not means:
            return TrackMeans.empty()
        items = list(means.items())
        keys = pl.DataFrame(
            {
                "source": [k[0] for k, _ in items],
                "video_id": [k[1] for k, _ in items],
                "track": [int(k[2]) for k, _ in items],
                "n_faces": [int(v[1]) for _, v in items],
            },
            schema_overrides={"track": pl.Int64, "n_faces": pl.Int64},
        ).with_row_index("row")
        matrix = np.stack([np.asarray(v[0], np.float32) for _, v in items])
        return TrackMeans(keys.with_columns(pl.col("row").cast(pl.Int64)), _unit_rows(matrix))

    def concat(self, other: TrackMeans) -> TrackMeans:
        """Both sets of tracks (a track in both keeps ``self``'s mean)."""
        if other.keys.is_empty():
            return self
        if self.keys.is_empty():
            return other
        new = other.keys.join(self.keys.select(TRACK_KEYS), on=TRACK_KEYS, how="anti")
        offset = len(self.matrix)
        rows = new["row"].to_numpy()
        keys = pl.concat(
            [self.keys, new.with_columns(row=pl.int_range(offset, offset + new.height))],
            how="diagonal_relaxed",
        )
        return TrackMeans(keys, np.concatenate([self.matrix, other.matrix[rows]]))

    def get(self, key: tuple[str, str, int]) -> tuple[np.ndarray, int] | None:
        """One track's (vector, n_faces), for inspection."""
        hit = self.keys.filter(
            (pl.col("source") == key[0]) & (pl.col("video_id") == key[1])
            & (pl.col("track") == int(key[2]))
        )  # fmt: skip
        if hit.is_empty():
            return None
        return self.matrix[int(hit["row"][0])], int(hit["n_faces"][0])


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def group_means(vectors: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Re-normalised mean of unit ``vectors`` per integer group (sorted sums, no Python loop)."""
    x = _unit_rows(vectors)
    if len(x) == 0:
        return np.zeros((n_groups, x.shape[1] if x.ndim == 2 else 0), np.float32)
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sums = np.zeros((n_groups, x.shape[1]), np.float64)
    sums[g[starts]] = np.add.reduceat(x[order].astype(np.float64), starts, axis=0)
    return _unit_rows(sums)


def track_means(embeddings: pl.DataFrame) -> TrackMeans:
    """Each (source, video_id, track)'s unit mean embedding and number of faces."""
    if embeddings.is_empty():
        return TrackMeans.empty()
    ids = embeddings.select(*TRACK_KEYS[:2], pl.col("track").cast(pl.Int64))
    keys = ids.unique(maintain_order=True).with_row_index("row")
    keys = keys.with_columns(pl.col("row").cast(pl.Int64))
    groups = ids.join(keys, on=TRACK_KEYS, how="left", maintain_order="left")["row"].to_numpy()
    counts = np.bincount(groups, minlength=keys.height)
    matrix = group_means(embedding_matrix(embeddings), groups, keys.height)
    return TrackMeans(keys.with_columns(n_faces=pl.Series(counts, dtype=pl.Int64)), matrix)


def actor_centroids(embeddings: pl.DataFrame, video_actors: pl.DataFrame) -> Centroids:
    """Each actor's centroid over the main tracks of its real videos (what the actor *is*).

    Only REAL videos: an orphan fake's face is a blend and would pull its cluster's centroid.
    """
    empty = Centroids((), np.zeros((0, 0), np.float32))
    if embeddings.is_empty() or video_actors.is_empty():
        return empty
    mains = video_actors.filter(
        (pl.col("label") == "REAL")
        & pl.col("actor_id").is_not_null()
        & pl.col("main_track").is_not_null()
    ).select("source", "video_id", pl.col("main_track").cast(pl.Int64).alias("track"), "actor_id")
    rows = embeddings.with_columns(pl.col("track").cast(pl.Int64)).join(
        mains, on=["source", "video_id", "track"]
    )
    if rows.is_empty():
        return empty
    ids = rows.select(pl.col("actor_id").cast(pl.Utf8)).unique().sort("actor_id")
    ids = ids.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_g"))
    groups = rows.select("actor_id").join(ids, on="actor_id", how="left", maintain_order="left")
    means = group_means(embedding_matrix(rows), groups["_g"].to_numpy(), ids.height)
    return Centroids(tuple(ids["actor_id"].to_list()), means.astype(np.float32))


def hint_actors(video_actors: pl.DataFrame) -> dict[str, str]:
    """Namespaced dataset identity -> the actor most of its videos were clustered into."""
    if video_actors.is_empty() or "actor_hint" not in video_actors.columns:
        return {}
    counted = (
        video_actors.filter(pl.col("actor_hint").is_not_null() & pl.col("actor_id").is_not_null())
        .group_by("actor_hint", "actor_id")
        .len()
        .sort(["actor_hint", "len", "actor_id"], descending=[False, True, False])
        .unique("actor_hint", keep="first", maintain_order=True)
    )
    return dict(zip(counted["actor_hint"], counted["actor_id"], strict=True))


# ------------------------------------------------------------------------------ the matching


@dataclass(frozen=True)
class DonorMatch:
    """The face match of one fake track against the actors other than its target."""

    candidate: str | None
    target_distance: float
    donor_distance: float | None
    similarity: float | None
    margin: float | None
    accepted: bool


def match_donor(
    vector: np.ndarray, target: str, centroids: Centroids, params: DonorParams
) -> DonorMatch:
    """Which actor other than ``target`` the fake moved towards, and whether to believe it."""
    return match_donors(np.asarray(vector)[None, :], [target], centroids, params)[0]


NAMED_CHECKS_PER_SOURCE = 2000  # named-donor fakes per source whose face match checks the name
MATCH_BATCH = 512  # fakes per matrix product: (actors x 512) floats in memory at a time


class MatchArrays(NamedTuple):
    """:func:`match_donors`' results as arrays, one entry per fake (``best`` indexes the
    centroids; -1 where there is no other actor)."""

    best: np.ndarray
    target_distance: np.ndarray
    donor_distance: np.ndarray
    similarity: np.ndarray
    margin: np.ndarray
    accepted: np.ndarray


def match_arrays(
    vectors: np.ndarray, t_idx: np.ndarray, centroids: Centroids, params: DonorParams
) -> MatchArrays:
    """The face match of many fakes at once: two matrix products per batch, few passes.

    The fake's mean ``m`` and every other centroid ``c`` lose their component along the
    target ``t`` and the remainders are compared (cosine). With ``a = m.t``, ``g = c.t`` and
    ``k = 2 - |t|^2``: ``(c - g t).(m - a t) = c.(m - a k t)`` (one product ``C U`` for the
    batch), ``|c - g t|^2 = |c|^2 - k g^2`` (one product ``C T`` over the batch's distinct
    targets: fakes are taken in target order, so a batch has few) and ``|m - a t|`` is one
    number per fake, which does not change which actor is best. So the (actors x fakes) work
    is a float32 product, an in-place multiply and two reductions; the rest is per fake. (The
    first version combined ``C m`` and ``C t`` elementwise in float64: ~20 passes over actors x
    fakes, 11 s of 18 at 300k faces.)
    """
    n = len(t_idx)
    out = MatchArrays(
        np.full(n, -1, np.int64), np.zeros(n), np.full(n, np.nan), np.full(n, np.nan),
        np.full(n, np.nan), np.zeros(n, bool),
    )  # fmt: skip
    if n == 0:
        return out
    c = np.asarray(centroids.matrix, dtype=np.float64)
    norms2 = np.einsum("ij,ij->i", c, c) if len(c) else np.zeros(0)
    m_all = np.asarray(vectors, dtype=np.float64).reshape(n, -1)
    m_all = m_all / np.maximum(np.linalg.norm(m_all, axis=1, keepdims=True), 1e-12)
    t_all = np.asarray(t_idx, dtype=np.int64)
    a_all = np.einsum("ij,ij->i", m_all, c[t_all])  # m.t per fake
    out.target_distance[:] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * a_all))
    if len(c) < 2:
        return out
    order = np.argsort(t_all, kind="stable")
    c32 = c.astype(np.float32)  # the products in float32 (half the time; errors ~1e-6)
    norms2_32 = norms2.astype(np.float32)
    for lo in range(0, n, MATCH_BATCH):
        sel = order[lo : lo + MATCH_BATCH]
        m, t, a = m_all[sel], t_all[sel], a_all[sel]
        cols = np.arange(len(sel))
        k = 2.0 - norms2[t]
        # (batch, actors) in float32, C order: the reductions over actors run along rows
        # (argmax over axis 0 of the transpose took 3.4 s of 7.9 at 6k actors), and the work
        # per (fake, actor) is the product, one in-place multiply and two reductions (float64
        # temporaries and a gathered denominator were 25 s of 29 at 1M faces, 20k actors)
        num = (m - (a * k)[:, None] * c[t]).astype(np.float32) @ c32.T
        targets, first, runs = np.unique(t, return_index=True, return_counts=True)
        g = c32[targets] @ c32.T  # (distinct targets, actors)
        rest2 = norms2_32[None, :] - g * g * (2.0 - norms2[targets]).astype(np.float32)[:, None]
        inv_rest = 1.0 / np.maximum(np.sqrt(np.maximum(rest2, 0.0)), 1e-12)
        for j in range(len(targets)):  # fakes are in target order: one run per target
            num[first[j] : first[j] + runs[j]] *= inv_rest[j]
        num[cols, t] = -np.inf
        away = np.sqrt(np.maximum(1.0 - 2.0 * a * a + a * a * norms2[t], 0.0))
        away = np.maximum(away, 1e-12)
        best = np.argmax(num, axis=1)
        similarity = num[cols, best].astype(np.float64) / away
        if len(c) > 2:
            num[cols, best] = -np.inf
            runner_up = num.max(axis=1).astype(np.float64) / away
        else:
            runner_up = np.zeros(len(sel))
        out.best[sel] = best
        out.similarity[sel] = similarity
        out.margin[sel] = similarity - runner_up
        dots = np.einsum("ij,ij->i", m, c[best])
        out.donor_distance[sel] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * dots))
    out.accepted[:] = (
        (out.best >= 0)
        & (out.target_distance >= params.min_target_shift)
        & (np.nan_to_num(out.margin, nan=-np.inf) >= params.min_margin)
    )
    return out


def match_donors(
    vectors: np.ndarray, targets: list[str], centroids: Centroids, params: DonorParams
) -> list[DonorMatch]:
    """:func:`match_donor` for many fakes at once (:func:`match_arrays` as objects)."""
    index = centroids.index()
    t_idx = np.array([index[t] for t in targets], dtype=np.int64)
    r = match_arrays(np.asarray(vectors).reshape(len(targets), -1), t_idx, centroids, params)
    out = []
    for k in range(len(targets)):
        if r.best[k] < 0:
            out.append(DonorMatch(None, float(r.target_distance[k]), None, None, None, False))
            continue
        out.append(
            DonorMatch(
                centroids.ids[int(r.best[k])],
                float(r.target_distance[k]),
                float(r.donor_distance[k]),
                float(r.similarity[k]),
                float(r.margin[k]),
                bool(r.accepted[k]),
            )
        )
    return out


def _hint_table(video_actors: pl.DataFrame) -> pl.DataFrame:
    """:func:`hint_actors` as a table (hint, actor_id), for joins."""
    pairs = hint_actors(video_actors)
    return pl.DataFrame(
        {"hint": list(pairs), "actor_id": list(pairs.values())},
        schema={"hint": pl.Utf8, "actor_id": pl.Utf8},
    )


def _ns(col: str) -> pl.Expr:
    """:func:`namespaced` as an expression: ``source:hint``, null for a missing/empty hint."""
    c = pl.col(col).cast(pl.Utf8)
    return pl.when(c.is_not_null() & (c != "")).then(pl.col("source") + ":" + c)


def _rows_of(df: pl.DataFrame, means: TrackMeans, track: str, prefix: str) -> pl.DataFrame:
    """``df`` with ``<prefix>row`` (the row of ``means.matrix``) and ``<prefix>n`` for the
    track named by column ``track`` (null where that track has no mean)."""
    keys = means.keys.select(
        "source", "video_id", pl.col("track").alias(track),
        pl.col("row").alias(f"{prefix}row"), pl.col("n_faces").alias(f"{prefix}n"),
        *[pl.col(c).alias(f"{prefix}{c}") for c in means.keys.columns
          if c not in (*TRACK_KEYS, "row", "n_faces")],
    )  # fmt: skip
    return df.join(keys, on=["source", "video_id", track], how="left", maintain_order="left")


def _gather(matrix: np.ndarray, rows: np.ndarray, dim: int) -> np.ndarray:
    """Rows of ``matrix`` (``rows`` >= 0), zeros elsewhere."""
    out = np.zeros((len(rows), dim), np.float32)
    ok = rows >= 0
    if ok.any():
        out[ok] = matrix[rows[ok]]
    return out


def _col(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Float values where ``mask``, NaN elsewhere (nulls once in the table)."""
    return np.where(mask, values, np.nan)


def fake_identities(
    fakes: pl.DataFrame,
    video_actors: pl.DataFrame,
    centroids: Centroids,
    means: TrackMeans | dict,
    params: DonorParams,
    model: str | None = None,
    residuals: TrackMeans | None = None,
) -> pl.DataFrame:
    """One row per fake video: its target, its donor, where each came from, the distances.

    ``fakes``: source, video_id, original_video_id, orphan_fake, actor_hint, donor_hint (raw,
    as the adapters give them), optional ``generated`` (entire-face synthesis, see
    :func:`fakes_of`). ``video_actors``: the ``video_actors`` table. ``means``: the
    track means of fake crops (``fake_embeddings``) and of orphan fakes (``embeddings``);
    ``residuals``: the track means of the donors' faces reconstructed from each fake and its
    original (``fake_residuals``, see ``identity/residual.py``), with their ``gain``.

    Target: the original's actor; for an orphan the actor its name gives (FF++ ``000_003`` ->
    ``000``), else ``person:<source>:<name>`` when nobody with that name has a face here, else
    ``pseudo:<source>:<video_id>``. Donor: the actor the dataset's donor name belongs to
    (``metadata``); else, for an orphan whose face ``actor_clusters`` put with an actor's real
    videos, that actor unless it is the target (``embedding``); else the face match of
    :func:`match_donor` when accepted (needs the target's centroid; ``embedding``); else the
    same match on the reconstructed donor face (``residual``). An orphan whose face matched
    nobody and whose target is unknown gets no donor: its own face is a person seen only there
    (its ``video_actors`` actor). Where a name gives the donor, the face match runs as a check
    of the name (``face_agrees``) on up to ``NAMED_CHECKS_PER_SOURCE`` fakes per source (a
    seeded sample: the check is a statistic, and it was half the stage's time at scale).
    A ``generated`` fake (StyleGAN, PGGAN: a face of nobody) is never matched: it looking like
    someone does not make it them. Its donor is only ever a name the dataset gives, its target
    its original's actor, a named person or its own pseudo-actor, as above.
    Vectorised: joins and matrix products, no loop per fake.
    """
    if isinstance(means, dict):
        means = TrackMeans.from_dict(means)
    residuals = residuals if residuals is not None else TrackMeans.empty()
    if fakes.is_empty():
        return pl.DataFrame(schema=FAKE_IDENTITY_SCHEMA)
    va = video_actors.select(
        "source", "video_id", pl.col("actor_id").cast(pl.Utf8),
        pl.col("main_track").cast(pl.Int64),
    ).unique(["source", "video_id"], keep="first")  # fmt: skip
    hints = _hint_table(video_actors)
    cent = pl.DataFrame(
        {"actor_id": list(centroids.ids), "c": np.arange(len(centroids.ids), dtype=np.int64)},
        schema={"actor_id": pl.Utf8, "c": pl.Int64},
    )
    orphan = pl.col("orphan_fake")
    df = (
        fakes.select(
            "source", "video_id", pl.col("original_video_id").cast(pl.Utf8),
            pl.col("orphan_fake").cast(pl.Boolean).fill_null(False),
            (pl.col("generated").cast(pl.Boolean).fill_null(False) if "generated" in fakes.columns
             else pl.lit(False)).alias("generated"),
            _ns("actor_hint").alias("target_hint"), _ns("donor_hint").alias("donor_hint"),
        )
        .join(va.rename({"actor_id": "own_actor", "main_track": "own_track"}),
              on=["source", "video_id"], how="left", maintain_order="left")
        .join(va.select("source", pl.col("video_id").alias("original_video_id"),
                        pl.col("main_track").alias("original_track")),
              on=["source", "original_video_id"], how="left", maintain_order="left")
        .join(hints.rename({"hint": "target_hint", "actor_id": "target_by_hint"}),
              on="target_hint", how="left", maintain_order="left")
        .join(hints.rename({"hint": "donor_hint", "actor_id": "donor_by_hint"}),
              on="donor_hint", how="left", maintain_order="left")
    )  # fmt: skip
    # (a generated item's own pseudo-actor, from `actor_clusters`, is no original's actor)
    by_original = (
        ~orphan
        & pl.col("own_actor").is_not_null()
        & ~pl.col("own_actor").str.starts_with(PSEUDO_PREFIX)
    )
    df = df.with_columns(
        target_actor_id=pl.when(by_original).then(pl.col("own_actor"))
        .when(pl.col("target_hint").is_not_null())
        .then(pl.coalesce("target_by_hint", pl.lit(PERSON_PREFIX) + pl.col("target_hint")))
        .otherwise(pl.lit(PSEUDO_PREFIX) + pl.col("source") + ":" + pl.col("video_id")),
        target_from=pl.when(by_original).then(pl.lit("original"))
        .when(pl.col("target_hint").is_not_null()).then(pl.lit("name"))
        .otherwise(pl.lit("pseudo")),
        # the fake's track whose face was swapped: its original's main track (orphan: its own)
        track=pl.when(orphan).then(pl.col("own_track")).otherwise(pl.col("original_track")),
    )  # fmt: skip
    df = _rows_of(df, means, "track", "m_")
    df = _rows_of(df, residuals, "track", "r_")
    df = df.join(
        cent.rename({"actor_id": "target_actor_id", "c": "t_c"}),
        on="target_actor_id",
        how="left",
        maintain_order="left",
    )
    df = df.join(cent.rename({"actor_id": "own_actor", "c": "own_c"}),
                 on="own_actor", how="left", maintain_order="left")  # fmt: skip

    n = df.height
    dim = means.matrix.shape[1] if means.matrix.ndim == 2 and len(means.matrix) else 1
    m_row = df["m_row"].fill_null(-1).to_numpy()
    r_row = df["r_row"].fill_null(-1).to_numpy()
    t_c = df["t_c"].fill_null(-1).to_numpy()
    own_c = df["own_c"].fill_null(-1).to_numpy()
    is_orphan = df["orphan_fake"].to_numpy()
    is_generated = df["generated"].to_numpy().astype(bool)
    has_hint = df["donor_hint"].is_not_null().to_numpy()
    # a generated face is never compared with anyone: as if it had no face vector
    has_vec = (m_row >= 0) & ~is_generated
    # where the dataset names the donor, the face match is only a check of the names: on a
    # bounded, seeded sample per source (all of them on small sources), not on every fake
    named_hash = pl.when(pl.col("donor_hint").is_not_null()).then(pl.col("video_id").hash(5))
    checked = (
        df.select(named_hash.rank("ordinal").over("source") <= NAMED_CHECKS_PER_SOURCE)
        .to_series()
        .fill_null(False)
        .to_numpy()
    )
    matchable = has_vec & (t_c >= 0) & (~has_hint | checked)
    vectors = _gather(means.matrix, m_row, dim)
    match = match_arrays(vectors[matchable], t_c[matchable], centroids, params)

    def spread(values: np.ndarray, fill) -> np.ndarray:
        out = np.full(n, fill, dtype=np.asarray(values).dtype)
        out[matchable] = values
        return out

    best = spread(match.best, -1)
    accepted = spread(match.accepted, False).astype(bool)
    margin = spread(match.margin, np.nan)
    similarity = spread(match.similarity, np.nan)
    # the reconstructed donor face, matched like the fake's own face
    res_ok = (r_row >= 0) & (t_c >= 0) & ~is_generated
    r_dim = residuals.matrix.shape[1] if len(residuals.matrix) else dim
    r_vectors = _gather(residuals.matrix, r_row, r_dim)
    r_match = match_arrays(r_vectors[res_ok], t_c[res_ok], centroids, params)
    r_best = np.full(n, -1, np.int64)
    r_best[res_ok] = r_match.best
    r_accepted = np.zeros(n, bool)
    r_accepted[res_ok] = r_match.accepted
    r_margin = np.full(n, np.nan)
    r_margin[res_ok] = r_match.margin

    # which rule decides, in order (see the docstring)
    own_in_cent = is_orphan & (own_c >= 0) & ~is_generated
    by_cluster = ~has_hint & own_in_cent
    match_used = matchable & (~is_orphan | (~has_hint & ~own_in_cent))
    by_match = ~has_hint & ~by_cluster & match_used & accepted
    by_residual = (
        ~has_hint & ~by_cluster & ~by_match & ~is_orphan & res_ok & r_accepted & (r_best >= 0)
    )
    nearest = np.full(n, -1, np.int64)
    lonely = is_orphan & has_vec & ~has_hint & ~by_cluster & ~match_used
    if lonely.any() and len(centroids.ids):
        nearest[lonely] = np.argmax(vectors[lonely] @ centroids.matrix.T, axis=1)
    cand_idx = np.where(by_cluster, own_c, np.where(by_residual, r_best, best))
    cand_idx = np.where(lonely, nearest, np.where(match_used | by_cluster | by_residual,
                                                  cand_idx, -1))  # fmt: skip
    cand_idx = cand_idx.astype(np.int64)
    ids = np.array(list(centroids.ids) + [None], dtype=object)
    candidate = ids[cand_idx]  # -1 -> None
    own_actor = df["own_actor"].to_numpy()
    hinted = np.where(
        is_orphan & ~is_generated,  # a generated item's own actor is its pseudo-actor
        df.select(pl.coalesce("donor_by_hint", "own_actor")).to_series().to_numpy(),
        df["donor_by_hint"].to_numpy(),
    )
    hinted = np.where(
        _missing(hinted), (PERSON_PREFIX + df["donor_hint"].fill_null("")).to_numpy(), hinted
    )
    cluster_donor = by_cluster & (own_c != t_c)
    donor = np.full(n, None, dtype=object)
    donor[has_hint] = hinted[has_hint]
    donor[cluster_donor] = own_actor[cluster_donor]
    donor[by_match] = candidate[by_match]
    donor[by_residual] = candidate[by_residual]
    source = np.full(n, DonorSource.NONE.value, dtype=object)
    source[has_hint] = DonorSource.METADATA.value
    source[cluster_donor | by_match] = DonorSource.EMBEDDING.value
    source[by_residual] = DonorSource.RESIDUAL.value

    # distances of the fake's face to its target and to its donor (or candidate)
    unit = _unit_rows(vectors)
    cmat = centroids.matrix

    def distance(idx: np.ndarray) -> np.ndarray:
        ok = has_vec & (idx >= 0)
        out = np.full(n, np.nan)
        if ok.any():
            dots = np.einsum("ij,ij->i", unit[ok], cmat[idx[ok]])
            out[ok] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * dots))
        return out

    index = centroids.index()
    shown = np.array([index.get(d, -1) if d else -1 for d in donor], dtype=np.int64)
    shown = np.where(_missing(donor), cand_idx, shown)  # a person: donor has no centroid
    agrees = accepted & (ids[best] == donor)
    face_agrees = [
        bool(a) if h else None for a, h in zip(agrees, has_hint & match_used, strict=True)
    ]
    gain = df["r_gain"].to_numpy() if "r_gain" in df.columns else np.full(n, np.nan)
    table = df.select(
        "source", "video_id",
        pl.when(pl.col("orphan_fake")).then(None).otherwise(pl.col("original_video_id"))
        .alias("original_video_id"),
        "orphan_fake", "generated", "target_actor_id", "target_from",
    ).with_columns(
        pl.Series("donor_actor_id", donor.tolist(), dtype=pl.Utf8),
        pl.Series("donor_source", source.tolist(), dtype=pl.Utf8),
        df["donor_hint"],
        pl.Series("candidate_actor_id", candidate.tolist(), dtype=pl.Utf8),
        pl.Series("face_agrees", face_agrees, dtype=pl.Boolean),
        pl.Series("target_distance", distance(t_c), dtype=pl.Float64).fill_nan(None),
        pl.Series("donor_distance", distance(shown), dtype=pl.Float64).fill_nan(None),
        pl.Series("margin", _col(margin, match_used), dtype=pl.Float64).fill_nan(None),
        pl.Series("similarity", _col(similarity, match_used), dtype=pl.Float64).fill_nan(None),
        pl.Series("residual_gain", _col(gain, r_row >= 0), dtype=pl.Float64).fill_nan(None),
        pl.Series("residual_margin", _col(r_margin, res_ok), dtype=pl.Float64).fill_nan(None),
        df["m_n"].fill_null(0).cast(pl.Int64).alias("n_faces_embedded"),
        pl.lit(model, pl.Utf8).alias("model"),
    )  # fmt: skip
    return (
        table.select(FAKE_IDENTITY_SCHEMA.names())
        .cast(FAKE_IDENTITY_SCHEMA)
        .sort("source", "video_id")
    )


def _missing(values: np.ndarray) -> np.ndarray:
    """Which entries of an object array are missing (None or NaN)."""
    return np.array([v is None or v != v for v in values], dtype=bool)


# ------------------------------------------------------------------------- from the catalog


def fakes_of(videos: pl.DataFrame) -> pl.DataFrame:
    """The usable fakes of the ``videos`` table, in the form :func:`fake_identities` takes,
    ``generated`` where the method is entire-face synthesis (``sources/methods.py``)."""
    for col in ("donor_hint", "orphan_fake", "actor_hint"):
        if col not in videos.columns:  # catalogs written before donor hints
            videos = videos.with_columns(pl.lit(None, pl.Utf8).alias(col))
    return videos.filter((pl.col("label") == "FAKE") & (pl.col("status") == "ok")).select(
        "source",
        "video_id",
        "original_video_id",
        pl.col("orphan_fake").cast(pl.Boolean).fill_null(False),
        synthesis_rows(videos).alias("generated"),
        "actor_hint",
        "donor_hint",
    )


def model_mismatch(embeddings: pl.DataFrame, *others: pl.DataFrame) -> str | None:
    """Why these tables cannot be compared (different models), or None."""
    model = embeddings["model"][0] if embeddings.height else None
    for other in others:
        if other.height and "model" in other.columns:
            found = set(other["model"].drop_nulls().unique())
            if found and found != {model}:
                return (
                    f"embeddings are {model}, other face vectors are {sorted(found)}: "
                    "re-materialise `face_embeddings` (and `fake_residuals`) of every source"
                )
    return None


def identities_from_tables(
    videos: pl.DataFrame,
    video_actors: pl.DataFrame,
    embeddings: pl.DataFrame,
    fake_embeddings: pl.DataFrame,
    residuals: TrackMeans,
    params: DonorParams,
) -> pl.DataFrame:
    """The ``fake_identities`` table from the catalog's tables (what the asset computes)."""
    model = embeddings["model"][0] if embeddings.height else None
    fakes = fakes_of(videos)
    orphans = fakes.filter(pl.col("orphan_fake")).select("source", "video_id")
    means = track_means(fake_embeddings)
    if embeddings.height and orphans.height:
        means = means.concat(track_means(embeddings.join(orphans, on=["source", "video_id"])))
    centroids = actor_centroids(embeddings, video_actors)
    return fake_identities(fakes, video_actors, centroids, means, params, model, residuals)


def identities_summary(table: pl.DataFrame) -> dict:
    """Counts for the asset's metadata: donors per source and method, refused face matches,
    agreement of faces with dataset names."""

    def counts(df: pl.DataFrame, *by: str) -> dict[str, int]:
        if df.is_empty():
            return {}
        grouped = df.group_by(*by).len().sort(*by)
        return {"/".join(str(v) for v in row[:-1]): int(row[-1]) for row in grouped.iter_rows()}

    considered = table.filter(pl.col("margin").is_not_null())
    out = {
        "num_fakes": table.height,
        "num_with_donor": table.filter(pl.col("donor_actor_id").is_not_null()).height,
        "num_orphan_fakes": int(table["orphan_fake"].sum()) if table.height else 0,
        # entire-face synthesis: pseudo-actors, never face-matched
        "num_generated": int(table["generated"].sum())
        if table.height and "generated" in table.columns
        else 0,
        "donors_by_source": counts(table, "source", "donor_source"),
        "targets_by_origin": counts(table, "target_from"),
        "face_matched_fakes": considered.height,
        "face_matches_refused": considered.filter(pl.col("donor_source") == "none").height,
        "rebuilt_faces_matched": table.filter(pl.col("residual_margin").is_not_null()).height,
        # where a dataset names donors, how often the face match found the same person
        "face_agrees_with_names": counts(
            table.filter(pl.col("face_agrees").is_not_null()), "source", "face_agrees"
        ),
    }
    if considered.height:
        out["target_distance_median"] = float(considered["target_distance"].median())
    return out
