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

from deepfake_assets.identity.clustering import mean_embeddings

__all__ = [
    "FAKE_IDENTITY_SCHEMA",
    "Centroids",
    "DonorMatch",
    "DonorParams",
    "DonorSource",
    "actor_centroids",
    "default_donor_params",
    "fake_identities",
    "hint_actors",
    "match_donor",
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


def _vectors(df: pl.DataFrame) -> np.ndarray:
    col = df["embedding"]
    if isinstance(col.dtype, pl.Array):
        return np.asarray(col.to_numpy(), dtype=np.float32).reshape(df.height, -1)
    return np.asarray(col.to_list(), dtype=np.float32).reshape(df.height, -1)


def track_means(embeddings: pl.DataFrame) -> dict[tuple[str, str, int], tuple[np.ndarray, int]]:
    """(source, video_id, track) -> (unit mean embedding, number of faces)."""
    if embeddings.is_empty():
        return {}
    keys = (
        embeddings["source"]
        + "\x1f"
        + embeddings["video_id"]
        + "\x1f"
        + embeddings["track"].cast(pl.Utf8)
    ).to_numpy()
    unique, means = mean_embeddings(_vectors(embeddings), keys)
    counts = dict(zip(*np.unique(keys, return_counts=True), strict=True))
    out = {}
    for key, mean in zip(unique, means, strict=True):
        source, video, track = str(key).split("\x1f")
        out[(source, video, int(track))] = (mean, int(counts[key]))
    return out


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
    ids, means = mean_embeddings(_vectors(rows), rows["actor_id"].to_numpy())
    return Centroids(tuple(str(a) for a in ids), means.astype(np.float32))


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


MATCH_BATCH = 512  # fakes per matrix product: (actors x 512) floats in memory at a time


def match_donors(
    vectors: np.ndarray, targets: list[str], centroids: Centroids, params: DonorParams
) -> list[DonorMatch]:
    """:func:`match_donor` for many fakes at once, with two matrix products per batch.

    The fake's mean ``m`` and every other centroid ``c`` lose their component along the
    target ``t`` and the remainders are compared (cosine). With ``a = m.t`` and ``g = c.t``,
    ``(c - g t).(m - a t) = c.m - 2 a g + a g |t|^2``, ``|c - g t|^2 = |c|^2 - 2 g^2 + g^2|t|^2``
    (the same for ``m``), so only ``C m`` and ``C t`` are needed: one BLAS product over all
    actors per batch of fakes instead of a Python pass over the actors per fake.
    """
    index = centroids.index()
    c = np.asarray(centroids.matrix, dtype=np.float64)
    norms2 = np.einsum("ij,ij->i", c, c) if len(c) else np.zeros(0)
    out: list[DonorMatch] = []
    for lo in range(0, len(targets), MATCH_BATCH):
        m = np.asarray(vectors[lo : lo + MATCH_BATCH], dtype=np.float64)
        m = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        t_idx = np.array([index[t] for t in targets[lo : lo + MATCH_BATCH]], dtype=np.int64)
        dots = c @ m.T  # (actors, batch): c.m
        cross = c @ c[t_idx].T  # (actors, batch): c.t
        cols = np.arange(len(t_idx))
        a = dots[t_idx, cols]  # m.t per fake
        t2 = norms2[t_idx]
        target_distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * a))
        if len(c) < 2:
            out += [DonorMatch(None, float(d), None, None, None, False) for d in target_distance]
            continue
        away = np.sqrt(np.maximum(1.0 - 2.0 * a * a + a * a * t2, 0.0))
        rest = np.sqrt(np.maximum(norms2[:, None] - 2.0 * cross**2 + cross**2 * t2, 0.0))
        sims = (dots - 2.0 * a * cross + a * cross * t2) / (
            np.maximum(rest, 1e-12) * np.maximum(away, 1e-12)
        )
        sims[t_idx, cols] = -np.inf
        best = np.argmax(sims, axis=0)
        similarity = sims[best, cols]
        if len(c) > 2:
            sims[best, cols] = -np.inf
            runner_up = sims.max(axis=0)
        else:
            runner_up = np.zeros(len(t_idx))
        margin = similarity - runner_up
        donor_distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * dots[best, cols]))
        accepted = (target_distance >= params.min_target_shift) & (margin >= params.min_margin)
        out += [
            DonorMatch(
                centroids.ids[int(best[k])],
                float(target_distance[k]),
                float(donor_distance[k]),
                float(similarity[k]),
                float(margin[k]),
                bool(accepted[k]),
            )
            for k in range(len(t_idx))
        ]
    return out


def _distance(vector: np.ndarray | None, actor: str | None, centroids: Centroids) -> float | None:
    index = centroids.index()
    if vector is None or actor not in index:
        return None
    m = np.asarray(vector, dtype=np.float64)
    m = m / max(float(np.linalg.norm(m)), 1e-12)
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * float(m @ centroids.matrix[index[actor]]))))


def _nearest(vector: np.ndarray, centroids: Centroids) -> str | None:
    if not centroids.ids:
        return None
    return centroids.ids[int(np.argmax(centroids.matrix @ np.asarray(vector, np.float32)))]


class _Fake(NamedTuple):
    """One fake with its target and track mean, before the face matches are computed."""

    fake: dict
    source: str
    video: str
    orphan: bool
    own: dict
    donor_hint: str | None
    target: str
    target_from: str
    vector: np.ndarray | None
    n_faces: int


