"""Whose faces fakes show: targets and donors from dataset names and from face embeddings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deepfake_assets.identity.donors import (
    FAKE_IDENTITY_SCHEMA,
    Centroids,
    DonorParams,
    DonorSource,
    actor_centroids,
    fake_identities,
    match_donor,
    match_donors,
    pick_fake_faces,
    track_means,
)

DIM = 16
PARAMS = DonorParams(min_target_shift=0.30, min_margin=0.10)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.fixture
def people() -> dict[str, np.ndarray]:
    """Four people far apart (orthogonal directions, as different faces roughly are)."""
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(DIM, DIM)))[0]
    return {name: basis[i].astype(np.float32) for i, name in enumerate("ABCD")}


def _embeddings(rows: list[tuple[str, str, int, np.ndarray]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": [r[0] for r in rows],
            "video_id": [r[1] for r in rows],
            "track": [r[2] for r in rows],
            "embedding": [r[3].tolist() for r in rows],
        },
        schema_overrides={"track": pl.Int32},
    )


def _video_actors(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "source": pl.Utf8,
        "video_id": pl.Utf8,
        "label": pl.Utf8,
        "actor_id": pl.Utf8,
        "main_track": pl.Int64,
        "actor_hint": pl.Utf8,
        "original_video_id": pl.Utf8,
        "actor_source": pl.Utf8,
    }
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


def _fakes(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "source": pl.Utf8,
        "video_id": pl.Utf8,
        "original_video_id": pl.Utf8,
        "orphan_fake": pl.Boolean,
        "actor_hint": pl.Utf8,
        "donor_hint": pl.Utf8,
    }
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


def _world(people, noise: float = 0.05):
    """Two real videos per person (actor_A .. actor_D), slightly different each."""
    rng = np.random.default_rng(1)
    emb, actors = [], []
    for name, vec in people.items():
        for k in range(2):
            vid = f"real_{name}{k}"
            emb.append(("s", vid, 0, _unit(vec + noise * rng.normal(size=DIM))))
            actors.append(
                {
                    "source": "s",
                    "video_id": vid,
                    "label": "REAL",
                    "actor_id": f"actor_{name}",
                    "main_track": 0,
                    "actor_hint": f"s:{name.lower()}",
                    "actor_source": "cluster",
                }
            )
    return _embeddings(emb), actors


def _fake_actor(video: str, original: str, actor: str) -> dict:
    return {
        "source": "s",
        "video_id": video,
        "label": "FAKE",
        "actor_id": actor,
        "original_video_id": original,
        "actor_source": "original",
    }


def _by_video(table: pl.DataFrame) -> dict[str, dict]:
    return {r["video_id"]: r for r in table.to_dicts()}


def test_strong_swap_gets_its_donor_and_a_weak_blend_none(people):
    emb, actors = _world(people)
    a, b = people["A"], people["B"]
    fake_means = {
        ("s", "strong", 0): (_unit(0.45 * a + 0.9 * b), 4),  # B's face on A's head
        ("s", "weak", 0): (_unit(0.98 * a + 0.15 * b), 4),  # still looks like A
    }
    actors += [
        _fake_actor("strong", "real_A0", "actor_A"),
        _fake_actor("weak", "real_A0", "actor_A"),
    ]
    video_actors = _video_actors(actors)
    fakes = _fakes(
        [
            {"source": "s", "video_id": v, "original_video_id": "real_A0", "orphan_fake": False}
            for v in ("strong", "weak")
        ]
    )
    table = fake_identities(
        fakes, video_actors, actor_centroids(emb, video_actors), fake_means, PARAMS, "m"
    )
    assert table.schema == FAKE_IDENTITY_SCHEMA and table.height == 2
    rows = _by_video(table)
    strong, weak = rows["strong"], rows["weak"]
    assert strong["target_actor_id"] == "actor_A" and strong["target_from"] == "original"
    assert strong["donor_actor_id"] == "actor_B"
    assert strong["donor_source"] == DonorSource.EMBEDDING.value == "embedding"
    assert strong["target_distance"] > strong["donor_distance"]
    assert strong["margin"] >= PARAMS.min_margin
    # the weak blend moved towards B too, but less than A's own variation: no donor
    assert weak["candidate_actor_id"] == "actor_B" and weak["target_distance"] < 0.30
    assert weak["donor_actor_id"] is None and weak["donor_source"] == "none"


def test_a_swap_towards_two_people_at_once_is_not_attributed(people):
    """A fake that moved away from its target, but not towards any one actor more than
    another, must not invent a donor."""
    emb, actors = _world(people)
    video_actors = _video_actors(actors)
    centroids = actor_centroids(emb, video_actors)
    a, b, c = people["A"], people["B"], people["C"]
    ambiguous = match_donor(_unit(0.5 * a + 0.6 * b + 0.6 * c), "actor_A", centroids, PARAMS)
    assert ambiguous.target_distance > PARAMS.min_target_shift
    assert ambiguous.margin < PARAMS.min_margin and not ambiguous.accepted
    clear = match_donor(_unit(0.5 * a + 0.8 * b + 0.2 * c), "actor_A", centroids, PARAMS)
    assert clear.accepted and clear.candidate == "actor_B"


def test_dataset_names_give_donors_and_orphan_targets(people):
    """FF++-style pairs: the name's donor wins over faces; an orphan's target comes from its
    name; names of people with no face here become person: ids; unknown targets pseudo ones."""
    emb, actors = _world(people)
    a, b = people["A"], people["B"]
    actors += [
        _fake_actor("a_b", "real_A0", "actor_A"),
        _fake_actor("a_b_strong", "real_A0", "actor_A"),
        _fake_actor("a_c_says_b", "real_A0", "actor_A"),
        # orphan fakes were detected on: actor_clusters gave each the actor of its own face
        {"source": "s", "video_id": "orphan_c_d", "label": "FAKE", "actor_id": "actor_D",
         "main_track": 0, "actor_hint": "s:d", "actor_source": "cluster"},
        {"source": "s", "video_id": "orphan_x_y", "label": "FAKE", "actor_id": "actor_X",
         "main_track": 0, "actor_hint": "s:y", "actor_source": "cluster"},
    ]  # fmt: skip
    video_actors = _video_actors(actors)
    fakes = _fakes(
        [
            {"source": "s", "video_id": "a_b", "original_video_id": "real_A0",
             "orphan_fake": False, "actor_hint": "a", "donor_hint": "b"},
            {"source": "s", "video_id": "a_b_strong", "original_video_id": "real_A0",
             "orphan_fake": False, "actor_hint": "a", "donor_hint": "b"},
            {"source": "s", "video_id": "a_c_says_b", "original_video_id": "real_A0",
             "orphan_fake": False, "actor_hint": "a", "donor_hint": "c"},
            {"source": "s", "video_id": "orphan_c_d", "original_video_id": "gone_c",
             "orphan_fake": True, "actor_hint": "c", "donor_hint": "d"},
            {"source": "s", "video_id": "orphan_x_y", "original_video_id": "gone_x",
             "orphan_fake": True, "actor_hint": "x", "donor_hint": "y"},
        ]
    )  # fmt: skip
    means = {
        ("s", "a_b", 0): (_unit(0.98 * a + 0.15 * b), 4),  # weak, but the name says B
        ("s", "a_b_strong", 0): (_unit(0.45 * a + 0.9 * b), 4),
        ("s", "a_c_says_b", 0): (_unit(0.45 * a + 0.9 * b), 4),  # the name and the face differ
    }
    rows = _by_video(
        fake_identities(fakes, video_actors, actor_centroids(emb, video_actors), means, PARAMS)
    )
    pair = rows["a_b"]
    assert (pair["target_actor_id"], pair["donor_actor_id"]) == ("actor_A", "actor_B")
    assert pair["donor_source"] == "metadata" and pair["donor_hint"] == "s:b"
    # the face match runs too, as a check of the names: too weak here to confirm them
    assert pair["candidate_actor_id"] == "actor_B" and pair["face_agrees"] is False
    assert rows["a_b_strong"]["face_agrees"] is True
    says_b = rows["a_c_says_b"]  # the dataset's name wins; the disagreement is recorded
    assert says_b["donor_actor_id"] == "actor_C" and says_b["candidate_actor_id"] == "actor_B"
    assert says_b["face_agrees"] is False
    orphan = rows["orphan_c_d"]
    assert orphan["original_video_id"] is None and orphan["orphan_fake"]
    assert (orphan["target_actor_id"], orphan["target_from"]) == ("actor_C", "name")
    assert orphan["donor_actor_id"] == "actor_D" and orphan["donor_source"] == "metadata"
    # x and y have no real video: y's face was clustered on its own (actor_X)
    nobody = rows["orphan_x_y"]
    assert nobody["target_actor_id"] == "person:s:x"
    assert nobody["donor_actor_id"] == "actor_X"


def test_orphans_without_names(people):
    """DFDC-style orphans: a face that matched an actor's real videos gives that actor as donor
    and the fake a pseudo-actor as target; a face that matched nobody gives no donor."""
    emb, actors = _world(people)
    b = people["B"]
    stranger = _unit(np.ones(DIM, np.float32))
    emb = pl.concat(
        [emb, _embeddings([("s", "orph_b", 0, _unit(b + 0.03)), ("s", "orph_x", 0, stranger)])]
    )
    actors += [
        {"source": "s", "video_id": "orph_b", "label": "FAKE", "actor_id": "actor_B",
         "main_track": 0, "actor_source": "cluster"},
        {"source": "s", "video_id": "orph_x", "label": "FAKE", "actor_id": "actor_Z",
         "main_track": 0, "actor_source": "cluster"},
    ]  # fmt: skip
    video_actors = _video_actors(actors)
    fakes = _fakes(
        [
            {"source": "s", "video_id": v, "original_video_id": f"gone_{v}", "orphan_fake": True}
            for v in ("orph_b", "orph_x")
        ]
    )
    orphans = emb.filter(pl.col("video_id").str.starts_with("orph"))
    rows = _by_video(
        fake_identities(
            fakes, video_actors, actor_centroids(emb, video_actors), track_means(orphans), PARAMS
        )
    )
    matched, alone = rows["orph_b"], rows["orph_x"]
    assert matched["target_actor_id"] == "pseudo:s:orph_b" and matched["target_from"] == "pseudo"
    assert matched["donor_actor_id"] == "actor_B" and matched["donor_source"] == "embedding"
    assert matched["donor_distance"] < 0.35
    assert alone["target_actor_id"] == "pseudo:s:orph_x"
    assert alone["donor_actor_id"] is None and alone["donor_source"] == "none"
    assert alone["candidate_actor_id"] in {"actor_A", "actor_B", "actor_C", "actor_D"}
    # the orphans' own faces never pull an actor's centroid
    centroids = actor_centroids(emb, video_actors)
    assert set(centroids.ids) == {"actor_A", "actor_B", "actor_C", "actor_D"}


def test_no_fakes_is_an_empty_table_with_the_schema(people):
    emb, actors = _world(people)
    video_actors = _video_actors(actors)
    table = fake_identities(
        _fakes([]), video_actors, actor_centroids(emb, video_actors), {}, PARAMS
    )
    assert table.is_empty() and table.schema == FAKE_IDENTITY_SCHEMA


def test_pick_fake_faces_is_bounded_even_and_prefers_detected_faces():
    rows = []
    for n in (1, 3, 17):
        for i in range(n):
            rows.append(
                {
                    "source": "s",
                    "video_id": f"v{n}",
                    "track": 0,
                    "frame_index": 10 * i,
                    "interpolated": i == 1,
                }
            )
    faces = pl.DataFrame(rows)
    picked = pick_fake_faces(faces, 4)
    frames = {
        r["video_id"]: r["frame_index"]
        for r in picked.group_by("video_id").agg(pl.col("frame_index").sort()).to_dicts()
    }
    assert frames["v1"] == [0]
    assert frames["v3"] == [0, 10, 20]  # too few detected faces: the interpolated one too
    assert len(frames["v17"]) == 4 and frames["v17"][0] == 0 and frames["v17"][-1] == 160
    assert 10 not in frames["v17"]  # interpolated, and there are enough detected faces
    assert pick_fake_faces(faces, 0).is_empty()
    assert pick_fake_faces(faces, 1).height == 3


def test_orphan_tracks_carry_their_donors_hint_not_their_targets():
    """An orphan fake was detected on, so its track shows the donor: clustering must not merge
    it with its target by the target's name (regression: it took actor_hint, the target)."""
    from deepfake_assets.identity.actors import track_table

    emb = _embeddings(
        [
            ("celeb", "id1_0001", 0, _unit(np.eye(DIM, dtype=np.float32)[0])),
            ("celeb", "id1_id2_0002", 0, _unit(np.eye(DIM, dtype=np.float32)[1])),
        ]
    ).with_columns(pl.lit("m").alias("model"))
    videos = pl.DataFrame(
        {
            "source": ["celeb", "celeb"],
            "video_id": ["id1_0001", "id1_id2_0002"],
            "label": ["REAL", "FAKE"],
            "actor_hint": ["id1", "id1"],
            "donor_hint": [None, "id2"],
        }
    )
    hints = dict(zip(*track_table(emb, videos).select("video_id", "actor_hint"), strict=True))
    assert hints == {"id1_0001": "celeb:id1", "id1_id2_0002": "celeb:id2"}
    # a catalog written before donor hints: no column, no hint for the orphan
    old = track_table(emb, videos.drop("donor_hint"))
    assert old.filter(pl.col("video_id") == "id1_id2_0002")["actor_hint"].to_list() == [None]


