"""The faces stage as executor tasks: families of an original and its fakes, on both backends."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from deepfake_assets.compute import LocalExecutor
from deepfake_assets.faces.crops import CropSpec
from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.families import build_families, run_families
from deepfake_assets.faces.video_faces import VideoFacesConfig, VideoJob
from deepfake_assets_tests.faces.test_video_faces import FRESH_CLONE_ENSEMBLE, videos  # noqa: F401

CFG = VideoFacesConfig(max_resamples=1, crops=CropSpec(small=32, large=48))


def jobs_of(videos) -> list[VideoJob]:  # noqa: F811 - the fixture's value
    return [
        VideoJob("real", str(videos["real"]), "real", (0, 10, 20)),
        VideoJob("fake", str(videos["fake"]), "fake", original_video_id="real"),
        VideoJob("short", str(videos["short_fake"]), "fake", original_video_id="real"),
        VideoJob("empty", str(videos["empty"]), "real", (0,)),
        VideoJob("empty_fake", str(videos["fake"]), "fake", original_video_id="empty"),
        VideoJob("orphan", str(videos["fake"]), "orphan_fake", (0, 10, 20)),
        VideoJob("lost", str(videos["fake"]), "fake", original_video_id="nowhere"),
    ]


def test_an_original_and_its_fakes_are_one_family():
    jobs = [
        VideoJob("a", "a.mp4", "real", (0,)),
        VideoJob("a1", "a1.mp4", "fake", original_video_id="a"),
        VideoJob("a2", "a2.mp4", "fake", original_video_id="a"),
        VideoJob("b1", "b1.mp4", "fake", original_video_id="b"),  # b finished earlier
        VideoJob("o", "o.mp4", "orphan_fake", (0,)),
        VideoJob("z1", "z1.mp4", "fake", original_video_id="z"),  # z is nowhere
    ]
    from deepfake_assets.faces.video_faces import VideoFaces

    earlier = {"b": VideoFaces("b", "real", "ok", None)}
    families, stranded = build_families(jobs, earlier)
    by_key = {f.key: f for f in families}
    assert [j.video_id for j in by_key["a"].jobs] == ["a", "a1", "a2"]
    assert by_key["fakes-of-b"].head is None and by_key["fakes-of-b"].original is earlier["b"]
    assert [j.video_id for j in by_key["o"].jobs] == ["o"]
    assert [j.video_id for j in stranded] == ["z1"]
    assert sorted(j.video_id for f in families for j in f.jobs) == ["a", "a1", "a2", "b1", "o"]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


def comparable(result) -> dict:
    """A result as a dict, its written files by path and size: their inode and mtime are the file
    system's, never equal between two runs."""
    d = result.to_dict()
    d["written"] = [(w["path"], w["size"]) for w in d["written"]]
    return d


@pytest.mark.slow
def test_families_give_the_same_videos_faces_and_crop_bytes_on_both_backends(
    videos,  # noqa: F811
    tmp_path,
):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    from deepfake_assets.compute.dask_backend import DaskExecutor

    ensemble_config = EnsembleConfig(**FRESH_CLONE_ENSEMBLE)
    runs = {}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        for name, executor in (
            ("inline", LocalExecutor(0)),
            ("dask", DaskExecutor(cluster.scheduler_address)),
        ):
            out = tmp_path / name
            with executor:
                results = list(
                    run_families(
                        executor, jobs_of(videos), out, CFG, ensemble_config=ensemble_config
                    )
                )
            ids = [r.video_id for r, _ in results]
            assert sorted(ids) == sorted(j.video_id for j in jobs_of(videos)), name
            assert all(seconds >= 0 for _, seconds in results)
            runs[name] = ({r.video_id: comparable(r) for r, _ in results}, digest(out))
    inline, dask = runs["inline"], runs["dask"]
    assert dask == inline
    by_id = inline[0]
    assert by_id["real"]["status"] == by_id["fake"]["status"] == "ok"
    assert by_id["fake"]["frame_indices"] == by_id["real"]["frame_indices"] == [0, 10, 20]
    assert by_id["empty_fake"]["reason"].startswith("original_not_ok")
    assert by_id["lost"]["reason"] == "original_not_processed"
    assert by_id["orphan"]["role"] == "orphan_fake" and len(inline[1]) > 0
