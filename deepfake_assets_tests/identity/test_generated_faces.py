"""Entire-face synthesis (StyleGAN, PGGAN, ...) shows nobody real: on hand-made tables, a
generated face right next to a real person's faces never joins actor clustering, never chains
two people, never gets a donor from its face and keeps a pseudo-actor of its own; a name the
dataset gives is still used, and swaps / attribute edits are matched as before."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from deepfake_assets.identity.actors import cluster_actors, cluster_params
from deepfake_assets.identity.donors import DonorParams, TrackMeans, identities_from_tables
from deepfake_assets.identity.embed_tasks import embedding_inputs, embedding_rows
from deepfake_assets.sources import methods
from deepfake_assets.sources.dffd import DEFAULT_FOLDERS
from deepfake_assets.sources.methods import (
    is_entire_face_synthesis,
    is_identity_swap,
    synthesis_rows,
)
from deepfake_assets.splits import swaps
from deepfake_assets.splits.dataset import faces_for_splitting, fake_identity_pairs
from deepfake_assets.splits.swaps import unknown_donor_faces

MODEL = "dlib-resnet-v1"


def _at(degrees: float) -> list[float]:
    """A unit vector at this angle: with eps 0.2 (cosine), 35 degrees apart are neighbours
    (distance 0.18) and 70 apart are not (0.66)."""
    r = math.radians(degrees)
    return [math.cos(r), math.sin(r), 0.0]


# video -> (label, method, angle, actor_hint, donor_hint)
ITEMS: dict[str, tuple[str, str | None, float, str | None, str | None]] = {
    "real_a0": ("REAL", None, 0.0, None, None),
    "real_a1": ("REAL", None, 2.0, None, None),
    "real_b0": ("REAL", None, 70.0, None, None),
    "real_b1": ("REAL", None, 72.0, None, None),
    # between A and B: were it clustered, it would chain them into one person
    "gen_bridge": ("FAKE", "StyleGAN2", 35.0, None, None),
    # right on A's faces: were it clustered or face-matched, A would be its donor
    "gen_near_a": ("FAKE", "pggan_v1", 1.0, None, None),
    # a generated image whose manifest names the donor: the name is used
    "gen_named": ("FAKE", "stylegan", 1.5, None, "b"),
    # a generated image whose manifest names the person it stands for (target)
    "gen_actor": ("FAKE", "StyleGAN3", 1.0, "a", None),
    # a swap whose original is missing, on B's faces: clustered and matched as before
    "swap_orphan": ("FAKE", "Deepfakes", 71.0, None, None),
    # an attribute edit of a photo of A whose original is missing: a real person, as before
    "edit_orphan": ("FAKE", "faceapp", 0.5, None, None),
}
GENERATED = ("gen_bridge", "gen_near_a", "gen_named", "gen_actor")


def _tables() -> dict[str, pl.DataFrame]:
    names = list(ITEMS)
    hint_of = {"real_a0": "a", "real_a1": "a", "real_b0": "b", "real_b1": "b"}
    videos = pl.DataFrame(
        {
            "source": ["s"] * len(names),
            "video_id": names,
            "label": [ITEMS[v][0] for v in names],
            "method": [ITEMS[v][1] for v in names],
            "original_video_id": [None] * len(names),
            "orphan_fake": [ITEMS[v][0] == "FAKE" for v in names],
            "actor_hint": [hint_of.get(v, ITEMS[v][3]) for v in names],
            "donor_hint": [ITEMS[v][4] for v in names],
            "status": ["ok"] * len(names),
            "gender": [None] * len(names),
            "age": [None] * len(names),
            "race": [None] * len(names),
            "official_split": [None] * len(names),
            "test_only": [False] * len(names),
        },
        schema_overrides={
            "original_video_id": pl.Utf8, "actor_hint": pl.Utf8, "donor_hint": pl.Utf8,
            "gender": pl.Utf8, "age": pl.Utf8, "race": pl.Utf8, "official_split": pl.Utf8,
        },
    )  # fmt: skip
    roles = videos.select(
        "source",
        "video_id",
        role=pl.when(pl.col("label") == "REAL")
        .then(pl.lit("real"))
        .otherwise(pl.lit("orphan_fake")),
    )
    faces = pl.DataFrame(
        {
            "face_id": [f"s/{v}/{i:06d}/0" for v in names for i in range(2)],
            "source": ["s"] * (2 * len(names)),
            "video_id": [v for v in names for _ in range(2)],
            "frame_index": [i for _ in names for i in range(2)],
            "track": pl.Series([0] * (2 * len(names)), dtype=pl.Int32),
            "label": [ITEMS[v][0] for v in names for _ in range(2)],
            "interpolated": [False] * (2 * len(names)),
            "crop_160": [f"faces/{v}/{i}.png" for v in names for i in range(2)],
        }
    )
    return {"videos": videos, "roles": roles, "faces": faces}


def _embeddings(faces: pl.DataFrame) -> pl.DataFrame:
    """Every face of ``faces`` with its item's vector (as `face_embeddings` would write)."""
    vectors = np.asarray([_at(ITEMS[v][2]) for v in faces["video_id"]], np.float32)
    return embedding_rows(faces, MODEL, vectors)


def _run(embeddings: pl.DataFrame, t: dict[str, pl.DataFrame]):
    params = cluster_params(MODEL, "dbscan_cosine", 0.2, 2)
    run = cluster_actors(embeddings, t["videos"], t["roles"], t["faces"], params)
    identities = identities_from_tables(
        t["videos"],
        run.video_actors,
        embeddings,
        embeddings.head(0),
        TrackMeans.empty(),  # no rebuilt donor faces: those need an original
        DonorParams(min_target_shift=0.30, min_margin=0.10),
    )
    return run, identities