def test_adapter_names_reach_the_actors_they_name(tmp_path, people):
    """From the FF++ / Celeb-DF adapters through actor clustering to fake_identities: a
    fake's donor name lands on the actor of that person's real videos, and an orphan's target
    name on its target's actor (the namespacing of track_table and of the donors agree)."""
    from deepfake_assets.identity.actors import track_table
    from deepfake_assets.identity.clustering import actor_assignment
    from deepfake_assets.sources import read_source
    from deepfake_assets.video_manifest import flag_orphan_fakes

    from ..sources.conftest import make_files

    make_files(
        tmp_path,
        [
            "Celeb-real/id0_0000.mp4",
            "Celeb-real/id1_0000.mp4",
            "Celeb-real/id1_0001.mp4",
            "Celeb-synthesis/id0_id1_0000.mp4",  # id1's face on id0's clip
            "Celeb-synthesis/id1_id0_0009.mp4",  # its original id1_0009 is missing
        ],
    )
    videos = flag_orphan_fakes(
        read_source(tmp_path).with_columns(pl.lit("celeb").alias("source"), status=pl.lit("ok"))
    )
    face_of = {"id0": people["A"], "id1": people["B"]}
    rows = [
        ("celeb", r["video_id"], 0, face_of[r["actor_hint"]])
        for r in videos.filter(pl.col("label") == "REAL").to_dicts()
    ]
    rows.append(("celeb", "id1_id0_0009", 0, _unit(0.3 * people["B"] + 0.95 * people["A"])))
    emb = _embeddings(rows).with_columns(pl.lit("dlib-resnet-v1").alias("model"))
    listed = videos.select(
        "source",
        "video_id",
        pl.when(pl.col("orphan_fake")).then(pl.lit("real")).otherwise(
            pl.col("label").str.to_lowercase()
        ).alias("label"),
        pl.when(pl.col("orphan_fake")).then(None).otherwise(pl.col("original_video_id"))
        .alias("original_video_id"),
    )  # fmt: skip
    video_actors = (
        actor_assignment(track_table(emb, videos), listed)
        .videos.drop("label")
        .join(videos.select("source", "video_id", "label"), on=["source", "video_id"])
    )
    actor_of = dict(zip(video_actors["video_id"], video_actors["actor_id"], strict=True))
    fakes = videos.filter(pl.col("label") == "FAKE").select(
        "source", "video_id", "original_video_id", "orphan_fake", "actor_hint", "donor_hint"
    )
    rows = _by_video(
        fake_identities(
            fakes, video_actors, actor_centroids(emb, video_actors), track_means(emb), PARAMS
        )
    )
    swap = rows["id0_id1_0000"]
    assert swap["target_actor_id"] == actor_of["id0_0000"]
    assert swap["donor_actor_id"] == actor_of["id1_0000"] == actor_of["id1_0001"]
    assert swap["donor_source"] == "metadata" and swap["donor_hint"] == "celeb:id1"
    orphan = rows["id1_id0_0009"]
    assert orphan["orphan_fake"] and orphan["original_video_id"] is None
    assert (orphan["target_actor_id"], orphan["target_from"]) == (actor_of["id1_0000"], "name")
    assert orphan["donor_actor_id"] == actor_of["id0_0000"]
    # the orphan's face (id0's) was clustered by its donor's name, never merged with id1
    assert actor_of["id1_id0_0009"] == actor_of["id0_0000"] != actor_of["id1_0000"]


