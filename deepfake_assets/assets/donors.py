"""Whose faces a fake shows: its target and its donor, over every source (`fake_identities`).

The matching lives in `identity/donors.py`; this asset reads the catalog, calls it, writes the
table and shows what it found.
"""

import dagster as dg
import numpy as np
import polars as pl

from deepfake_assets.assets import metadata as md
from deepfake_assets.jobs import DATASET
from deepfake_assets.media.images import ImageIOError, read_png
from deepfake_assets.resources import DataDirResource


class FakeIdentityConfig(dg.Config):
    """Acceptance of a face-inferred donor; None = the measured default of the embedder."""

    min_target_shift: float | None = None
    min_margin: float | None = None


def _fakes(videos: pl.DataFrame) -> pl.DataFrame:
    for col in ("donor_hint", "orphan_fake"):
        if col not in videos.columns:  # catalogs written before donor hints
            videos = videos.with_columns(pl.lit(None, pl.Utf8).alias(col))
    return videos.filter((pl.col("label") == "FAKE") & (pl.col("status") == "ok")).select(
        "source",
        "video_id",
        "original_video_id",
        pl.col("orphan_fake").cast(pl.Boolean).fill_null(False),
        "actor_hint",
        "donor_hint",
    )


def _first_faces(faces: pl.DataFrame) -> pl.DataFrame:
    """The first crop of every (source, video, track)."""
    return faces.group_by("source", "video_id", "track").agg(
        pl.col("crop_160").sort_by("frame_index").first()
    )


def donors_picture(identities: pl.DataFrame, video_actors, faces, data_dir, n: int = 6):
    """A few fakes, each beside a real face of its target and of its donor."""
    from deepfake_assets.faces.figures import grid

    firsts = _first_faces(faces)
    real = video_actors.filter((pl.col("label") == "REAL") & pl.col("actor_id").is_not_null())
    actor_face = (
        real.join(
            firsts,
            left_on=["source", "video_id", "main_track"],
            right_on=["source", "video_id", "track"],
        )
        .sort("source", "video_id")
        .unique("actor_id", keep="first")
    )
    face_of = dict(zip(actor_face["actor_id"], actor_face["crop_160"], strict=True))
    fake_face = (
        firsts.sort("track")
        .unique(["source", "video_id"], keep="first")
        .select("source", "video_id", pl.col("crop_160").alias("fake_crop"))
    )
    shown = (
        identities.filter(pl.col("donor_actor_id").is_not_null())
        .join(fake_face, on=["source", "video_id"])
        .filter(
            pl.col("target_actor_id").is_in(list(face_of))
            & pl.col("donor_actor_id").is_in(list(face_of))
        )
        .sort(["donor_source", "source", "video_id"])
        .head(n)
    )
    rows, labels = [], []
    for r in shown.to_dicts():
        try:
            tiles = [
                read_png(data_dir / p)
                for p in (
                    r["fake_crop"],
                    face_of[r["target_actor_id"]],
                    face_of[r["donor_actor_id"]],
                )
            ]
        except ImageIOError:
            continue
        rows.append(tiles)
        labels.append(f"{r['donor_source']} {r['video_id']}")
    return grid(rows, labels, label_width=170) if rows else None


@dg.asset(
    group_name="identity",
    tags=DATASET,
    deps=["actor_clusters", "face_embeddings"],
    kinds={"python", "parquet"},
    owners=["team:ml-research"],
    description=(
        "One row per fake video over every source: its target (the original's actor, or the "
        "target its file name gives when the original is missing, or a pseudo-actor of its "
        "own) and its donor, the person whose face it shows: from the dataset's names "
        "(`donor_source` metadata) or from its face (embedding: the fake's track moved away "
        "from its target towards one actor by a margin; thresholds measured on the demo), with "
        "the distances. Catalog table `fake_identities`."
    ),
)
def fake_identities(
    context: dg.AssetExecutionContext, config: FakeIdentityConfig, data: DataDirResource
) -> dg.MaterializeResult:
    from deepfake_assets.identity import donors

    catalog = data.catalog()
    video_actors = catalog.read("video_actors")
    if video_actors.is_empty():
        raise dg.Failure("no actors yet: materialise `actor_clusters` first")
    embeddings = catalog.read("embeddings")
    fake_embeddings = catalog.read("fake_embeddings")
    model = embeddings["model"][0] if embeddings.height else None
    if fake_embeddings.height and set(fake_embeddings["model"].unique()) != {model}:
        raise dg.Failure(
            "fake_embeddings and embeddings come from different models: re-materialise "
            "`face_embeddings` of every source"
        )
    params = donors.default_donor_params(
        model, min_target_shift=config.min_target_shift, min_margin=config.min_margin
    )
    fakes = _fakes(catalog.read("videos"))
    orphans = fakes.filter(pl.col("orphan_fake")).select("source", "video_id")
    means = donors.track_means(fake_embeddings)
    if embeddings.height and orphans.height:
        means.update(donors.track_means(embeddings.join(orphans, on=["source", "video_id"])))
    centroids = donors.actor_centroids(embeddings, video_actors)
    table = donors.fake_identities(fakes, video_actors, centroids, means, params, model)
    catalog.write("fake_identities", table)

    with_donor = table.filter(pl.col("donor_actor_id").is_not_null())
    considered = table.filter(pl.col("margin").is_not_null())
    metadata = {
        "num_fakes": table.height,
        "num_with_donor": with_donor.height,
        "num_orphan_fakes": int(table["orphan_fake"].sum()) if table.height else 0,
        "donors_by_source": md.counts(table, "source", "donor_source"),
        "targets_by_origin": md.counts(table, "target_from"),
        "model": model,
        "min_target_shift": params.min_target_shift,
        "min_margin": params.min_margin,
        "face_matched_fakes": considered.height,
        "face_matches_refused": considered.filter(pl.col("donor_source") == "none").height,
        # where a dataset names donors, how often the face match found the same person
        "face_agrees_with_names": md.counts(
            table.filter(pl.col("face_agrees").is_not_null()), "source", "face_agrees"
        ),
        "fake_identities": md.table(table, limit=30),
    }
    if considered.height:
        metadata["target_distance_median"] = float(
            np.median(considered["target_distance"].to_numpy())
        )
    picture = donors_picture(table, video_actors, catalog.read("faces"), data.path())
    if picture is not None:
        metadata["fakes_target_donor"] = dg.MetadataValue.md(
            "fake | target's real face | donor's real face\n\n"
            + md.png_markdown(picture, "fakes, targets and donors")
        )
    context.log.info(
        f"{with_donor.height} of {table.height} fakes have a donor "
        f"({md.counts(table, 'donor_source')})"
    )
    return dg.MaterializeResult(metadata=metadata)
