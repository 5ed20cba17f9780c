"""Which faces the embedding stage embeds, and the rows it writes, on plain tables."""

from __future__ import annotations

import numpy as np
import polars as pl

from deepfake_assets.identity.embed_tasks import embedding_inputs, embedding_rows


def _faces() -> pl.DataFrame:
    videos = ["r"] * 2 + ["o"] + ["f"] * 6
    return pl.DataFrame(
        {
            "face_id": [f"s/{v}/{i:06d}/0" for i, v in enumerate(videos)],
            "source": ["s"] * len(videos),
            "video_id": videos,
            "frame_index": list(range(len(videos))),
            "track": pl.Series([0] * len(videos), dtype=pl.Int32),
            "label": ["REAL", "REAL", "FAKE"] + ["FAKE"] * 6,
            "interpolated": [False] * len(videos),
            "crop_160": [f"faces/{i}.png" for i in range(len(videos))],
        }
    )


def test_real_and_orphan_faces_are_embedded_and_a_few_of_each_fake_track():
    roles = pl.DataFrame({"video_id": ["r", "o", "f"], "role": ["real", "orphan_fake", "fake"]})
    wanted, fakes = embedding_inputs(_faces(), roles, 4)
    assert wanted["video_id"].to_list() == ["r", "r", "o"]
    assert fakes["video_id"].to_list() == ["f"] * 4
    assert fakes["frame_index"].to_list() == [3, 5, 6, 8]  # evenly over the track
    assert embedding_inputs(_faces(), roles, 0)[1].is_empty()


def test_rows_carry_the_keys_the_model_and_the_vector():
    faces = _faces().head(2)
    rows = embedding_rows(faces, "m", np.array([[1.0, 0.0], [0.0, 1.0]], np.float64))
    assert rows.columns == [
        "face_id",
        "source",
        "video_id",
        "frame_index",
        "track",
        "label",
        "model",
        "embedding",
    ]
    assert rows.schema["embedding"] == pl.Array(pl.Float32, 2)
    assert rows["embedding"].to_list() == [[1.0, 0.0], [0.0, 1.0]]
    empty = embedding_rows(faces.head(0), "m", np.zeros((0, 3), np.float32))
    assert empty.is_empty() and empty.schema["embedding"] == pl.Array(pl.Float32, 3)
