"""The faces stage on both compute backends: throughput, seconds per video, worker memory.

Builds `--videos` real clips (scikit-image's astronaut panning, `--size` px square, 60 frames,
x264 keyframe every 250) each with one fake, and runs them as the faces asset does
(`faces.families.run_families`, seed-001 plan: first 10 + 7 evenly spaced frames) on
`LocalExecutor(--workers)` and on a `DaskExecutor` over a `LocalCluster` of `--workers`
processes x 1 thread (real worker processes under nannies, TCP on 127.0.0.1). Reports
videos/s, p50/p95 seconds per video (inside the worker), the dask cluster's start-up time and
each dask worker's peak RSS (`ru_maxrss`), and checks both backends made the same faces.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/dask_bench.py --videos 12 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from deepfake_assets.compute import LocalExecutor, summarise_seconds
from deepfake_assets.faces.ensemble import EnsembleConfig
from deepfake_assets.faces.families import run_families
from deepfake_assets.faces.sampling import first_and_even_indices
from deepfake_assets.faces.video_faces import VideoFacesConfig, VideoJob

RESULTS = Path(__file__).resolve().parent / "results"


def build(folder: Path, n: int, size: int) -> list[VideoJob]:
    import cv2
    from skimage import data

    from deepfake_assets.media.video_writer import write_h264

    image = data.astronaut()
    jobs = []
    for i in range(n):
        frames = []
        for t in range(60):
            side = 360 - 2 * t - 3 * (i % 5)
            x0, y0 = 60 + t + 4 * (i % 7), 2 + t // 2
            crop = image[y0 : y0 + side, x0 : x0 + side]
            frames.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
        frames = np.stack(frames)
        real, fake = folder / f"r{i}.mp4", folder / f"f{i}.mp4"
        write_h264(real, frames)
        write_h264(fake, frames[:, :, :, ::-1].copy())
        plan = tuple(first_and_even_indices(60, 10, 7))
        jobs.append(VideoJob(f"r{i}", str(real), "real", plan))
        jobs.append(VideoJob(f"f{i}", str(fake), "fake", original_video_id=f"r{i}"))
    return jobs


def worker_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(executor, jobs, out: Path) -> tuple[dict, dict]:
    cfg = VideoFacesConfig(relative_to=out)
    start = time.perf_counter()
    results = list(run_families(executor, jobs, out, cfg, ensemble_config=EnsembleConfig()))
    wall = time.perf_counter() - start
    timing = summarise_seconds([s for r, s in results if r.status != "failed"], wall)
    faces = {r.video_id: (r.status, r.frame_indices, len(r.faces)) for r, _ in results}
    figures = {
        "wall_s": round(wall, 2),
        "videos": len(results),
        "failed": sum(r.status == "failed" for r, _ in results),
        **timing.to_metadata("video"),
    }
    return figures, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12, help="real videos (each + 1 fake)")
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import distributed

    from deepfake_assets.compute.dask_backend import DaskExecutor

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "videos").mkdir()
        jobs = build(root / "videos", args.videos, args.size)
        out: dict = {
            "machine": platform.node(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "videos": args.videos * 2,
            "size": args.size,
            "workers": args.workers,
        }
        with LocalExecutor(args.workers) as executor:
            out["local"], local_faces = run(executor, jobs, root / "local")
        started = time.perf_counter()
        with distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            out["dask_cluster_start_s"] = round(time.perf_counter() - started, 2)
            with DaskExecutor(cluster.scheduler_address) as executor:
                out["dask"], dask_faces = run(executor, jobs, root / "dask")
                rss = executor._client.run(worker_peak_rss_mib)
            out["dask_worker_peak_rss_mib"] = sorted(round(v) for v in rss.values())
        out["same_faces"] = local_faces == dask_faces
        out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask_bench.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