def _check(embeddings: pl.DataFrame, t: dict[str, pl.DataFrame]) -> None:
    run, identities = _run(embeddings, t)
    actor = dict(run.video_actors.select("video_id", "actor_id").iter_rows())
    # A and B stay two people: the generated face between them does not chain them
    assert actor["real_a0"] == actor["real_a1"] != actor["real_b0"] == actor["real_b1"]
    # swaps and edits of real people are clustered as before
    assert actor["swap_orphan"] == actor["real_b0"] and actor["edit_orphan"] == actor["real_a0"]
    clustered = set(run.tracks["video_id"])
    assert not clustered & set(GENERATED)
    for v in GENERATED:  # a pseudo-actor of its own, one per image
        assert actor[v] == f"pseudo:s:{v}", (v, actor[v])
    rows = {r["video_id"]: r for r in identities.to_dicts()}
    for v in ("gen_bridge", "gen_near_a"):
        row = rows[v]
        assert row["target_actor_id"] == f"pseudo:s:{v}" and row["target_from"] == "pseudo"
        assert row["donor_actor_id"] is None and row["donor_source"] == "none", row
        assert row["candidate_actor_id"] is None, row
    # a donor the manifest names is used as for any fake
    named = rows["gen_named"]
    assert named["donor_actor_id"] == actor["real_b0"] and named["donor_source"] == "metadata"
    # ... and so is a named target, with no donor from its face
    by_name = rows["gen_actor"]
    assert (by_name["target_actor_id"], by_name["target_from"]) == (actor["real_a0"], "name")
    assert by_name["donor_actor_id"] is None and by_name["donor_source"] == "none"
    assert all(rows[v]["generated"] for v in GENERATED)
    assert not any(rows[v]["generated"] for v in ("swap_orphan", "edit_orphan"))
    # unchanged: the swap orphan's face names its donor (B), the edit's its person (A)
    assert rows["swap_orphan"]["donor_actor_id"] == actor["real_b0"]
    assert rows["edit_orphan"]["donor_actor_id"] == actor["real_a0"]
    # in the split: each generated face is its own person, linked to nobody real
    split = faces_for_splitting(
        t["faces"], t["videos"], run.video_actors, fake_identity_pairs(identities)
    )
    per = {r["video_id"]: r for r in split.unique("video_id").to_dicts()}
    real_people = {actor[v] for v in ("real_a0", "real_b0")}
    for v in ("gen_bridge", "gen_near_a"):
        assert per[v]["actor_id"] == f"pseudo:s:{v}" and per[v]["donor_actor_id"] is None
        assert per[v]["actor_id"] not in real_people
    assert per["gen_actor"]["actor_id"] == actor["real_a0"]  # the name the manifest gives
    # `unknown_donors: drop` never drops a generated face: it is not a swap
    dropped = split.filter(unknown_donor_faces(split))
    assert not set(dropped["video_id"]) & set(GENERATED)


def test_generated_faces_are_not_clustered_nor_donor_matched():
    """From the faces the embedding stage picks to the split's table."""
    t = _tables()
    wanted, fakes = embedding_inputs(t["faces"], t["roles"], 4, t["videos"])
    assert not set(wanted["video_id"]) & set(GENERATED)
    assert not set(fakes["video_id"]) & set(GENERATED)
    assert {"swap_orphan", "edit_orphan", "real_a0"} <= set(wanted["video_id"])
    _check(_embeddings(wanted), t)


def test_embeddings_of_generated_faces_from_an_older_catalog_are_left_out():
    """A catalog embedded before this rule holds generated faces in `embeddings`: clustering
    and the donor match leave them out all the same."""
    t = _tables()
    _check(_embeddings(t["faces"]), t)


@pytest.mark.parametrize(
    "method",
    ["stylegan", "StyleGAN2", "StyleGAN3", "stylegan2-ada", "StyleGAN-XL", "pggan_v1", "PGGAN_v2",
     "ProGAN", "generated", "Synthesised"],
)  # fmt: skip
def test_entire_face_synthesis_methods_are_recognised(method: str) -> None:
    assert is_entire_face_synthesis(method)
    assert not is_identity_swap(method)  # never dropped by `unknown_donors: drop`


@pytest.mark.parametrize(
    "method",
    ["faceapp", "StarGAN", "Face2Face", "Deepfakes", "FaceSwap", "celeb-synthesis", "DF-VAE",
     "some-new-method", None, "", " "],
)  # fmt: skip
def test_edits_swaps_and_unknown_methods_show_real_people(method: str | None) -> None:
    assert not is_entire_face_synthesis(method)


def test_splits_and_identity_share_one_classification() -> None:
    assert swaps.method_key is methods.method_key
    assert swaps.is_identity_swap is methods.is_identity_swap
    assert methods.ENTIRE_FACE_SYNTHESIS <= swaps.NOT_A_SWAP
    # DFFD's own folders of the family, as its table names them
    dffd = {r.method for r in DEFAULT_FOLDERS.values() if r.family == "entire_face_synthesis"}
    assert dffd and all(is_entire_face_synthesis(m) for m in dffd)


def test_synthesis_rows_need_a_fake_label_and_a_method_column() -> None:
    df = pl.DataFrame(
        {"label": ["FAKE", "REAL", "FAKE", "FAKE"], "method": ["StyleGAN2", "stylegan", None, "x"]}
    )
    assert df.select(synthesis_rows(df)).to_series().to_list() == [True, False, False, False]
    no_method = df.drop("method")
    assert not no_method.select(synthesis_rows(no_method)).to_series().any()