def _reference_match(m, target, ids, c, params):
    """The face match written out per fake, one pass over the other actors (as it was)."""
    t = c[ids.index(target)]
    m = m / np.linalg.norm(m)
    others = [i for i, a in enumerate(ids) if a != target]
    away = m - (m @ t) * t
    away /= np.linalg.norm(away)
    rest = c[others] - np.outer(c[others] @ t, t)
    rest /= np.linalg.norm(rest, axis=1, keepdims=True)
    sims = rest @ away
    order = np.argsort(-sims, kind="stable")
    margin = sims[order[0]] - sims[order[1]]
    target_distance = np.sqrt(max(0.0, 2 - 2 * (m @ t)))
    accepted = target_distance >= params.min_target_shift and margin >= params.min_margin
    return ids[others[order[0]]], float(sims[order[0]]), float(margin), bool(accepted)


def test_batched_matches_equal_the_match_fake_by_fake_across_batches() -> None:
    """match_donors (matrix products per batch of fakes) gives what one pass per fake gives."""
    rng = np.random.default_rng(3)
    n_actors, n_fakes = 40, 1100  # more fakes than one batch
    c = rng.normal(size=(n_actors, DIM))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    ids = [f"actor_{i}" for i in range(n_actors)]
    centroids = Centroids(tuple(ids), c.astype(np.float32))
    targets = [ids[i] for i in rng.integers(0, n_actors, n_fakes)]
    donors = rng.integers(0, n_actors, n_fakes)
    mix = rng.uniform(0.2, 0.9, (n_fakes, 1))
    vectors = (1 - mix) * c[[ids.index(t) for t in targets]] + mix * c[donors]
    vectors += rng.normal(scale=0.05, size=vectors.shape)
    batched = match_donors(vectors, targets, centroids, PARAMS)
    assert len(batched) == n_fakes
    c32 = c.astype(np.float32).astype(np.float64)
    for got, m, target in zip(batched, vectors, targets, strict=True):
        candidate, similarity, margin, accepted = _reference_match(m, target, ids, c32, PARAMS)
        assert got.candidate == candidate
        # the products run in float32: ~1e-6 of the float64 reference
        assert got.similarity == pytest.approx(similarity, abs=1e-5)
        assert got.margin == pytest.approx(margin, abs=1e-5)
        assert got.accepted == accepted or abs(margin - PARAMS.min_margin) < 1e-5
    alone = match_donor(vectors[0], targets[0], centroids, PARAMS)
    assert alone.candidate == batched[0].candidate and alone.accepted == batched[0].accepted
    assert alone.margin == pytest.approx(batched[0].margin, abs=1e-5)
