"""Peak RSS of one faces worker on 1080p videos (target: under 3 GiB).

    python benchmarks/worker_rss_bench.py [--frames 300]

Writes faces_bench's synthetic 1080p clip (a panning camera over a face, x264's default GOP of
250, and one with a keyframe every 30), then in a fresh process does what one worker of the faces
step does: thread counts to 1, one detector ensemble (MTCNN + BlazeFace + dlib), then per clip
the real video (seed 001's 17 frames and seed 000's rule with 32 random frames, resampling
included) and a fake of it through its original's boxes, writing every crop. The child's peak
RSS (`ru_maxrss`) is written to benchmarks/results/worker_rss_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def worker(clips: list[str], out_dir: str) -> dict:
    """One worker's work on every clip; returns what it did (RSS is measured by the parent)."""
    import random
    import resource

    from deepfake_assets.compute.executor import set_threads
    from deepfake_assets.faces.ensemble import EnsembleConfig, FaceEnsemble
    from deepfake_assets.faces.sampling import first_and_even_indices
    from deepfake_assets.faces.video_faces import (
        VideoFacesConfig,
        process_fake_video,
        process_real_video,
    )
    from deepfake_assets.media.probe import probe_video

    set_threads(1)
    ensemble = FaceEnsemble(EnsembleConfig())
    after_models = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    done = []
    for clip in clips:
        n = probe_video(Path(clip)).frame_count
        plans = {
            "seed001": (first_and_even_indices(n), VideoFacesConfig()),
            "seed000": (
                sorted(random.Random(0).sample(range(n), min(32, n))),
                VideoFacesConfig(rule="seed000"),
            ),
        }
        for name, (plan, cfg) in plans.items():
            vid = f"{Path(clip).stem}_{name}"
            real = process_real_video(clip, vid, plan, ensemble, out_dir, cfg)
            fake = process_fake_video(clip, f"{vid}_fake", real, out_dir, cfg)
            done.append(
                {
                    "video": vid,
                    "status": real.status,
                    "faces": len(real.faces),
                    "fake_faces": len(fake.faces),
                }
            )
    return {"rss_after_models_gib": round(after_models, 2), "videos": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/worker_rss_bench.json"))
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[1:], args.worker[0])))
        return
    from faces_bench import _camera, _write_clip

    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for i, keyint in enumerate((None, 30)):
            path = Path(tmp) / f"synth_1080p_gop{keyint or 250}.mp4"
            _write_clip(path, _camera(args.frames, (1920, 1080), seed=i), (1920, 1080), keyint)
            clips.append(str(path))
        load = os.getloadavg()
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(Path(tmp) / "crops"), *clips],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        info = json.loads(out.decode().strip().splitlines()[-1])
    result = {
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
        "target_gib": 3.0,
        "seconds": round(time.perf_counter() - start, 1),
        "exit_code": os.waitstatus_to_exitcode(status),
        "clip_frames": args.frames,
        "load_average": [round(x, 1) for x in load],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        **info,
    }
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
