"""The whole graph on the demo dataset (its videos and its image source together): every asset,
every check green, the export readable."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from deepfake_assets import cli
from deepfake_assets.export.info import INFO_COLUMNS
from deepfake_assets.splits import validation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graph(demo_graph):
    """The session's whole-graph run of the demo (conftest.py), shared with the export tests."""
    return demo_graph


def test_materialize_succeeds_with_every_blocking_check_green(graph):
    assert graph["rc"] == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(graph["root"] / "home"))
        instance = dg.DagsterInstance.get()
        runs = instance.get_runs()
        assert {r.job_name for r in runs} == {"ingest_source", "build_dataset"}
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        for key in (dg.AssetKey("fold_splits"), dg.AssetKey("exported_dataset")):
            assert instance.get_latest_materialization_event(key) is not None
        # every crop and mask was verified by its writer: the file check read none of them
        check = dg.AssetCheckKey(dg.AssetKey("exported_dataset"), "crop_and_mask_files_decode")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])
        evaluation = record[check].event.dagster_event.event_specific_data
        found = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
        assert evaluation.passed and found["num_files"] > 0
        assert found["num_verified_when_written"] == found["num_files"]
        assert (found["num_structure_read_now"], found["num_decoded_now"]) == (0, 0)


def test_every_hostile_entry_is_a_recorded_row(graph):
    catalog = graph["catalog"]
    videos = catalog.read("videos", "demo")
    face_videos = catalog.read("face_videos", "demo")
    by_path = {r["rel_path"]: r for r in videos.to_dicts()}
    by_video = {r["video_id"]: r for r in face_videos.to_dicts()}
    expected = {"missing_file": "missing", "corrupt": "unreadable"}
    for entry in graph["truth"]["hostile"]:
        row = by_path[f"{entry['part']}/{entry['key']}"]
        if entry["kind"] in expected:
            assert row["status"] == expected[entry["kind"]], entry
        elif entry["kind"] == "path_escape":
            assert row["status"] in {"rejected", "missing"}, entry
        elif entry["kind"] == "orphan_fake":
            assert row["orphan_fake"] and by_video[row["video_id"]]["role"] == "orphan_fake"
        elif entry["kind"] == "no_face":
            assert by_video[row["video_id"]]["status"] == "discarded"
            assert by_video[row["video_id"]]["reason"] == "no_face"
            # a coffee cup in every frame: every try stopped at its first frame
            no_face = by_video[row["video_id"]]
            assert no_face["tries_stopped_early"] == no_face["tries"] >= 1
    assert videos.filter(pl.col("rel_path").str.contains("../../", literal=True))[
        "status"
    ].to_list() == ["rejected"]
    reals = face_videos.filter(pl.col("role") == "real")
    assert reals.filter(pl.col("status") == "ok").height == reals.height - 1  # the coffee cup


def test_every_hostile_entry_has_the_catalog_values_the_demo_table_expects(graph):
    """`demo.HOSTILE_CASES` says as typed values what the catalog must say of each hostile
    entry (videos' status and orphan flag, face_videos' status, role and reason_code); the
    truth file carries them and the run's catalog has exactly those."""
    from deepfake_assets.demo import HOSTILE_CASES, CatalogExpect

    catalog = graph["catalog"]
    videos = {r["rel_path"]: r for r in catalog.read("videos", "demo").to_dicts()}
    faces = {r["video_id"]: r for r in catalog.read("face_videos", "demo").to_dicts()}
    hostile = graph["truth"]["hostile"]
    cases = {(c.kind, c.made): c for c in HOSTILE_CASES}
    assert sorted((h["kind"], h["made"]) for h in hostile) == sorted(cases)
    for entry in hostile:
        expect = cases[entry["kind"], entry["made"]].expect
        assert entry["expect"] == expect.as_json(), entry
        row = videos[f"{entry['part']}/{entry['key']}"]
        face = faces.get(row["video_id"], {})
        seen = CatalogExpect(
            video_status=row["status"],
            orphan_fake=bool(row["orphan_fake"]),
            face_status=face.get("status"),
            role=face.get("role"),
            reason_code=face.get("reason_code"),
        )
        assert seen == expect, (entry, row, face)


