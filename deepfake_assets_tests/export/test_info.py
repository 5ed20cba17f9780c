"""`info.csv` is opened in spreadsheets: no cell may run as a formula there."""

from __future__ import annotations

import csv
import io

import polars as pl

from deepfake_assets.export.info import info_csv

HOSTILE = ["=cmd()|' /C calc'!A0", "+cmd", "=1+1", "@x", "-2+3", "\tSUM(A1)", "\r=1"]
PLAIN = ["000_003", "a-b", "Deepfakes", "", None]


def _table() -> pl.DataFrame:
    n = len(HOSTILE) + len(PLAIN)
    return pl.DataFrame(
        {
            "video_id": HOSTILE + PLAIN,
            "method": list(reversed(HOSTILE + PLAIN)),
            "frame_index": list(range(-3, n - 3)),  # negative numbers are numbers: untouched
            "ssim": [-0.25 + i for i in range(n)],
            "level": pl.Series([None, -1] + [1] * (n - 2), dtype=pl.Int8),
        }
    )


def test_cells_that_spreadsheets_would_run_are_prefixed_with_a_quote():
    table = _table()
    rows = list(csv.DictReader(io.StringIO(info_csv(table), newline="")))
    assert [r["video_id"] for r in rows] == ["'" + v for v in HOSTILE] + PLAIN[:-1] + [""]
    assert [r["method"] for r in rows][: len(PLAIN)] == ["", *reversed(PLAIN[:-1])]
    assert [r["method"] for r in rows][len(PLAIN) :] == ["'" + v for v in reversed(HOSTILE)]


def test_numbers_and_plain_strings_are_written_as_they_are():
    table = _table()
    rows = list(csv.DictReader(io.StringIO(info_csv(table), newline="")))
    assert [int(r["frame_index"]) for r in rows] == table["frame_index"].to_list()
    assert [float(r["ssim"]) for r in rows] == table["ssim"].to_list()
    assert [r["level"] for r in rows][:2] == ["", "-1"]
    # the same table without hostile strings is byte for byte what polars writes
    plain = table.filter(pl.col("video_id").is_in(PLAIN) | pl.col("video_id").is_null())
    plain = plain.with_columns(pl.col("video_id").alias("method"))
    assert info_csv(plain) == plain.write_csv()


def test_the_table_itself_keeps_the_true_values():
    table = _table()
    info_csv(table)
    assert table["video_id"].to_list() == HOSTILE + PLAIN  # what Parquet and JSON get


def test_info_table_joins_the_catalog_tables_it_is_given():
    from deepfake_assets.export.info import INFO_COLUMNS, info_table

    splits = pl.DataFrame(
        {
            "face_id": ["s/f/000001/0", "s/r/000001/0"],
            "source": ["s", "s"],
            "video_id": ["f", "r"],
            "original_video_id": ["r", None],
            "frame_index": [1, 1],
            "track": [0, 0],
            "label": ["FAKE", "REAL"],
            "actor_id": ["a", "a"],
            "split": ["train", "train"],
        }
    )
    folds = splits.select("face_id", level=pl.lit(1), fold=pl.lit(2))
    faces = splits.select(
        "face_id",
        crop_160=pl.col("face_id") + "_160.png",
        crop_299=pl.col("face_id") + "_299.png",
        crop_raw=pl.col("face_id") + "_raw.png",
    )
    fakes = pl.DataFrame(
        {"face_id": ["s/f/000001/0"], "ssim": [0.8], "fake_level": [3], "mask_path": ["m.png"]}
    )
    videos = pl.DataFrame({"source": ["s", "s"], "video_id": ["f", "r"], "method": ["x", None]})
    info = info_table(splits, folds, faces, fakes, videos)
    assert info.columns == INFO_COLUMNS
    assert info["video_id"].to_list() == ["f", "r"]
    assert info["path"].to_list() == ["s/f/000001/0_160.png", "s/r/000001/0_160.png"]
    assert info["mask_path"].to_list() == ["m.png", None]
    assert info["item_kind"].to_list() == ["video", "video"]  # written before images existed
    no_fakes = info_table(splits, folds, faces, pl.DataFrame(), videos)
    assert no_fakes["ssim"].null_count() == 2
    assert info_table(splits.head(0), folds, faces, fakes, videos).columns == INFO_COLUMNS