def fake_identities(
    fakes: pl.DataFrame,
    video_actors: pl.DataFrame,
    centroids: Centroids,
    means: dict[tuple[str, str, int], tuple[np.ndarray, int]],
    params: DonorParams,
    model: str | None = None,
) -> pl.DataFrame:
    """One row per fake video: its target, its donor, where each came from, the distances.

    ``fakes``: source, video_id, original_video_id, orphan_fake, actor_hint, donor_hint (raw,
    as the adapters give them). ``video_actors``: the ``video_actors`` table. ``means``: the
    track means of fake crops (``fake_embeddings``) and of orphan fakes (``embeddings``).

    Target: the original's actor; for an orphan the actor its name gives (FF++ ``000_003`` ->
    ``000``), else ``person:<source>:<name>`` when nobody with that name has a face here, else
    ``pseudo:<source>:<video_id>``. Donor: the actor the dataset's donor name belongs to
    (``metadata``); else, for an orphan whose face ``actor_clusters`` put with an actor's real
    videos, that actor unless it is the target (``embedding``); else the face match of
    :func:`match_donor` when accepted (needs the target's centroid). An orphan whose face
    matched nobody and whose target is unknown gets no donor: its own face is a person seen
    only there (its ``video_actors`` actor).
    """
    by_video = {(r["source"], r["video_id"]): r for r in video_actors.to_dicts()}
    by_hint = hint_actors(video_actors)
    cent = centroids.index()
    prepared = []
    for fake in fakes.to_dicts():
        source, video = fake["source"], fake["video_id"]
        orphan = bool(fake.get("orphan_fake"))
        own = by_video.get((source, video), {})
        target_hint = namespaced(source, fake.get("actor_hint"))
        donor_hint = namespaced(source, fake.get("donor_hint"))
        target, target_from = None, "pseudo"
        if not orphan and own.get("actor_id"):
            target, target_from = own["actor_id"], "original"
        elif target_hint:
            target, target_from = by_hint.get(target_hint, PERSON_PREFIX + target_hint), "name"
        if target is None:
            target = pseudo_actor(source, video)
        # the fake's track whose face was swapped: its original's main track (orphan: its own)
        if orphan:
            track = own.get("main_track")
        else:
            original = by_video.get((source, fake.get("original_video_id")), {})
            track = original.get("main_track")
        vector, n_faces = (
            means.get((source, video, int(track)), (None, 0)) if track is not None else (None, 0)
        )
        prepared.append(
            _Fake(
                fake, source, video, orphan, own, donor_hint, target, target_from, vector, n_faces
            )
        )
    # every face match any branch below may use, computed together (matrix products)
    matchable = [i for i, p in enumerate(prepared) if p.vector is not None and p.target in cent]
    matches = dict(
        zip(
            matchable,
            match_donors(
                np.stack([prepared[i].vector for i in matchable])
                if matchable
                else np.zeros((0, 1)),
                [prepared[i].target for i in matchable],
                centroids,
                params,
            ),
            strict=True,
        )
    )
    rows = []
    for i, (
        fake,
        source,
        video,
        orphan,
        own,
        donor_hint,
        target,
        target_from,
        vector,
        n_faces,
    ) in enumerate(prepared):
        donor, donor_source, candidate = None, DonorSource.NONE, None
        match: DonorMatch | None = None
        if not orphan and vector is not None and target in cent:
            # also where the dataset names the donor: the face match then checks the names
            match = matches[i]
            candidate = match.candidate
        if donor_hint:
            face_actor = own.get("actor_id") if orphan else None
            donor = by_hint.get(donor_hint) or face_actor or PERSON_PREFIX + donor_hint
            donor_source = DonorSource.METADATA
        elif orphan and own.get("actor_id") in cent:
            # actor_clusters put the orphan's face with real videos of one actor: that is
            # whose face it shows (its named target's, for a blend too weak to change it)
            candidate = own["actor_id"]
            if candidate != target:
                donor, donor_source = candidate, DonorSource.EMBEDDING
        elif match is not None:
            if match.accepted:
                donor, donor_source = match.candidate, DonorSource.EMBEDDING
        elif orphan and vector is not None and target in cent:
            match = matches[i]  # a named target
            candidate = match.candidate
            if match.accepted:
                donor, donor_source = match.candidate, DonorSource.EMBEDDING
        elif vector is not None and orphan:
            candidate = _nearest(vector, centroids)  # shown for inspection, not believed
        rows.append(
            {
                "source": source,
                "video_id": video,
                "original_video_id": None if orphan else fake.get("original_video_id"),
                "orphan_fake": orphan,
                "target_actor_id": target,
                "target_from": target_from,
                "donor_actor_id": donor,
                "donor_source": donor_source.value,
                "donor_hint": donor_hint,
                "candidate_actor_id": candidate,
                "target_distance": _distance(vector, target, centroids),
                "donor_distance": _distance(vector, donor or candidate, centroids),
                "margin": match.margin if match else None,
                "similarity": match.similarity if match else None,
                "face_agrees": (match.accepted and match.candidate == donor)
                if match and donor_source == DonorSource.METADATA
                else None,
                "n_faces_embedded": n_faces,
                "model": model,
            }
        )
    if not rows:
        return pl.DataFrame(schema=FAKE_IDENTITY_SCHEMA)
    return pl.DataFrame(rows, schema=FAKE_IDENTITY_SCHEMA).sort("source", "video_id")
