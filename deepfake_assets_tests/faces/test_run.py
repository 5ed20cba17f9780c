"""The faces stage's run on plain tables: jobs, resume from staged results, staging, rows."""

from __future__ import annotations

import polars as pl

from deepfake_assets.compute import LocalExecutor
from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.reasons import ReasonCode
from deepfake_assets.faces.run import FacesRun
from deepfake_assets.faces.staging import ResultCache
from deepfake_assets.faces.tables import frames_by_label, plannable_videos, short_or_unplanned
from deepfake_assets.faces.video_faces import VideoFaces, VideoFacesConfig


def _videos(**changes) -> pl.DataFrame:
    table = pl.DataFrame(
        {
            "video_id": ["r", "f", "g", "o", "bad"],
            "label": ["REAL", "FAKE", "FAKE", "FAKE", "REAL"],
            "status": ["ok", "ok", "ok", "ok", "unreadable"],
            "orphan_fake": [False, False, False, True, False],
            "original_video_id": [None, "r", "gone", "missing", None],
            "abs_path": ["/nowhere/r.mp4", "/nowhere/f.mp4", "/x/g.mp4", "/x/o.mp4", "/x/b.mp4"],
            "rel_path": ["r.mp4", "f.mp4", "g.mp4", "o.mp4", "b.mp4"],
            "content_fingerprint": ["fr", "ff", "fg", "fo", "fb"],
            "frame_count": [30, 30, 30, 30, 0],
            "item_kind": ["video", "video", "video", "image", "video"],
        }
    )
    return table.with_columns(pl.Series(k, v) for k, v in changes.items())


def _plans() -> pl.DataFrame:
    return pl.DataFrame({"video_id": ["r", "r", "o"], "frame_index": [0, 10, 0]})


def _run() -> FacesRun:
    return FacesRun.plan(_videos(), _plans(), EnsembleConfig(), VideoFacesConfig())


def test_plan_makes_one_job_per_usable_video_with_its_role_and_plan():
    run = _run()
    assert [(j.video_id, j.role, j.plan_indices) for j in run.jobs] == [
        ("r", "real", (0, 10)),
        ("f", "fake", ()),
        ("g", "fake", ()),
        ("o", "orphan_fake", (0,)),
    ]
    assert set(run.keys) == {"r", "f", "g", "o"} and len(set(run.keys.values())) == 4
    assert run.detect_jobs == 2 and run.summary("s") == (
        "s: 4 usable videos, 0 already finished, 4 to process"
    )


def test_resume_takes_staged_results_whose_key_still_matches(tmp_path):
    cache = ResultCache(tmp_path / "staging", tmp_path)
    run = _run()
    discarded = VideoFaces("r", "real", "discarded", None).because(ReasonCode.NO_FACE)
    cache.save(run.keys["r"], discarded)
    cache.save(run.keys["o"], VideoFaces.broken("o", "orphan_fake", ReasonCode.DETECT_ERROR))
    cache.save("a stale key", VideoFaces("g", "fake", "discarded", None))
    run.resume(cache)
    assert list(run.done) == ["r"]  # failed ones are redone, stale keys too
    assert [j.video_id for j in run.todo] == ["f", "g", "o"]


def test_run_pending_stages_every_result_and_rows_keep_job_order(tmp_path):
    """Fakes of a finished original and a fake with no original need no detector."""
    cache = ResultCache(tmp_path / "staging", tmp_path)
    videos = _videos(status=["ok", "ok", "ok", "unreadable", "unreadable"])
    run = FacesRun.plan(videos, _plans(), EnsembleConfig(), VideoFacesConfig())
    cache.save(
        run.keys["r"], VideoFaces("r", "real", "discarded", None).because(ReasonCode.NO_FACE)
    )
    run.resume(cache)
    lines: list[str] = []
    with LocalExecutor(0) as executor:
        seconds = run.run_pending(executor, tmp_path / "faces", cache, 1, log=lines.append)
    assert {v: r.reason_code for v, r in run.done.items()} == {
        "r": ReasonCode.NO_FACE,
        "g": ReasonCode.ORIGINAL_NOT_PROCESSED,
        "f": ReasonCode.ORIGINAL_NOT_OK,
    }
    assert len(seconds) == 1  # the failed one's time is not a measure of the work
    assert [r.video_id for r in run.failed()] == ["g"]
    assert [r.video_id for r in run.results()] == ["r", "f", "g"]
    assert lines[-1] == "faces: 2/2 videos done (f: discarded)"
    again = FacesRun.plan(videos, _plans(), EnsembleConfig(), VideoFacesConfig())
    again.resume(cache)
    assert sorted(again.done) == ["f", "r"]  # staged as they came; the failed one is redone
    _, face_videos, _ = run.tables("s", videos)
    assert face_videos["video_id"].to_list() == ["r", "f", "g"]
    assert face_videos["label"].to_list() == ["REAL", "FAKE", "FAKE"]
    assert run.videos_with_faces() == []


def test_plannable_videos_and_what_the_plan_reports():
    usable = plannable_videos(_videos())
    assert usable["video_id"].to_list() == ["r", "f", "g", "o"]
    assert usable["original_video_id"].to_list() == [None, "r", "gone", None]  # o: orphan
    planned = pl.DataFrame(
        {
            "video_id": ["r", "f", "g", "o"],
            "short": [False, True, False, True],
            "reason": [None, None, "no frames", None],
        }
    )
    assert short_or_unplanned(planned, usable)["video_id"].to_list() == ["f", "g"]  # o: image
    frames = pl.DataFrame({"video_id": ["r", "r", "f", "o"], "frame_index": [0, 1, 0, 0]})
    assert frames_by_label(frames, usable) == {"REAL": 2, "FAKE": 2}
