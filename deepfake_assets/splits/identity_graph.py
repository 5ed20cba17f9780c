"""The identity graph: which people a face shows, and which of them must share a split.

Nodes are actors (a ``_actor_key``: ``a:<actor_id>``, or a pseudo-actor ``v:<source>\\x1f<family>``
for faces of a video family with no known actor) and video families (an original video and all
its fakes). Edges say "this person's face is in this family":

- ``main``: the face's own actor (a real video's main track; a fake's target, its original's
  actor, which is why a fake never leaves its original);
- ``second``: the second person of a two-person real video (``second_actor_id``; its fakes
  inherit it), whose face is exported too;
- ``donor``: for a face-swap fake, the person whose face was pasted (``donor_actor_id``).
  A donor with no face of its own among the faces given (a ``person:`` the dataset names
  but whose videos are not here, or whose faces went to another split before folding) is
  an edge even when the other donor edges are left out (`DonorEdges.FACELESS`, for
  ``drop_bridging``): it has no group of its own to be placed with, so, as an actor's faces
  do, it ties together the families where its face appears. Only ``donors: ignore``
  (`DonorEdges.NONE`, seed 001's rule) has no donor edge at all.

A connected component of this graph holds every face of every person in it, so placing whole
components never shows one person on two sides. Donor edges make components large when swaps are
dense (DFDC swaps between many people), so they are optional here: `components` can be asked to
leave them out, and `bridging_fakes` then lists the fakes whose donor sits in another component;
the placement decides which of those to drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "DonorEdges",
    "DonorPolicy",
    "GraphStats",
    "identity_edges",
    "components",
    "graph_stats",
    "bridging_fakes",
    "donors_merge_groups",
]


class DonorPolicy(str, Enum):
    """What a fake's donor does to the split.

    GROUP: the donor is tied to the fake's group (strict; one person never on two sides).
    DROP_BRIDGING: groups are placed without donor edges, then fakes whose donor landed in
        another split are dropped (as few as the placement can manage), each recorded.
    IGNORE: donors play no part (seed 001's rule); the donor's face may be on both sides.
    """

    GROUP = "group"
    DROP_BRIDGING = "drop_bridging"
    IGNORE = "ignore"


class DonorEdges(str, Enum):
    """Which donor edges the graph gets: ALL (``group``), FACELESS (only donors with no face
    among the faces given: ``drop_bridging``, which drops the fakes bridging the others), NONE
    (``ignore``: a donor ties nothing, seed 001's rule exactly)."""

    ALL = "all"
    FACELESS = "faceless"
    NONE = "none"

    @classmethod
    def of(cls, donors: bool | DonorEdges | DonorPolicy) -> DonorEdges:
        """True -> ALL, False -> FACELESS (donor edges left out, faceless donors kept), and a
        policy -> the edges its placement uses (GROUP before any fallback -> ALL)."""
        if isinstance(donors, DonorEdges):
            return donors
        if isinstance(donors, DonorPolicy):
            return {
                DonorPolicy.GROUP: cls.ALL,
                DonorPolicy.DROP_BRIDGING: cls.FACELESS,
                DonorPolicy.IGNORE: cls.NONE,
            }[donors]
        return cls.ALL if donors else cls.FACELESS


@dataclass(frozen=True)
class GraphStats:
    """Size of the identity graph over the faces given (every edge kind, donors included)."""

    n_components: int
    largest_component_faces: int
    largest_component_share: float
    n_actors: int
    n_second_links: int
    n_donor_links: int

    def as_dict(self) -> dict:
        return {
            "components": self.n_components,
            "largest_component_faces": self.largest_component_faces,
            "largest_component_share": round(self.largest_component_share, 4),
            "actors": self.n_actors,
            "second_person_links": self.n_second_links,
            "donor_links": self.n_donor_links,
        }


def _key(col: str) -> pl.Expr:
    return (pl.lit("a:") + pl.col(col).cast(pl.Utf8)).alias("_actor_key")


def identity_edges(df: pl.DataFrame, *, donors: bool | DonorEdges) -> pl.DataFrame:
    """Distinct (``_actor_key``, ``_family``, kind) edges of the faces in `df` (needs the
    internal columns of `groups.prepare_faces`, and optionally ``second_actor_id`` and
    ``donor_actor_id``). `donors` (`DonorEdges.of`): which donor edges; False keeps only the
    donors with no face in `df`, `DonorEdges.NONE` none."""
    edges = DonorEdges.of(donors)
    parts = [df.select("_actor_key", "_family", pl.lit("main").alias("kind"))]
    for col, kind in (("second_actor_id", "second"), ("donor_actor_id", "donor")):
        if col not in df.columns or (kind == "donor" and edges is DonorEdges.NONE):
            continue
        linked = df.filter(pl.col(col).is_not_null()).select(
            _key(col), "_family", pl.lit(kind).alias("kind")
        )
        if kind == "donor" and edges is DonorEdges.FACELESS:
            # a donor with no face of its own here (a `person:` the dataset names, or an actor
            # whose faces are elsewhere) has no group to be placed with: its fakes' families
            # are tied by it as an actor's faces tie theirs, else they could land apart
            linked = linked.join(df.select("_actor_key").unique(), on="_actor_key", how="anti")
        parts.append(linked)
    return pl.concat(parts).unique()


def components(df: pl.DataFrame, *, donors: bool | DonorEdges) -> pl.DataFrame:
    """Every actor node -> ``_a`` (dense index, actors sorted) and ``group_id`` (its component).

    Components that hold faces are numbered 0.. in the order of their smallest face actor key,
    so ids are dense over the groups that get assigned and independent of row order; actors that
    only appear as a second person or a donor (no faces of their own here) come after.
    """
    edges = identity_edges(df, donors=donors).select("_actor_key", "_family").unique()
    actors = edges.select("_actor_key").unique().sort("_actor_key").with_row_index("_a")
    fams = edges.select("_family").unique().sort("_family").with_row_index("_f")
    e = edges.join(actors, on="_actor_key").join(fams, on="_family")
    n_a, n_f = actors.height, fams.height
    a = e["_a"].to_numpy().astype(np.int64)
    f = e["_f"].to_numpy().astype(np.int64) + n_a
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, f)), shape=(n_a + n_f, n_a + n_f))
    _, labels = connected_components(graph, directed=False)
    comp = labels[:n_a].astype(np.int64)
    has_faces = actors["_actor_key"].is_in(df["_actor_key"].unique().implode()).to_numpy()
    # first actor (in key order) of each component, face actors before the others
    rank_key = np.where(has_faces, 0, 1) * (n_a + 1) + np.arange(n_a)
    first = np.full(int(comp.max()) + 1 if n_a else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, comp, rank_key)
    order = np.argsort(first, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    return actors.with_columns(pl.Series("group_id", remap[comp], dtype=pl.Int64))


def graph_stats(df: pl.DataFrame) -> GraphStats:
    """Components of the full graph (donor edges included) and the largest one's share."""
    if df.is_empty():
        return GraphStats(0, 0, 0.0, 0, 0, 0)
    nodes = components(df, donors=True)
    per_face = df.select("_actor_key").join(nodes, on="_actor_key", how="left")
    sizes = per_face.group_by("group_id").len()
    largest = int(sizes["len"].max() or 0)
    edges = identity_edges(df, donors=True)
    kinds = dict(edges.group_by("kind").len().iter_rows())
    return GraphStats(
        n_components=sizes.height,
        largest_component_faces=largest,
        largest_component_share=largest / df.height,
        n_actors=int(df["_actor_key"].n_unique()),
        n_second_links=int(kinds.get("second", 0)),
        n_donor_links=int(kinds.get("donor", 0)),
    )


def donors_merge_groups(df: pl.DataFrame, grouped: pl.DataFrame) -> bool:
    """Whether donor edges join groups: `grouped` (with donor edges) has fewer groups than
    the components of `df` without them. Only then can falling back to dropping help."""
    without = components(df, donors=False)
    faces = without.join(df.select("_actor_key").unique(), on="_actor_key", how="semi")
    return grouped["group_id"].n_unique() < faces["group_id"].n_unique()


# the columns of `bridging_fakes`: a fake whose donor's group differs from its own
BRIDGE_SCHEMA = {
    "_video": pl.UInt64,
    "source": pl.Utf8,
    "video_id": pl.Utf8,
    "donor_actor_id": pl.Utf8,
    "group_id": pl.Int64,
    "donor_group": pl.Int64,
    "n_faces": pl.UInt32,
    "test_only": pl.Boolean,
}


def bridging_fakes(df: pl.DataFrame, nodes: pl.DataFrame) -> pl.DataFrame:
    """Fake videos whose donor's group (in `nodes`, components without donor edges) differs from
    their own: ``_video``, source, video_id, donor_actor_id, group_id (the fake's), donor_group,
    n_faces, test_only. A donor with no faces in `df` is in its fakes' group (`identity_edges`
    ties them), so its fakes are never bridges."""
    schema = BRIDGE_SCHEMA
    if "donor_actor_id" not in df.columns:
        return pl.DataFrame(schema=schema)
    face_groups = df.select("group_id").unique()
    donor_groups = nodes.select(pl.col("_actor_key"), pl.col("group_id").alias("donor_group")).join(
        face_groups.rename({"group_id": "donor_group"}), on="donor_group", how="semi"
    )
    fakes = (
        df.filter(pl.col("donor_actor_id").is_not_null())
        .group_by("_video")
        .agg(
            pl.col("source").first(),
            pl.col("video_id").first(),
            pl.col("donor_actor_id").first(),
            pl.col("group_id").first(),
            pl.len().cast(pl.UInt32).alias("n_faces"),
            pl.col("test_only").any(),
        )
        .with_columns(_key("donor_actor_id"))
        .join(donor_groups, on="_actor_key", how="inner")
        .filter(pl.col("donor_group") != pl.col("group_id"))
        .drop("_actor_key")
    )
    return fakes.select(list(schema)).cast(schema).sort("source", "video_id", nulls_last=True)