def test_actors_match_the_true_identities(graph):
    catalog = graph["catalog"]
    truth = {
        path: v["identity"]
        for path, v in graph["truth"]["videos"].items()
        if v["label"] == "REAL" and v.get("identity") and v["expect"] == "ok"
    }
    videos = catalog.read("videos").select("source", "video_id", "rel_path")
    actors = catalog.read("video_actors").join(videos, on=["source", "video_id"])
    pairs = [
        (truth[r["rel_path"]], r["actor_id"])
        for r in actors.to_dicts()
        if r["rel_path"] in truth and r["actor_id"] is not None
    ]
    assert len(pairs) == len(truth)
    assert adjusted_rand_score([p[0] for p in pairs], [p[1] for p in pairs]) >= 0.95
    identities_per_actor = collections.defaultdict(set)
    for identity, actor in pairs:
        identities_per_actor[actor].add(identity)
    assert all(len(ids) == 1 for ids in identities_per_actor.values())  # nobody merged
    # every fake inherits its original's actor
    fakes = actors.filter(pl.col("label") == "FAKE").drop_nulls("original_video_id")
    originals = actors.select(
        "source",
        pl.col("video_id").alias("original_video_id"),
        pl.col("actor_id").alias("original_actor"),
    )
    joined = fakes.join(originals, on=["source", "original_video_id"])
    assert joined.height > 0
    assert (joined["actor_id"] == joined["original_actor"]).all()


def test_donors_inferred_from_faces_agree_with_the_truth(graph):
    """The demo (DFDC layout) never names donors: every donor here comes from the fakes' faces,
    their own (`embedding`) or the donor's rebuilt from fake - original (`residual`). Every
    inferred donor is the true one, at every blend strength (a wrong donor would merge people
    needlessly); most strong and medium donors are found, and weak blends (alpha 0.35), whose
    own faces still look like their target, get theirs only from the rebuild."""
    catalog = graph["catalog"]
    by_path = graph["truth"]["videos"]
    videos = catalog.read("videos").select("source", "video_id", "rel_path", "status", "label")
    identity_of = {}
    for r in catalog.read("video_actors").join(videos, on=["source", "video_id"]).to_dicts():
        entry = by_path.get(r["rel_path"])
        if r["label"] == "REAL" and r["actor_id"] and entry and entry.get("identity"):
            identity_of[r["actor_id"]] = entry["identity"]
    videos = videos.filter(pl.col("source") == "demo")
    table = catalog.read("fake_identities").join(
        videos.select("source", "video_id", "rel_path"), on=["source", "video_id"]
    )
    ok_fakes = videos.filter((pl.col("label") == "FAKE") & (pl.col("status") == "ok"))
    assert table.height == ok_fakes.height == table.select("source", "video_id").n_unique()
    # DFDC names none
    assert set(table["donor_source"].unique()) <= {"embedding", "residual", "none"}
    by_alpha = collections.defaultdict(lambda: {"n": 0, "found": 0, "right": 0})
    for r in table.to_dicts():
        entry = by_path[r["rel_path"]]
        if r["orphan_fake"]:
            assert r["original_video_id"] is None
            assert r["target_actor_id"] == f"pseudo:{r['source']}:{r['video_id']}"
            continue
        assert identity_of[r["target_actor_id"]] == entry["target_identity"]
        tally = by_alpha[entry["alpha"]]
        tally["n"] += 1
        if r["donor_actor_id"] is not None:
            tally["found"] += 1
            tally["right"] += identity_of.get(r["donor_actor_id"]) == entry["donor_identity"]
    strong, medium, weak = by_alpha[0.9], by_alpha[0.6], by_alpha[0.35]
    assert strong["n"] >= 10 and weak["n"] >= 10
    assert all(t["right"] == t["found"] for t in by_alpha.values()), dict(by_alpha)
    assert strong["found"] >= 0.66 * strong["n"], dict(by_alpha)
    assert medium["found"] >= 0.66 * medium["n"], dict(by_alpha)
    assert weak["found"] >= 0.4 * weak["n"], dict(by_alpha)  # 7 of 12 on the demo
    weak_sources = {
        r["donor_source"]
        for r in table.to_dicts()
        if r["donor_actor_id"] and by_path[r["rel_path"]].get("alpha") == 0.35
    }
    assert weak_sources <= {"residual"}


