"""The whole graph on a video source and two image sources together: an `images` folder with a
manifest (an attribute edit naming its original, a generated face, hostile files) and a DFFD
folder registered `--test-only` that holds a copy of one of the first source's photos.

Built from test faces (scikit-image's astronaut, matplotlib's Grace Hopper) on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image
from skimage import data as skdata

from deepfake_assets import cli
from deepfake_assets.catalog import Catalog
from deepfake_assets.media.video_writer import write_h264
from deepfake_assets_tests.conftest import face_frames, grace_hopper

pytestmark = pytest.mark.slow


def _face(image: np.ndarray, size: int = 256) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))


def make_sources(root: Path) -> dict[str, Path]:
    astro = _face(skdata.astronaut()[:300, 100:400])
    hopper = _face(grace_hopper()[60:480, 40:460])

    videos = root / "vids"
    videos.mkdir(parents=True)
    write_h264(videos / "astro.mp4", face_frames(14, size=192))
    (videos / "manifest.csv").write_text("path,label\nastro.mp4,REAL\n")

    photos = root / "photos"
    for sub in ("real", "edits", "gen"):
        (photos / sub).mkdir(parents=True)
    Image.fromarray(astro).save(photos / "real" / "astro.png")
    Image.fromarray(hopper).save(photos / "real" / "hopper.png")
    warm = np.clip(astro.astype(int) * [1.15, 1.0, 0.8], 0, 255).astype(np.uint8)
    Image.fromarray(warm).save(photos / "edits" / "astro_warm.png")  # an edit of real/astro
    gen = np.ascontiguousarray(hopper[:, ::-1])
    Image.fromarray(gen).save(photos / "gen" / "seed0001.png", quality=92)
    trio = np.concatenate([_face(skdata.astronaut()[:300, 100:400], 160)] * 3, axis=1)
    Image.fromarray(trio).save(photos / "real" / "three_people.png")
    Image.fromarray(_face(skdata.coffee())).save(photos / "real" / "coffee.png")
    (photos / "real" / "empty.jpg").write_bytes(b"")
    buf = (photos / "real" / "astro.png").read_bytes()
    (photos / "real" / "broken.png").write_bytes(buf[: len(buf) // 4])
    Image.new("RGB", (24, 24)).save(photos / "real" / "tiny.png")
    Image.fromarray(np.ascontiguousarray(astro[:, ::-1])).convert("CMYK").save(
        photos / "real" / "cmyk.jpg", quality=95
    )
    rows = [
        "path,label,method,original",
        "real/astro.png,REAL,,",
        "real/hopper.png,REAL,,",
        "edits/astro_warm.png,FAKE,warm_filter,real/astro.png",
        "gen/seed0001.png,FAKE,stylegan,",
        "real/three_people.png,REAL,,",
        "real/coffee.png,REAL,,",
        "real/empty.jpg,REAL,,",
        "real/broken.png,REAL,,",
        "real/tiny.png,REAL,,",
        "real/cmyk.jpg,REAL,,",
    ]
    (photos / "manifest.csv").write_text("\n".join(rows) + "\n")

    dffd = root / "dffd"
    for sub in ("ffhq/train", "stylegan_ffhq/test", "mystery/train", "extras"):
        (dffd / sub).mkdir(parents=True)
    Image.fromarray(hopper).save(dffd / "ffhq" / "train" / "70001.png")  # photos' hopper again
    # a "generated" face: Hopper mirrored, right next to her real photos in identity space;
    # generated faces show nobody, so it must not be clustered with her nor get her as donor
    Image.fromarray(np.ascontiguousarray(hopper[::-1, ::-1][::-1])).save(
        dffd / "stylegan_ffhq" / "test" / "seed7.png"
    )
    Image.fromarray(astro).save(dffd / "mystery" / "train" / "x.png")
    (dffd / "extras" / "logo.png").write_bytes(b"not data")  # mapped `ignore` at registration
    return {"vids": videos, "photos": photos, "dffd": dffd}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    folders = make_sources(root / "datasets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPFAKE_DATA_DIR", str(root / "data"))
        mp.setenv("DAGSTER_HOME", str(root / "home"))
        (root / "home").mkdir()
        (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        assert cli.main(["sources", "add", "vids", str(folders["vids"])]) == 0
        assert cli.main(["sources", "add", "photos", str(folders["photos"])]) == 0
        add_dffd = ["sources", "add", "dffd", str(folders["dffd"]), "--test-only"]
        assert cli.main([*add_dffd, "--dffd-folder", "extras=ignore"]) == 0
        rc = cli.main(["materialize"])
        yield {"rc": rc, "catalog": Catalog(root / "data"), "data": root / "data"}


def test_formats_are_detected_and_the_graph_runs(graph):
    assert graph["rc"] == 0
    sources = {r["name"]: r["format"] for r in graph["catalog"].read("sources").to_dicts()}
    assert sources == {"vids": "manifest", "photos": "images", "dffd": "dffd"}


def test_bad_image_files_are_rows_with_reasons(graph):
    videos = graph["catalog"].read("videos", "photos")
    by_path = {r["rel_path"]: r for r in videos.to_dicts()}
    assert {r["item_kind"] for r in by_path.values()} == {"image"}
    assert by_path["real/empty.jpg"]["status"] == "empty"
    assert by_path["real/broken.png"]["status"] == "unreadable"
    assert by_path["real/tiny.png"]["status"] == "unusable"
    assert "too small" in by_path["real/tiny.png"]["reason"]
    cmyk = by_path["real/cmyk.jpg"]
    assert cmyk["status"] == "ok" and "CMYK" in cmyk["reason"] and cmyk["frame_count"] == 1
    dffd = {r["rel_path"]: r for r in graph["catalog"].read("videos", "dffd").to_dicts()}
    assert dffd["mystery"]["status"] == "rejected"
    assert "not in the DFFD folder table" in dffd["mystery"]["reason"]
    assert dffd["ffhq/train/70001.png"]["label"] == "REAL"
    assert dffd["stylegan_ffhq/test/seed7.png"]["method"] == "stylegan"
    assert not [p for p in dffd if p.startswith("extras")]  # the registered mapping says ignore


def test_images_are_one_frame_items_with_seed000s_face_rule(graph):
    fv = {r["video_id"]: r for r in graph["catalog"].read("face_videos", "photos").to_dicts()}
    assert fv["real/astro"]["status"] == "ok" and fv["real/astro"]["frame_indices"] == [0]
    assert fv["real/astro"]["tries"] == 1
    assert fv["real/coffee"]["status"] == "discarded" and fv["real/coffee"]["reason"] == "no_face"
    three = fv["real/three_people"]
    assert three["status"] == "discarded" and "one_or_two_faces" in three["reason"]
    # the edit reuses its original's box; the generated face is detected on its own
    assert fv["edits/astro_warm"]["role"] == "fake" and fv["edits/astro_warm"]["status"] == "ok"
    assert fv["gen/seed0001"]["role"] == "orphan_fake" and fv["gen/seed0001"]["status"] == "ok"
    faces = graph["catalog"].read("faces", "photos")
    crops = faces.filter(pl.col("video_id") == "real/astro").row(0, named=True)
    for kind, size in (("160", (160, 160)), ("299", (299, 299))):
        assert Image.open(graph["data"] / crops[f"crop_{kind}"]).size == size
    assert (graph["data"] / crops["crop_raw"]).is_file()


def test_the_same_photo_in_two_datasets_is_one_image(graph):
    dups = graph["catalog"].read("duplicates")
    hopper = dups.filter(
        pl.col("item_id").str.contains("70001") | pl.col("kept_item_id").str.contains("70001")
    )
    pairs = hopper.filter(pl.col("is_duplicate"))
    assert pairs.height >= 1, dups
    row = pairs.row(0, named=True)
    ids = {row["item_id"].split("/")[0], row["kept_item_id"].split("/")[0]}
    assert ids == {"photos", "dffd"}, row


def test_edits_get_ssim_and_generated_faces_pseudo_actors(graph):
    fakes = graph["catalog"].read("fake_groups")
    assert fakes.filter(pl.col("video_id") == "edits/astro_warm").height == 1
    identities = {r["video_id"]: r for r in graph["catalog"].read("fake_identities").to_dicts()}
    assert identities["gen/seed0001"]["target_from"] == "pseudo"
    assert identities["stylegan_ffhq/test/seed7"]["target_from"] == "pseudo"


def test_generated_faces_are_linked_to_no_real_person(graph):
    """Both generated faces are Hopper mirrored: never clustered with her, never her donor,
    each its own pseudo-actor in the split."""
    catalog = graph["catalog"]
    generated = {("photos", "gen/seed0001"), ("dffd", "stylegan_ffhq/test/seed7")}
    key = pl.struct("source", "video_id")
    real_actors = set(
        catalog.read("video_actors").filter(pl.col("label") == "REAL")["actor_id"].drop_nulls()
    )
    assert real_actors
    va = {(r["source"], r["video_id"]): r for r in catalog.read("video_actors").to_dicts()}
    ids = {(r["source"], r["video_id"]): r for r in catalog.read("fake_identities").to_dicts()}
    tracks = catalog.read("embeddings").select("source", "video_id").unique()
    for source, video in generated:
        assert va[source, video]["actor_id"] == f"pseudo:{source}:{video}"
        assert va[source, video]["actor_source"] == "generated"
        row = ids[source, video]
        assert row["generated"] and row["donor_actor_id"] is None, row
        assert row["donor_source"] == "none" and row["candidate_actor_id"] is None, row
        assert tracks.filter(
            (pl.col("source") == source) & (pl.col("video_id") == video)
        ).is_empty()
    splits = catalog.read("splits").filter(
        key.is_in([{"source": s, "video_id": v} for s, v in generated])
    )
    assert splits.height >= 1  # the two are one image: dedup may keep only one
    for row in splits.to_dicts():
        assert row["actor_id"] == f"pseudo:{row['source']}:{row['video_id']}"
        assert row["actor_id"] not in real_actors
        assert row.get("donor_actor_id") is None


def test_a_test_only_image_source_goes_to_test_only(graph):
    splits = graph["catalog"].read("splits")
    dffd = splits.filter(pl.col("source") == "dffd")
    assert dffd.height >= 1
    assert set(dffd["split"]) == {"test"}
    # the astronaut shares no face with the test-only source: her items are not all in test
    astro = splits.filter(pl.col("video_id").str.contains("astro"))
    assert astro.height >= 1 and set(astro["split"]) != {"test"}


def test_export_shows_images_next_to_videos(graph):
    export = graph["data"] / "export"
    info = pl.read_csv(export / "info.csv")
    kinds = dict(info.group_by("source").agg(pl.col("item_kind").unique()).iter_rows())
    assert set(kinds.get("vids", [])) <= {"video"} and set(kinds["photos"]) == {"image"}
    assert set(info["item_kind"]) == {"image", "video"}
    card = (export / "DATA_CARD.md").read_text()
    assert "item_kind" in card and "image" in card
