import pytest

from deepfake_assets.sources import (
    VIDEO_TABLE_SCHEMA,
    SourceFormatError,
    UnknownFormatError,
    detect_format,
    normalise_format_name,
    read_source,
)

from .conftest import make_files


@pytest.mark.parametrize(
    ("rels", "expected"),
    [
        (["original_sequences/youtube/c23/videos/000.mp4"], "faceforensics"),
        (["manipulated_sequences/Deepfakes/c23/videos/000_001.mp4"], "faceforensics"),
        (["Celeb-synthesis/id0_id1_0000.mp4"], "celebdf"),
        (["manipulated_videos/end_to_end/000_M101.mp4"], "deeperforensics"),
        (["train/part_0/metadata.json"], "dfdc"),
        (["videos/a.mp4", "readme.txt"], None),
        ([], None),
    ],
)
def test_detect_format(tmp_path, rels, expected):
    make_files(tmp_path, rels, b"{}")
    assert detect_format(tmp_path) == expected


def test_unknown_folder_and_unknown_format_name(tmp_path):
    make_files(tmp_path, ["clips/a.mp4"])
    with pytest.raises(UnknownFormatError, match="no known dataset layout"):
        read_source(tmp_path)
    with pytest.raises(UnknownFormatError, match="unknown source format 'vhs'"):
        read_source(tmp_path, "vhs")
    assert detect_format(tmp_path / "missing") is None
    assert normalise_format_name("FF++") == "faceforensics"


def test_every_adapter_returns_the_schema_even_when_empty(tmp_path):
    (tmp_path / "original_sequences").mkdir()
    table = read_source(tmp_path)
    assert table.height == 0 and table.schema == VIDEO_TABLE_SCHEMA


def test_not_a_folder_and_empty_dfdc_metadata(tmp_path):
    make_files(tmp_path, ["file.txt"])
    with pytest.raises(SourceFormatError, match="not a folder"):
        read_source(tmp_path / "file.txt")
    (tmp_path / "metadata.json").write_text("{}")
    assert read_source(tmp_path).height == 0