def test_splits_are_actor_disjoint_and_fakes_follow_originals(graph):
    splits = graph["catalog"].read("splits")
    assert set(splits["split"].unique()) == {"train", "val", "test"}
    assert validation.actors_in_two_splits(splits).is_empty()
    assert validation.fakes_outside_original_split(splits).is_empty()
    assert validation.actors_in_two_folds(graph["catalog"].read("folds")).is_empty()
    # the demo's videos are sampled with `balanced`: as many real as fake face images
    labels = splits.filter(pl.col("source") == "demo")["label"].value_counts()
    counts = dict(zip(labels["label"], labels["count"], strict=True))
    assert counts["REAL"] == counts["FAKE"] > 0


def _true_identities(graph, table: pl.DataFrame, place: pl.Expr) -> dict[str, set[str]]:
    """True identity -> the places its faces are in, over the demo's videos (demo_truth.json)
    and its image source (`demo-images`, images_truth.json): the person of a real video or
    still, a fake's target and its donor, whether the pipeline found them or not."""
    catalog = graph["catalog"]
    truth = {"demo": graph["truth"]["videos"], "demo-images": graph["image_truth"]["images"]}
    videos = pl.concat(
        [catalog.read("videos", s).select("source", "video_id", "rel_path") for s in truth]
    )
    faces = (
        table.filter(pl.col("source").is_in(list(truth)))
        .select("source", "video_id", place.alias("place"))
        .join(videos, on=["source", "video_id"])
    )
    places: dict[str, set[str]] = collections.defaultdict(set)
    for source, rel_path, where in faces.select("source", "rel_path", "place").unique().iter_rows():
        entry = truth[source][rel_path]
        people = [entry.get("identity")] if entry["label"] == "REAL" else []
        people += [entry.get("target_identity"), entry.get("donor_identity")]
        for person in filter(None, people):
            places[person].add(f"{where}")
    return places


def _leaks(places: dict[str, set[str]]) -> dict[str, set[str]]:
    return {p: w for p, w in places.items() if len(w) > 1}


LEVEL_FOLD = pl.col("level").cast(pl.Utf8) + "/" + pl.col("fold").cast(pl.Utf8)


def test_no_true_identity_in_two_splits_nor_two_folds(graph):
    """The default (`unknown_donors: drop`) on the materialised `splits` and `folds`: no true
    person of the demo's videos and stills, filmed, a swap's target or its donor, found by the
    pipeline or not, is in two splits or in two folds of one level."""
    catalog = graph["catalog"]
    everyone = _true_identities(graph, catalog.read("splits"), pl.col("split"))
    assert len(everyone) >= 9
    assert _leaks(everyone) == {}
    folds = catalog.read("folds").filter(pl.col("level").is_not_null())
    in_folds = _true_identities(graph, folds, LEVEL_FOLD)
    assert len(in_folds) >= 9
    assert _leaks(in_folds) == {}
    # donors were found (test_donors_inferred_from_faces_agree_with_the_truth checks them)
    identities = catalog.read("fake_identities").filter(pl.col("donor_actor_id").is_not_null())
    assert identities.height >= 8


