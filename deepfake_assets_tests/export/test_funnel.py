"""The data card's funnel names each loss by the catalog's codes: a cause counted once whatever
its detail, and the split step's loss split into the policy's reasons and the balance thinning."""

import polars as pl

from deepfake_assets.export.funnel import funnel_table


def _tables():
    videos = pl.DataFrame(
        {
            "source": ["s"] * 6,
            "video_id": [f"v{i}" for i in range(6)],
            "status": ["ok"] * 5 + ["missing"],
        }
    )
    face_videos = pl.DataFrame(
        {
            "source": ["s"] * 5,
            "video_id": [f"v{i}" for i in range(5)],
            "status": ["ok", "ok", "discarded", "discarded", "discarded"],
            "reason": [
                None,
                None,
                "incomplete_track: after 5 resamples (tries 6)",
                "incomplete_track: after 5 resamples (tries 4)",
                "no_face",
            ],
            "reason_code": [None, None, "incomplete_track", "incomplete_track", "no_face"],
        }
    )
    faces = pl.DataFrame(
        {
            "source": ["s"] * 8,
            "video_id": ["v0"] * 4 + ["v1"] * 4,
            "face_id": [f"f{i}" for i in range(8)],
        }
    )
    duplicates = pl.DataFrame(schema={"source": pl.Utf8, "face_id": pl.Utf8, "keep": pl.Boolean})
    splits = faces.head(5)
    info = splits.head(5)
    drops = pl.DataFrame(
        {
            "scope": ["splits", "splits", "folds"],
            "source": ["s"] * 3,
            "face_id": ["f5", "f6", "f1"],
            "reason": ["donor_unknown", "donor_unknown", "donor_in_other_fold"],
        }
    )
    return videos, face_videos, faces, duplicates, splits, info, drops


def test_face_losses_are_counted_by_reason_code_not_by_their_detail():
    funnel = funnel_table(*_tables())
    step = funnel.filter(pl.col("step") == "faces found").row(0, named=True)
    assert (step["videos"], step["lost"]) == (2, 3)
    assert step["why"] == "2 incomplete_track, 1 no_face"


def test_split_losses_name_the_policy_reasons_and_the_thinning():
    funnel = funnel_table(*_tables())
    step = funnel.filter(pl.col("step") == "balanced + split").row(0, named=True)
    assert (step["faces"], step["lost"]) == (5, 3)
    # the fold-level drop is not a loss of the split step
    assert step["why"] == "2 donor_unknown, 1 thinned for real/fake balance"


def test_without_split_drops_the_whole_loss_is_thinning():
    *tables, _drops = _tables()
    funnel = funnel_table(*tables)
    step = funnel.filter(pl.col("step") == "balanced + split").row(0, named=True)
    assert step["why"] == "3 thinned for real/fake balance"
