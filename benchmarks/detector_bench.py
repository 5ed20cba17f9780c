"""Face detectors and their ensemble: speed per detector and per ``detect_max_side``, and the
fixture outcomes the ensemble's defaults were chosen on.

    python benchmarks/detector_bench.py [--threads 1] [--sides 320,480,640,960,0] [--quick]
                                        [--out benchmarks/results/detector_bench.json]

Needs ``../shared/fixtures`` (videos, group photo, BlazeFace models). Measured, all on CPU:

* each detector alone, whole frames, at each ``detect_max_side`` (0 = full resolution):
  MTCNN (batches of 16), BlazeFace full-range (letterboxed whole frame), dlib HOG
  (``upsample=1``); dlib's MMOD CNN once, on one frame;
* region checks (the ensemble's judging step), milliseconds per candidate box;
* the ensemble (defaults but ``detect_max_side``), frames/s over every frame of each video,
  with what it kept: faces in the group photo (of 6, and ``not_faces`` kept), frames with a
  face in bigbuckbunny.mp4 (should be 0), bikes.mp4 (30-43 expected) and carphone (120);
* ``read_frames`` for a seed-001 plan (10 first + 7 evenly spaced) vs decoding every frame.

Timings are wall-clock on a shared 2-core machine: the JSON records the load average before
and after; read figures from a busy machine as such. Writes the JSON via a temporary name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT.parent / "shared" / "fixtures"
VIDEOS = {
    "carphone": "carphone_pristine.mp4",
    "bikes": "bikes.mp4",
    "bunny": "bigbuckbunny.mp4",
}


def load_inputs(quick: bool) -> dict[str, list[np.ndarray]]:
    import av
    import cv2

    out: dict[str, list[np.ndarray]] = {}
    for name, file in VIDEOS.items():
        with av.open(str(FIXTURES / "videos" / file)) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        out[name] = frames[::4] if quick else frames
    bgr = cv2.imread(str(FIXTURES / "faces" / "group_six_people.jpg"))
    out["group"] = [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)]
    return out


def shrink(frames: list[np.ndarray], side: int) -> list[np.ndarray]:
    import cv2

    h, w = frames[0].shape[:2]
    s = 1.0 if side == 0 else min(1.0, side / max(h, w))
    if s >= 1.0:
        return frames
    size = (round(w * s), round(h * s))
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def timed(fn, *args, min_s: float = 0.0) -> tuple[float, Any]:
    """Seconds for one call (repeated until ``min_s`` has passed, averaged)."""
    n, total, result = 0, 0.0, None
    while True:
        t = time.perf_counter()
        result = fn(*args)
        total += time.perf_counter() - t
        n += 1
        if total >= min_s:
            return total / n, result


def bench_detectors(inputs, sides, quick) -> dict[str, Any]:
    from deepfake_assets.faces.detectors import BlazeFaceDetector, DlibDetector, MTCNNDetector

    dets = {
        "mtcnn": MTCNNDetector(device="cpu"),
        "blazeface_full_range": BlazeFaceDetector(),
        "dlib_hog": DlibDetector(upsample=1),
    }
    for d in dets.values():  # warm up
        d.detect(inputs["carphone"][:2])
    out: dict[str, Any] = {}
    for name, det in dets.items():
        for video in ("carphone", "bikes", "bunny", "group"):
            frames = inputs[video]
            if name == "dlib_hog":  # ~10x slower than the others on big frames
                frames = frames[: 8 if quick else 24]
            for side in sides:
                small = shrink(frames, side)
                h, w = small[0].shape[:2]
                if side and side >= max(frames[0].shape[:2]):
                    continue
                secs, _ = timed(det.detect, small, min_s=0.5 if len(small) == 1 else 0.0)
                fps = len(small) / secs
                out.setdefault(name, {}).setdefault(video, {})[str(side)] = {
                    "size": [w, h],
                    "frames": len(small),
                    "fps": round(fps, 2),
                }
                print(f"  {name:22s} {video:9s} {w:4d}x{h:<4d} {fps:8.1f} frames/s", flush=True)
    cnn = DlibDetector(cnn=True, upsample=0)
    frame = shrink(inputs["bunny"][:1], 640)
    secs, _ = timed(cnn.detect, frame)
    out["dlib_mmod_cnn"] = {"bunny": {"640": {"size": [640, 360], "frames": 1, "fps": 1 / secs}}}
    print(f"  {'dlib_mmod_cnn':22s} bunny      640x360  {1 / secs:8.2f} frames/s", flush=True)

    # region checks: ms per candidate box, on carphone's face and the group photo's six
    boxes = MTCNNDetector(device="cpu").detect(inputs["group"])[0][:6, :4]
    regions: dict[str, float] = {}
    for name, det in dets.items():
        secs, _ = timed(det.score_regions, inputs["group"][0], boxes, 0.4, min_s=0.5)
        regions[name] = round(1000 * secs / len(boxes), 2)
        print(f"  region check {name:22s} {regions[name]:6.1f} ms/box", flush=True)
    out["region_ms_per_box"] = regions
    return out


def bench_ensemble(inputs, sides, threads, step: int) -> dict[str, Any]:
    import json as _json

    from deepfake_assets.faces.blazeface import iou_matrix
    from deepfake_assets.faces.ensemble import EnsembleConfig, FaceEnsemble

    truth = _json.loads((FIXTURES / "ground_truth.json").read_text())["faces/group_six_people.jpg"]
    people = np.asarray([p["box"] for p in truth["people"]], np.float32)
    not_faces = np.asarray(truth["not_faces"], np.float32)
    out: dict[str, Any] = {}
    base = FaceEnsemble(EnsembleConfig(threads=threads))
    base.detect(inputs["carphone"][:2])  # warm up
    for side in sides:
        ens = FaceEnsemble(EnsembleConfig(threads=threads, detect_max_side=side), base.detectors)
        row: dict[str, Any] = {}
        for video, frames in inputs.items():
            t = time.perf_counter()
            found = []
            for i in range(0, len(frames), 16):
                found += ens.detect(frames[i : i + 16])
            secs = time.perf_counter() - t
            entry: dict[str, Any] = {"fps": round(len(frames) / secs, 2), "frames": len(frames)}
            if video == "group":
                boxes = np.asarray([d.box for d in found[0]], np.float32).reshape(-1, 4)
                hit = iou_matrix(people, boxes).max(axis=1) >= 0.4 if len(boxes) else []
                entry["people_found"] = int(np.sum(hit))
                entry["not_faces_kept"] = int(
                    (iou_matrix(not_faces, boxes).max(axis=1) >= 0.4).sum() if len(boxes) else 0
                )
                entry["faces_kept"] = len(boxes)
            else:
                entry["frames_with_face"] = [i * step for i, f in enumerate(found) if f]
                entry["n_frames_with_face"] = len(entry["frames_with_face"])
            row[video] = entry
            extra = {
                k: v for k, v in entry.items() if k not in ("fps", "frames", "frames_with_face")
            }
            print(f"  ensemble side={side:<4d} {video:9s} {entry['fps']:7.1f} frames/s  {extra}")
        out[str(side)] = row
    out["describe"] = base.describe()
    return out


def bench_read_frames() -> dict[str, Any]:
    import av

    from deepfake_assets.media.frames import read_frames

    out: dict[str, Any] = {}
    for name, file in VIDEOS.items():
        path = FIXTURES / "videos" / file
        with av.open(str(path)) as c:
            n = c.streams.video[0].frames
        plan = list(range(10)) + [int(round(10 + k * (n - 11) / 6)) for k in range(7)]
        t = time.perf_counter()
        got = read_frames(path, plan)
        planned = time.perf_counter() - t
        t = time.perf_counter()
        with av.open(str(path)) as c:
            c.streams.video[0].thread_count = 1
            allf = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        everything = time.perf_counter() - t
        out[name] = {
            "frames": n,
            "planned": len(plan),
            "read_frames_ms": round(1000 * planned, 1),
            "decoded": got.decoded,
            "seeks": got.seeks,
            "decode_all_ms": round(1000 * everything, 1),
        }
        assert len(allf) == n
        print(f"  read_frames {name:9s} {out[name]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sides", default="320,480,640,960,0")
    ap.add_argument("--quick", action="store_true", help="every 4th video frame only")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "detector_bench.json"
    )
    args = ap.parse_args()
    if not FIXTURES.is_dir():
        sys.exit(f"needs the shared fixtures at {FIXTURES}")

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    sides = [int(s) for s in args.sides.split(",")]
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "opencv": cv2.__version__,
            "load_before": list(os.getloadavg()),
        },
        "quick": args.quick,
    }
    inputs = load_inputs(args.quick)
    print("read_frames (seed-001 plan: 10 first + 7 evenly spaced)")
    result["read_frames"] = bench_read_frames()
    print("detectors alone")
    result["detectors"] = bench_detectors(inputs, sides, args.quick)
    print("ensemble")
    result["ensemble"] = bench_ensemble(inputs, sides, args.threads, 4 if args.quick else 1)
    result["machine"]["load_after"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
