"""Face ids: the polars expression and the one-row function spell them the same."""

from __future__ import annotations

import polars as pl

from deepfake_assets.faces.ids import face_id, face_id_expr


def test_face_id_of_a_row_is_the_expression_of_its_columns() -> None:
    rows = pl.DataFrame(
        {"source": ["dfdc", "a b"], "video_id": ["x/y", "=1"], "frame_index": [7, 123456],
         "track": [0, 2]}
    )  # fmt: skip
    spelled = rows.select(face_id_expr().alias("id"))["id"].to_list()
    assert spelled == [face_id(**r) for r in rows.to_dicts()]
    assert spelled[0] == "dfdc/x/y/000007/0"