def test_the_default_drops_the_fakes_whose_donor_nobody_found_and_says_so(graph, capsys):
    """What `unknown_donors: drop` cost, per source, in `split_drops` and in fold_splits'
    metadata: every swap fake with no donor, all its faces, none of them in the split."""
    catalog = graph["catalog"]
    drops = catalog.read("split_drops")
    unknown = drops.filter(pl.col("reason") == "donor_unknown")
    assert set(unknown["scope"]) == {"splits"}
    identities = catalog.read("fake_identities")
    splits = catalog.read("splits")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(graph["root"] / "home"))
        from deepfake_assets.assets.splits import latest_split_metadata

        meta = latest_split_metadata(dg.DagsterInstance.get())
    assert meta["unknown_donors"] == "drop"
    reported = meta["donor_unknown_dropped"]
    lines = []
    for source in ("demo", "demo-images"):
        fakes = identities.filter(pl.col("source") == source)
        no_donor = set(fakes.filter(pl.col("donor_actor_id").is_null())["video_id"])
        dropped = unknown.filter(pl.col("source") == source)
        assert set(dropped["video_id"]) == no_donor
        assert not no_donor & set(splits.filter(pl.col("source") == source)["video_id"])
        if no_donor:
            assert reported[source] == {"fakes": len(no_donor), "faces": dropped.height}
        else:
            assert source not in reported
        lines.append(f"{source}: {len(no_donor)} of {fakes.height} fakes ({dropped.height} faces)")
    assert reported  # the demo has fakes whose donor nobody finds
    with capsys.disabled():
        print(
            f"\nunknown_donors: drop (default) on the demo: {'; '.join(lines)} dropped; "
            f"split_drops {drops.group_by('scope', 'reason').len().sort('scope', 'reason').rows()}"
            f"; faces in the split {splits.height}"
        )


def test_keeping_unknown_donors_keeps_every_fake_and_reports_them(graph, capsys):
    """`unknown_donors: keep` over the demo's catalog (the split alone, on the tables the
    `fold_splits` asset reads): no fake is left out for its unknown donor, and the metadata
    counts, per source, the swap fakes placed with no known donor; the true people that then
    sit on two sides are printed (the reason `drop` is the default)."""
    from deepfake_assets.splits.dataset import (
        SplitSettings,
        balanced_sources,
        build_splits,
        faces_for_splitting,
        fake_identity_pairs,
        kept_faces,
    )
    from deepfake_assets.splits.swaps import UnknownDonors

    catalog = graph["catalog"]
    faces = faces_for_splitting(
        kept_faces(catalog.read("faces"), catalog.read("duplicates")),
        catalog.read("videos"),
        catalog.read("video_actors"),
        fake_identity_pairs(catalog.read("fake_identities")),
    )
    built = build_splits(
        faces,
        balanced_sources(catalog.read("frame_plans")),
        SplitSettings(unknown_donors=UnknownDonors.KEEP),
    )
    assert built.drops.filter(pl.col("reason") == "donor_unknown").is_empty()
    meta = built.result.metadata()
    assert meta["unknown_donors"] == "keep" and meta["donor_unknown_dropped"] == {}
    identities = catalog.read("fake_identities")
    demo_fakes = identities.filter(pl.col("source") == "demo")
    no_donor = set(demo_fakes.filter(pl.col("donor_actor_id").is_null())["video_id"])
    # every one of them that the REAL/FAKE thinning of the balanced demo left a face is placed
    # (one fake's 5 faces all go to the thinning under keep)
    placed = no_donor & set(built.result.faces.filter(pl.col("source") == "demo")["video_id"])
    assert len(placed) >= len(no_donor) - 1 and placed
    assert meta["donor_unknown_kept"]["demo"]["fakes"] == len(placed)
    leaks = _leaks(_true_identities(graph, built.splits, pl.col("split")))
    folds = built.folds.faces.filter(pl.col("level").is_not_null())
    fold_leaks = _leaks(_true_identities(graph, folds, LEVEL_FOLD))
    with capsys.disabled():
        print(
            f"\nunknown_donors: keep on the demo: kept {meta['donor_unknown_kept']}; true people "
            f"on two sides: {len(leaks)} in splits, {len(fold_leaks)} across folds; faces in the "
            f"split {built.splits.height}"
        )


