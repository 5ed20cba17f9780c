"""Tracking over constructed box arrays: linking, interpolation, track pruning, verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from deepfake_assets.faces.tracking import link, resolve_rule, track_faces

FRAMES = list(range(10)) + [40, 80, 120, 160, 200, 240, 280]


@dataclass(frozen=True)
class Det:
    box: tuple[float, float, float, float]
    score: float


def face(cx: float, cy: float, size: float = 40.0, score: float = 0.99) -> Det:
    h = size / 2
    return Det((cx - h, cy - h, cx + h, cy + h), score)


def test_single_face_in_every_frame_is_complete():
    dets = [[face(100 + i, 80)] for i in range(len(FRAMES))]
    res = track_faces(FRAMES, dets)
    assert res.complete and not res.needs_resample and res.reason is None
    assert len(res.tracks) == 1
    assert [f.frame_index for f in res.faces] == FRAMES
    assert res.faces[3].detection is dets[3][0]


def test_two_faces_keep_their_identity_when_one_jumps():
    dets = []
    for i in range(len(FRAMES)):
        a = face(100, 100)  # still
        b = face(300 + 25 * i, 100)  # moves 25 px (0.6 box) per sampled frame
        dets.append([b, a] if i % 2 else [a, b])  # detector order changes
    res = track_faces(FRAMES, dets)
    assert res.complete and len(res.tracks) == 2
    for t in res.tracks:
        xs = [(f.box[0] + f.box[2]) / 2 for f in t.faces]
        assert len(xs) == len(FRAMES)
        assert xs == sorted(xs)  # each track follows one face
        assert len({x == 100 for x in xs}) == 1


def test_a_jump_beyond_max_jump_starts_a_new_track_and_asks_for_resampling():
    dets = [[face(100, 100)] for _ in range(12)] + [[face(400, 100)] for _ in range(5)]
    res = track_faces(FRAMES, dets, max_jump=1.0)
    assert not res.complete and res.needs_resample
    assert res.missing_frames == FRAMES[12:]
    assert res.reason.startswith("incomplete_track")
    # a larger allowed jump links them into one track
    assert track_faces(FRAMES, dets, max_jump=10.0).complete


def test_gap_of_one_is_interpolated_and_flagged():
    dets = [[face(100 + 10 * i, 100)] for i in range(len(FRAMES))]
    dets[5] = []
    dets[12] = []  # between frames 80 and 160 -> 120 linearly
    res = track_faces(FRAMES, dets)
    assert res.complete
    by_frame = {f.frame_index: f for f in res.faces}
    assert by_frame[5].interpolated and math.isnan(by_frame[5].score)
    assert by_frame[5].box == pytest.approx(face(150, 100).box)
    assert by_frame[120].interpolated
    assert by_frame[120].box == pytest.approx(face(100 + 10 * 12, 100).box)
    assert not by_frame[4].interpolated and by_frame[4].detection is dets[4][0]


def test_interpolation_uses_frame_index_time_not_position():
    frames = [0, 10, 40]
    res = track_faces(frames, [[face(100, 100)], [], [face(140, 100)]])
    assert res.faces[1].box == pytest.approx(face(110, 100).box)


def test_gaps_of_two_or_at_the_ends_are_not_filled():
    dets = [[face(100, 100)] for _ in FRAMES]
    dets[3] = dets[4] = []
    dets[0] = []
    res = track_faces(FRAMES, dets)
    assert not res.complete and res.needs_resample
    assert res.missing_frames == [0, 3, 4]


def test_second_face_in_fewer_than_half_the_frames_is_dropped():
    n = len(FRAMES)  # 17
    dets = [[face(100, 100)] for _ in range(n)]
    for i in range(8):  # 8 of 17 < half
        dets[i].append(face(300, 100, score=0.9))
    res = track_faces(FRAMES, dets)
    assert len(res.tracks) == 1 and res.discarded_tracks == 1
    for i in range(9, n):  # now 17 of 17 for the second, i.e. at least half
        dets[i].append(face(300, 100, score=0.9))
    dets[8].append(face(300, 100, score=0.9))
    res = track_faces(FRAMES, dets)
    assert len(res.tracks) == 2
    assert [t.track for t in res.tracks] == [0, 1]


def test_third_track_kept_and_max_tracks_respected():
    dets = [[face(100, 100), face(300, 100), face(500, 100, score=0.5)] for _ in FRAMES]
    assert len(track_faces(FRAMES, dets).tracks) == 3
    assert len(track_faces(FRAMES, dets, max_tracks=2).tracks) == 2


def test_main_track_is_the_most_detected():
    dets = [[face(300, 100, score=0.8)] for _ in FRAMES]
    for i in range(5):
        dets[i].append(face(100, 100, score=0.99))
    res = track_faces(FRAMES, dets)
    assert res.complete
    assert all(f.box == face(300, 100).box for f in res.tracks[0].faces)


def test_no_face_and_no_frames():
    res = track_faces(FRAMES, [[] for _ in FRAMES])
    assert res.reason == "no_face" and res.needs_resample and not res.tracks
    assert track_faces([], []).reason == "no_frames"


def test_box_arrays_are_accepted_and_input_order_is_sorted():
    arrays = [np.array([[10, 10, 50, 50, 0.9]]), np.zeros((0, 5)), np.array([[12, 10, 52, 50]])]
    res = track_faces([20, 10, 0], arrays[::-1])
    assert res.frame_indices == [0, 10, 20]
    assert [f.interpolated for f in res.faces] == [False, True, False]


def test_seed000_drops_frames_without_faces_or_with_more_than_two():
    dets = [
        [face(100, 100)],
        [],
        [face(100, 100), face(300, 100)],
        [face(50, 50), face(150, 50), face(250, 50)],
    ]
    res = track_faces([0, 1, 2, 3], dets, rule="seed000")
    assert res.complete and not res.needs_resample
    assert res.dropped_frames == {1: "no_face", 3: "too_many_faces: 3"}
    assert sorted({f.frame_index for f in res.faces}) == [0, 2]
    assert not any(f.interpolated for f in res.faces)
    res = track_faces([0, 1], [[], []], rule="seed000")
    assert not res.complete and res.reason == "no_face" and not res.needs_resample


def test_link_never_shares_a_detection():
    boxes = [np.array([[0, 0, 10, 10], [12, 0, 22, 10]]), np.array([[6, 0, 16, 10]])]
    tracks = link(boxes, max_jump=2.0)
    assert sum(1 in t for t in tracks) == 1 and len(tracks) == 2


def test_mismatched_lengths_and_unknown_rule_raise():
    with pytest.raises(ValueError):
        track_faces([0, 1], [[]])
    with pytest.raises(ValueError):
        track_faces([0], [[]], rule="nope")


def test_rules_are_named_by_what_they_do_and_old_names_still_work():
    dets = [[face(100, 100)], [], [face(100, 100)]]
    for new, old in (("per_frame_faces", "seed000"), ("complete_tracks", "seed001")):
        a, b = track_faces([0, 1, 2], dets, rule=new), track_faces([0, 1, 2], dets, rule=old)
        assert (a.complete, a.reason, a.dropped_frames) == (b.complete, b.reason, b.dropped_frames)
    assert (
        track_faces([0, 1, 2], dets).reason == track_faces([0, 1, 2], dets, rule="seed001").reason
    )
    assert resolve_rule("seed000") == "per_frame_faces"
    with pytest.raises(ValueError, match="complete_tracks"):
        track_faces([0], [[]], rule="seed002")
