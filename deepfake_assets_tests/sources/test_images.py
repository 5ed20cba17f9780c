"""The `dffd` and `images` adapters on layouts built here (placeholder bytes: adapters never
open files), and `--format auto` telling them from video layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_assets.sources import AdapterOptions, SourceFormatError, detect_format, list_source
from deepfake_assets.sources.dffd import (
    LEGACY_FOLDERS_FILE,
    FolderOverride,
    merge_overrides,
    parse_folder_override,
    read_folder_overrides,
)
from deepfake_assets_tests.sources.conftest import make_files


def _rows(listing) -> dict[str, dict]:
    return {r["rel_path"]: r for r in listing.videos.to_dicts()}


def test_dffd_layout_maps_folders_to_label_method_and_official_split(tmp_path: Path) -> None:
    make_files(
        tmp_path,
        [
            "ffhq/train/00001.png",
            "ffhq/validation/00002.png",
            "celeba/test/000003.jpg",
            "stylegan_ffhq/train/seed0001.png",
            "faceapp/test/smile/000003.jpg",
            "pggan_v2/test/img.png",
            "ffhq/train/readme.txt",  # not an image: skipped like a non-video
        ],
    )
    assert detect_format(tmp_path) == "dffd"
    listing = list_source(tmp_path)
    rows = _rows(listing)
    assert listing.problems == ()
    assert set(rows) == {
        "ffhq/train/00001.png",
        "ffhq/validation/00002.png",
        "celeba/test/000003.jpg",
        "stylegan_ffhq/train/seed0001.png",
        "faceapp/test/smile/000003.jpg",
        "pggan_v2/test/img.png",
    }
    ffhq = rows["ffhq/train/00001.png"]
    assert (ffhq["label"], ffhq["method"], ffhq["official_split"]) == ("REAL", None, "train")
    assert rows["ffhq/validation/00002.png"]["official_split"] == "val"
    gan = rows["stylegan_ffhq/train/seed0001.png"]
    assert (gan["label"], gan["method"], gan["variant"]) == ("FAKE", "stylegan", "stylegan_ffhq")
    edit = rows["faceapp/test/smile/000003.jpg"]
    assert (edit["method"], edit["official_split"]) == ("faceapp", "test")
    assert rows["pggan_v2/test/img.png"]["method"] == "pggan"
    assert all(r["original_video_id"] is None and r["actor_hint"] is None for r in rows.values())


def test_dffd_unknown_folders_are_reported_never_guessed(tmp_path: Path) -> None:
    make_files(
        tmp_path,
        [
            "ffhq/train/a.png",
            "stylegan_ffhq/test/b.png",
            "stylegan3_afhq/train/c.png",  # unknown origin
            "ffhq/holdout/d.png",  # not a split name
        ],
    )
    listing = list_source(tmp_path, "dffd")
    assert set(_rows(listing)) == {"ffhq/train/a.png", "stylegan_ffhq/test/b.png"}
    problems = {p.path: p.reason for p in listing.problems}
    assert set(problems) == {"stylegan3_afhq", "ffhq/holdout"}
    assert "not in the DFFD folder table" in problems["stylegan3_afhq"]
    assert "--dffd-folder stylegan3_afhq=" in problems["stylegan3_afhq"]
    assert "not a split" in problems["ffhq/holdout"]


_MAPPING_CSV = (
    "folder,label,method,split\n"
    "stylegan3_afhq,FAKE,stylegan3,\n"
    "faceforensics/Deepfakes,FAKE,Deepfakes,\n"
    "faceapp,FAKE,faceapp-v2,\n"
    "extras,ignore,,\n"
    "loose,REAL,,val\n"
)


def _mapped_layout(root: Path) -> None:
    make_files(
        root,
        [
            "ffhq/train/a.png",
            "stylegan3_afhq/train/c.png",
            "faceforensics/Deepfakes/test/f.png",
            "faceapp/test/e.png",
            "extras/junk.png",
            "loose/x.png",
        ],
    )


def test_dffd_folder_table_is_overridden_by_the_source_options(tmp_path: Path) -> None:
    data = tmp_path / "dffd"
    _mapped_layout(data)
    (tmp_path / "mapping.csv").write_text(_MAPPING_CSV)
    overrides = read_folder_overrides(tmp_path / "mapping.csv")
    listing = list_source(data, "dffd", AdapterOptions(dffd_folders=overrides))
    rows = _rows(listing)
    assert listing.problems == ()
    assert rows["stylegan3_afhq/train/c.png"]["method"] == "stylegan3"
    deepfakes = rows["faceforensics/Deepfakes/test/f.png"]
    assert (deepfakes["method"], deepfakes["official_split"]) == ("Deepfakes", "test")
    assert rows["faceapp/test/e.png"]["method"] == "faceapp-v2"  # replaces the default
    assert rows["loose/x.png"]["official_split"] == "val"
    assert "extras/junk.png" not in rows
    # the same rows typed on the command line
    typed = merge_overrides(
        parse_folder_override(t)
        for t in (
            "stylegan3_afhq=FAKE,stylegan3",
            "FaceForensics/Deepfakes/=fake,Deepfakes",
            "faceapp=FAKE,faceapp-v2",
            "extras=IGNORE",
            "loose=real,,validation",
        )
    )
    assert typed == overrides
    # without the options the same folder is reported, never guessed
    plain = list_source(data, "dffd")
    assert {p.path for p in plain.problems} == {
        "stylegan3_afhq",
        "faceforensics",
        "extras",
        "loose",
    }


def test_dffd_bad_folder_mappings_raise_naming_the_row(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("folder,label\nnew,MAYBE\n")
    with pytest.raises(SourceFormatError, match="line 2"):
        read_folder_overrides(tmp_path / "m.csv")
    (tmp_path / "h.csv").write_text("dir,kind\nnew,FAKE\n")
    with pytest.raises(SourceFormatError, match="header"):
        read_folder_overrides(tmp_path / "h.csv")
    with pytest.raises(SourceFormatError, match="FOLDER=LABEL"):
        parse_folder_override("stylegan2_ffhq")
    with pytest.raises(SourceFormatError, match="unknown split"):
        parse_folder_override("x=REAL,,holdout")
    with pytest.raises(SourceFormatError, match="mapped twice"):
        merge_overrides([FolderOverride.of("x", "REAL"), FolderOverride.of("X/", "FAKE", "gan")])
    assert merge_overrides([FolderOverride.of("x", "REAL")] * 2) == (FolderOverride("x", "REAL"),)


def test_dffd_mapping_left_in_the_dataset_folder_is_reported_until_registered(
    tmp_path: Path,
) -> None:
    _mapped_layout(tmp_path)
    (tmp_path / LEGACY_FOLDERS_FILE).write_text(_MAPPING_CSV)
    listing = list_source(tmp_path, "dffd")
    problems = {p.path: p.reason for p in listing.problems}
    assert "--dffd-folders" in problems[LEGACY_FOLDERS_FILE]
    assert "stylegan3_afhq=FAKE,stylegan3" in problems[LEGACY_FOLDERS_FILE]
    registered = AdapterOptions(read_folder_overrides(tmp_path / LEGACY_FOLDERS_FILE))
    assert list_source(tmp_path, "dffd", registered).problems == ()


def test_image_folder_real_and_fake_method_folders(tmp_path: Path) -> None:
    make_files(
        tmp_path,
        ["real/p1.jpg", "real/sub/p2.png", "fake/stylegan/g1.png", "fake/loose.png", "real/x.txt"],
    )
    assert detect_format(tmp_path) == "images"
    rows = _rows(list_source(tmp_path))
    assert set(rows) == {"real/p1.jpg", "real/sub/p2.png", "fake/stylegan/g1.png", "fake/loose.png"}
    assert rows["real/p1.jpg"]["label"] == "REAL"
    assert (rows["fake/stylegan/g1.png"]["label"], rows["fake/stylegan/g1.png"]["method"]) == (
        "FAKE",
        "stylegan",
    )
    assert (
        rows["fake/loose.png"]["method"] is None and "no method" in rows["fake/loose.png"]["notes"]
    )


def test_image_manifest_names_originals_and_actors_and_rejects_bad_rows(tmp_path: Path) -> None:
    make_files(tmp_path, ["celeba/001.jpg", "edits/001_smile.jpg", "gen/0.png"])
    (tmp_path / "manifest.csv").write_text(
        "path,label,method,actor,original\n"
        "celeba/001.jpg,real,,celeb_17,\n"
        "edits/001_smile.jpg,fake,faceapp,,celeba/001.jpg\n"
        "gen/0.png,fake,stylegan,,\n"
        "gen/1.png,perhaps,stylegan,,\n"
    )
    assert detect_format(tmp_path) == "images"
    rows = _rows(list_source(tmp_path))
    assert rows["celeba/001.jpg"]["actor_hint"] == "celeb_17"
    assert rows["edits/001_smile.jpg"]["original_video_id"] == "celeba/001"
    assert rows["gen/1.png"]["reject_reason"] and rows["gen/1.png"]["label"] is None


def test_a_video_manifest_stays_the_manifest_format(tmp_path: Path) -> None:
    make_files(tmp_path, ["a.mp4"])
    (tmp_path / "manifest.csv").write_text("path,label\na.mp4,REAL\n")
    assert detect_format(tmp_path) == "manifest"