def test_export_is_self_contained(graph):
    export = graph["root"] / "data" / "export"
    info = pl.read_csv(export / "info.csv")
    assert info.columns == INFO_COLUMNS
    assert info.height == graph["catalog"].read("splits").height
    for rel in info["path"].to_list() + info["mask_path"].drop_nulls().to_list():
        assert not Path(rel).is_absolute() and (export / rel).is_file()
    bench = json.loads((export / "deepfakebench/dataset_json/deepfake_assets.json").read_text())
    assert {"demo_real", "demo_fake"} <= set(bench["deepfake_assets"])
    assert set(bench["deepfake_assets"]) <= {
        "demo_real",
        "demo_fake",
        "demo-images_real",
        "demo-images_fake",
    }
    card = (export / "DATA_CARD.md").read_text()
    assert "| demo | train |" in card
    kinds = dict(info.group_by("source").agg(pl.col("item_kind").unique()).iter_rows())
    assert set(kinds["demo"]) == {"video"} and set(kinds["demo-images"]) == {"image"}
    assert "| demo-images | image |" in card


def test_the_image_source_runs_next_to_the_videos(graph):
    """Stills of the demo's people join their videos' actors; generated fakes get pseudo-actors;
    hostile files are rows with reasons."""
    catalog = graph["catalog"]
    videos = {r["rel_path"]: r for r in catalog.read("videos", "demo-images").to_dicts()}
    assert {r["item_kind"] for r in videos.values()} == {"image"}
    assert videos["real/truncated.jpg"]["status"] == "unreadable"
    assert videos["real/tiny.png"]["status"] == "unusable"
    face_videos = catalog.read("face_videos", "demo-images")
    reals = face_videos.filter(pl.col("role") == "real")
    assert reals.height >= 4 and (reals["status"] == "ok").all(), reals
    assert (face_videos["frame_indices"].list.len() <= 1).all()
    identities = catalog.read("fake_identities").filter(pl.col("source") == "demo-images")
    assert identities.height == 3 and set(identities["target_from"]) == {"pseudo"}
    # a person's stills and videos are one actor: no actor holds two demo identities
    actors = catalog.read("video_actors").filter(pl.col("source") == "demo-images")
    demo_actors = catalog.read("video_actors").join(
        catalog.read("videos", "demo").select("source", "video_id", "rel_path"),
        on=["source", "video_id"],
    )
    truth = {}
    for r in demo_actors.to_dicts():
        entry = graph["truth"]["videos"].get(r["rel_path"])
        if entry and entry["label"] == "REAL" and entry.get("identity") and r["actor_id"]:
            truth[entry["identity"]] = r["actor_id"]
    matched = 0
    for row in actors.filter(pl.col("label") == "REAL").to_dicts():
        identity = row["video_id"].removeprefix("real/")
        if identity in truth:
            matched += truth[identity] == row["actor_id"]
    assert matched >= 3, (truth, actors)


def test_metadata_carries_pictures(graph):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(graph["root"] / "home"))
        instance = dg.DagsterInstance.get()
        expected = {
            "face_crops": "sample_faces",
            "actor_clusters": "tsne",
            "fake_groups": "examples_per_level",
            "fake_identities": "fakes_target_donor",
        }
        per_source = {"face_crops", "fake_groups"}  # the video demo's partition: it has pairs
        for asset, key in expected.items():
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(asset),
                    asset_partitions=["demo"] if asset in per_source else None,
                ),
                limit=1,
            ).records
            value = records[0].asset_materialization.metadata[key].value
            assert "data:image/png;base64," in value, asset


def test_rematerialising_resumes_and_never_duplicates(graph):
    catalog = graph["catalog"]
    before = catalog.read("faces").height
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPFAKE_DATA_DIR", str(graph["root"] / "data"))
        mp.setenv("DAGSTER_HOME", str(graph["root"] / "home"))
        assert cli.main(["materialize", "--sources-only"]) == 0
    faces = catalog.read("faces")
    assert faces.height == before
    assert faces["face_id"].n_unique() == faces.height
