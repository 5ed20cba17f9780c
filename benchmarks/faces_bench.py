"""Face extraction throughput: the pipeline per stage next to a naive baseline, same process.

    python benchmarks/faces_bench.py [--quick] [--device cpu|cuda] [--workers 2]
                                     [--parallel-copies 1] [--threads N]
                                     [--detect-max-side 640] [--out PATH]

The **pipeline** (``deepfake_assets.faces``) plans 17 frames per video (``first_and_even``),
decodes only those by seeking (``media.frames.read_frames``), detects with the MTCNN +
BlazeFace + dlib ensemble on frames shrunk to ``detect_max_side``, tracks, and writes three
PNG crops per face (``process_real_video``; the ``compute`` executor's local process pool across
the set, ``faces.families.run_families``, reported as ``run_videos_parallel``). Fakes are
cropped at their original's boxes without detection (``process_fake_video``).

The **baseline** is what common DFDC Kaggle scripts do, on the same videos and the same
planned frame indices: ``cv2.VideoCapture`` grabs every frame of the file (``retrieve`` only
for the planned ones), facenet-pytorch ``MTCNN(keep_all=True)`` runs on each planned frame at
full size, one frame at a time, and every box is cropped with a 15 % margin, resized to
160x160 and written as PNG.

Both get the same thread budget: ``--threads`` (default 1) sets ``torch.set_num_threads``,
``cv2.setNumThreads`` and the OpenCV decoder's thread count for the baseline and the in-process
pipeline. (Default 1 because on a shared, oversubscribed machine two torch threads per process
made MTCNN 4-8x *slower* than one, for both sides: the threads wait on each other at every
op. Pass ``--threads 2`` on an idle machine.) ``run_videos_parallel`` runs ``--workers``
processes x ``max(1, threads // workers)`` threads over ``--parallel-copies`` copies of the
set (enough jobs to keep many workers busy); it is compared with the one-process baseline, with
the baseline run over the same jobs in as many processes (measured), and with the baseline
ideally scaled to the same number of cores (derived). Models are warmed
up at every video size before anything is timed (oneDNN builds kernels per input shape).

Videos: the shared fixtures (``../shared/fixtures/videos``) when present, plus clips this
script writes itself so it runs on a fresh clone: scikit-image's astronaut filmed by a slowly
panning 1920x1080 / 1280x720 camera with sensor noise, 30 fps, H.264 (x264's default GOP of 250
frames via ``media.video_writer.H264Writer``, and one 1080p clip with a keyframe every 30
frames, as phone cameras write). Each synthetic clip gets a byte copy as its "fake".

"Equal output" is checked per video on the planned frames: frames with a face according to
the baseline, to the pipeline, to both, and the mean IoU of matched boxes (pipeline ensemble
boxes vs baseline MTCNN boxes, matched greedily at IoU >= 0.3).

Prints a table and writes ``benchmarks/results/faces_bench.json`` and ``.md`` (``--out``).
Timings are wall-clock on whatever else the machine is doing: the JSON records the load
average before and after, so read figures from a busy machine as such. Per video, each block
is run ``--repeat`` times (default 2) and the fastest round is kept.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import polars as pl
import torch

from deepfake_assets.compute import LocalExecutor
from deepfake_assets.compute.executor import set_threads
from deepfake_assets.faces.blazeface import BlazeFaceModelNotFound, iou_matrix
from deepfake_assets.faces.crops import CropError, make_crops
from deepfake_assets.faces.ensemble import EnsembleConfig, FaceEnsemble
from deepfake_assets.faces.families import run_families
from deepfake_assets.faces.sampling import first_and_even_indices, plan_source
from deepfake_assets.faces.tracking import track_faces
from deepfake_assets.faces.video_faces import (
    VideoFaces,
    VideoFacesConfig,
    VideoJob,
    process_fake_video,
    process_real_video,
)
from deepfake_assets.media.frames import read_frames
from deepfake_assets.media.images import write_png_atomic
from deepfake_assets.media.video_writer import H264Writer

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_VIDEOS = ROOT.parent / "shared" / "fixtures" / "videos"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "faces_bench.json"
TARGET_SPEEDUP = 5.0
MATCH_IOU = 0.3
COPY_MARK = "__copy"  # run_videos_parallel job ids: <video>__copy<k> with --parallel-copies
BASELINE_SIZE = 160
BASELINE_MARGIN = 0.15


# --------------------------------------------------------------------------- videos


@dataclass
class Clip:
    video_id: str
    path: Path
    origin: str  # "fixture" or "synthetic"
    width: int = 0
    height: int = 0
    frame_count: int = 0
    keyframes: int = 0
    size_mb: float = 0.0
    fakes: list[tuple[str, Path]] = field(default_factory=list)


def _probe(clip: Clip) -> Clip:
    """Size, frame count and keyframe count from packets (no decoding)."""
    with av.open(str(clip.path)) as c:
        s = c.streams.video[0]
        clip.width, clip.height = s.codec_context.width, s.codec_context.height
        n = k = 0
        for p in c.demux(s):
            if p.size:
                n += 1
                k += int(p.is_keyframe)
    clip.frame_count, clip.keyframes = n, k
    clip.size_mb = round(clip.path.stat().st_size / 2**20, 2)
    return clip


def _scene() -> np.ndarray:
    """A 2400x1300 canvas: the astronaut (face ~260x330 px) over a blurred copy of herself."""
    from skimage import data

    a = data.astronaut()
    canvas = cv2.GaussianBlur(cv2.resize(a, (2400, 1300)), (0, 0), 20)
    canvas[100:1200, 650:1750] = cv2.resize(a, (1100, 1100), interpolation=cv2.INTER_CUBIC)
    return canvas


def _camera(n: int, size: tuple[int, int], seed: int) -> Iterator[np.ndarray]:
    """``n`` RGB frames of a slow pan over the scene at 1920x1080, resized to ``size``."""
    scene = _scene()
    rng = np.random.default_rng(seed)
    noise = [rng.normal(0, 3, (1080, 1920, 3)).astype(np.int16) for _ in range(4)]
    for t in range(n):
        phase = 2 * math.pi * t / max(n, 1)
        x = int(240 + 150 * math.sin(phase / 2))  # out and back once: <= 1.6 px/frame at 300
        y = int(110 + 40 * math.sin(phase))
        f = scene[y : y + 1080, x : x + 1920].astype(np.int16) + noise[t % len(noise)]
        f = np.clip(f, 0, 255).astype(np.uint8)
        if size != (1920, 1080):
            f = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
        yield f


def _write_clip(
    path: Path, frames: Iterator[np.ndarray], size: tuple[int, int], keyint: int | None
) -> None:
    """H.264 at 30 fps: the project's writer (x264 default GOP) or a fixed keyframe interval."""
    w, h = size
    if keyint is None:
        with H264Writer(path, w, h, fps=30) as writer:
            for f in frames:
                writer.write(f)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _encode_keyint(tmp, frames, w, h, keyint)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _encode_keyint(tmp: Path, frames: Iterator[np.ndarray], w: int, h: int, keyint: int) -> None:
    with av.open(str(tmp), mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=Fraction(30, 1))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {
            "crf": "18",
            "preset": "superfast",
            "x264-params": f"mbtree=0:keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
        for i, rgb in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 30)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)


def build_clips(args: argparse.Namespace, clip_dir: Path, say: Callable[[str], None]) -> list[Clip]:
    """Fixture videos (when present) and the synthetic HD clips, probed."""
    clips: list[Clip] = []
    fixtures = Path(args.fixtures)
    if fixtures.is_dir() and not args.no_fixtures:
        names = ["carphone_pristine"] if args.quick else [
            "carphone_pristine", "bikes", "bigbuckbunny"
        ]  # fmt: skip
        for name in names:
            p = fixtures / f"{name}.mp4"
            if p.is_file():
                clips.append(Clip(name, p, "fixture"))
        distorted = fixtures / "carphone_distorted.mp4"
        if clips and clips[0].video_id == "carphone_pristine" and distorted.is_file():
            clips[0].fakes.append(("carphone_distorted", distorted))
    else:
        why = "--no-fixtures" if args.no_fixtures else f"not found at {fixtures}"
        say(f"fixture videos skipped ({why}): synthetic clips only")

    if args.quick:
        specs = [("synth_1080p_gop250", (1920, 1080), None, 60)]
    else:
        specs = [
            ("synth_1080p_gop250", (1920, 1080), None, args.clip_frames),
            ("synth_1080p_gop30", (1920, 1080), 30, args.clip_frames),
            ("synth_720p_gop250", (1280, 720), None, args.clip_frames),
        ]
    clip_dir.mkdir(parents=True, exist_ok=True)
    for i, (name, size, keyint, n) in enumerate(specs):
        path = clip_dir / f"{name}_{n}f.mp4"
        if not path.is_file():
            t0 = time.perf_counter()
            _write_clip(path, _camera(n, size, seed=i), size, keyint)
            say(f"wrote {path.name} ({n} frames) in {time.perf_counter() - t0:.1f} s")
        fake = clip_dir / f"{name}_{n}f_fake.mp4"
        if not fake.is_file():
            shutil.copyfile(path, fake)
        clips.append(Clip(name, path, "synthetic", fakes=[(f"{name}_fake", fake)]))
    return [_probe(c) for c in clips]


# --------------------------------------------------------------------------- helpers


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _rate(n: float, seconds: float) -> float | None:
    return round(n / seconds, 3) if seconds > 0 else None


class Timer:
    def __init__(self) -> None:
        self.s = 0.0

    def __enter__(self) -> Timer:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s += time.perf_counter() - self._t


def _match(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Greedy one-to-one matching of boxes ``a`` to ``b``; IoUs of pairs >= MATCH_IOU."""
    if len(a) == 0 or len(b) == 0:
        return []
    m = iou_matrix(a.astype(np.float32), b.astype(np.float32))
    out = []
    while m.size and m.max() >= MATCH_IOU:
        i, j = np.unravel_index(int(np.argmax(m)), m.shape)
        out.append(float(m[i, j]))
        m[i, :], m[:, j] = -1, -1
    return out


# --------------------------------------------------------------------------- baseline


def baseline_video(
    clip: Clip, indices: list[int], mtcnn: Any, threads: int, out_dir: Path
) -> dict[str, Any]:
    """Kaggle-style: grab every frame, retrieve planned ones, MTCNN each at full size, crop."""
    want = set(indices)
    frames: dict[int, np.ndarray] = {}
    t_dec, t_det, t_write = Timer(), Timer(), Timer()
    with t_dec:
        cap = cv2.VideoCapture(str(clip.path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        decoded = 0
        for j in range(n):  # every frame, as the scripts do
            if not cap.grab():
                break
            decoded += 1
            if j in want:
                ok, bgr = cap.retrieve()
                if ok:
                    frames[j] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        cap.release()
    boxes: dict[int, np.ndarray] = {}
    with t_det:
        for j in sorted(frames):
            b, _p = mtcnn.detect(frames[j])  # one frame at a time, full size
            boxes[j] = np.zeros((0, 4), np.float32) if b is None else np.asarray(b, np.float32)
    crops = 0
    folder = out_dir / clip.video_id
    folder.mkdir(parents=True, exist_ok=True)
    with t_write:
        for j, bs in boxes.items():
            f = frames[j]
            h, w = f.shape[:2]
            for k, (x1, y1, x2, y2) in enumerate(bs):
                mx, my = (x2 - x1) * BASELINE_MARGIN / 2, (y2 - y1) * BASELINE_MARGIN / 2
                xa, ya = max(int(x1 - mx), 0), max(int(y1 - my), 0)
                xb, yb = min(int(x2 + mx), w), min(int(y2 + my), h)
                if xb <= xa or yb <= ya:
                    continue
                face = cv2.resize(
                    f[ya:yb, xa:xb], (BASELINE_SIZE, BASELINE_SIZE), interpolation=cv2.INTER_AREA
                )
                cv2.imwrite(str(folder / f"{j:06d}_{k}.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
                crops += 1
    return {
        "decoded_frames": decoded,
        "sampled_frames": len(frames),
        "decode_s": t_dec.s,
        "detect_s": t_det.s,
        "write_s": t_write.s,
        "total_s": t_dec.s + t_det.s + t_write.s,
        "crops": crops,
        "boxes": {j: b.tolist() for j, b in boxes.items()},
    }


_WORKER_MTCNN: Any = None


def _baseline_worker_init(device: str, threads: int) -> None:
    """A baseline worker process: its own MTCNN, the same thread budget as a pipeline worker."""
    global _WORKER_MTCNN
    set_threads(threads)
    from facenet_pytorch import MTCNN

    _WORKER_MTCNN = MTCNN(keep_all=True, device=device)


def _baseline_job(clip: Clip, indices: list[int], threads: int, out_dir: Path) -> tuple[str, int]:
    r = baseline_video(clip, indices, _WORKER_MTCNN, threads, out_dir)
    return clip.video_id, r["crops"]


def baseline_parallel(
    jobs: list[tuple[Clip, list[int]]], workers: int, threads: int, device: str, out_dir: Path
) -> dict[str, Any]:
    """The naive script run in ``workers`` processes over the same jobs: what a user gets by
    starting the script several times. Wall time from the pool's start (same as the pipeline's
    ``run_videos_parallel`` figure) and the time each video finished."""
    import concurrent.futures as cf
    import multiprocessing as mp

    done_at: dict[str, float] = {}
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(
        workers,
        mp_context=mp.get_context("spawn"),
        initializer=_baseline_worker_init,
        initargs=(device, threads),
    ) as pool:
        futures = [pool.submit(_baseline_job, c, ix, threads, out_dir) for c, ix in jobs]
        for fut in cf.as_completed(futures):
            vid, _crops = fut.result()
            done_at[vid] = round(time.perf_counter() - t0, 2)
    return {"wall_s": round(time.perf_counter() - t0, 3), "done_at_s": done_at}


# --------------------------------------------------------------------------- pipeline


def pipeline_stages(
    clip: Clip, indices: list[int], ensemble: FaceEnsemble, out_dir: Path
) -> dict[str, Any]:
    """One pass of the pipeline's stages on the planned frames, each timed on its own."""
    t_dec, t_det, t_trk = Timer(), Timer(), Timer()
    with t_dec:
        dec = read_frames(clip.path, indices)
    with t_det:
        dets = ensemble.detect(dec.frames)
    crops = 0
    with t_trk:
        tr = track_faces(dec.indices, dets)
        frames = dict(zip(dec.indices, dec.frames, strict=True))
        for f in tr.faces:
            try:
                c = make_crops(frames[f.frame_index], f.box)
            except CropError:
                continue
            for kind, img in (("160", c.small), ("299", c.large), ("raw", c.raw)):
                p = out_dir / clip.video_id / f"{f.frame_index:06d}_{f.track}_{kind}.png"
                write_png_atomic(p, img)
            crops += 1
    return {
        "decoded_frames": dec.decoded,
        "seeks": dec.seeks,
        "sampled_frames": len(dec.frames),
        "decode_s": t_dec.s,
        "detect_s": t_det.s,
        "track_crop_write_s": t_trk.s,
        "faces_cropped": crops,
        "tracking": tr.reason or "complete",
        "boxes": {
            int(i): [list(d.box) for d in ds] for i, ds in zip(dec.indices, dets, strict=True)
        },
    }


def _e2e_summary(r: VideoFaces, seconds: float) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "status": r.status,
        "reason": r.reason,
        "tries": r.tries,
        "frames_decoded_over_tries": sum(a.decoded for a in r.attempts),
        "faces": len(r.faces),
    }


def equal_output(base: dict[str, Any], pipe: dict[str, Any]) -> dict[str, Any]:
    """Frames with a face in each and in both; IoU of matched boxes on the same frames."""
    frames = sorted(set(base["boxes"]) & set(pipe["boxes"]))
    fb = {j for j in frames if len(base["boxes"][j])}
    fp = {j for j in frames if len(pipe["boxes"][j])}
    ious: list[float] = []
    unmatched_b = unmatched_p = 0
    for j in frames:
        b = np.asarray(base["boxes"][j], np.float32).reshape(-1, 4)
        p = np.asarray(pipe["boxes"][j], np.float32).reshape(-1, 4)
        m = _match(b, p)
        ious += m
        unmatched_b += len(b) - len(m)
        unmatched_p += len(p) - len(m)
    return {
        "frames_compared": len(frames),
        "frames_face_baseline": len(fb),
        "frames_face_pipeline": len(fp),
        "frames_face_both": len(fb & fp),
        "matched_boxes": len(ious),
        "mean_iou": round(float(np.mean(ious)), 4) if ious else None,
        "min_iou": round(float(np.min(ious)), 4) if ious else None,
        "baseline_boxes_unmatched": unmatched_b,
        "pipeline_boxes_unmatched": unmatched_p,
    }


# --------------------------------------------------------------------------- report


def _row(stage: str, videos: int, sampled: int, decoded: int | None, s: float) -> dict[str, Any]:
    return {
        "stage": stage,
        "videos": videos,
        "sampled_frames": sampled,
        "decoded_frames": decoded,
        "seconds": round(s, 3),
        "sampled_frames_per_s": _rate(sampled, s),
        "videos_per_s": _rate(videos, s),
    }


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def stage_table(rows: list[dict[str, Any]]) -> str:
    head = "| stage | videos | sampled frames | decoded frames | s | sampled frames/s | videos/s |"
    lines = [head, "|" + "---|" * 7]
    for r in rows:
        lines.append(
            f"| {r['stage']} | {r['videos']} | {r['sampled_frames']} | {_fmt(r['decoded_frames'])}"
            f" | {_fmt(r['seconds'])} | {_fmt(r['sampled_frames_per_s'])}"
            f" | {_fmt(r['videos_per_s'], 3)} |"
        )
    return "\n".join(lines)


def video_table(videos: list[dict[str, Any]]) -> str:
    head = (
        "| video | size | frames | keyframes | baseline s (dec/det/write) | pipeline s "
        "(dec/det/trk) | decoded base/pipe | e2e s (tries, status) | e2e speedup "
        "| face frames base/pipe/both | mean IoU |"
    )
    lines = [head, "|" + "---|" * 11]
    for v in videos:
        b, p, e, q = v["baseline"], v["pipeline"], v["end_to_end"], v["equal_output"]
        lines.append(
            f"| {v['video_id']} | {v['width']}x{v['height']} | {v['frame_count']} "
            f"| {v['keyframes']} | {b['total_s']:.2f} ({b['decode_s']:.2f}/{b['detect_s']:.2f}/"
            f"{b['write_s']:.2f}) | {p['decode_s']:.2f}/{p['detect_s']:.2f}/"
            f"{p['track_crop_write_s']:.2f} | {b['decoded_frames']}/{p['decoded_frames']} "
            f"| {e['seconds']:.2f} ({e['tries']}, {e['status']}) | {_fmt(v['speedup_e2e'], 1)}x "
            f"| {q['frames_face_baseline']}/{q['frames_face_pipeline']}/{q['frames_face_both']} "
            f"| {_fmt(q['mean_iou'], 3)} |"
        )
    return "\n".join(lines)


def _speedups(rows: dict[str, dict[str, Any]], cores_ratio: float) -> dict[str, float | None]:
    """Pipeline videos/s over the baseline's; the parallel run also against an ideal baseline
    scaled to the same core count (``cores_ratio`` = pipeline cores / baseline threads)."""
    base = rows["baseline: total"]["videos_per_s"]
    out: dict[str, float | None] = {}
    e2e = rows["pipeline: end-to-end in-process"]["videos_per_s"]
    out["in-process vs baseline (same threads)"] = round(e2e / base, 2) if e2e and base else None
    par = rows.get("pipeline: run_videos_parallel", {}).get("videos_per_s")
    if par and base:
        out["run_videos_parallel vs baseline (1 process)"] = round(par / base, 2)
        out["run_videos_parallel vs baseline x cores (ideal scaling, derived)"] = round(
            par / (base * cores_ratio), 2
        )
    return out


def analysis(videos: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the pipeline's time goes, from the measured figures (no extra runs)."""
    e2e = sum(v["end_to_end"]["seconds"] for v in videos)
    retry = [v for v in videos if v["end_to_end"]["tries"] > 1]
    st = {k: sum(v["pipeline"][k] for v in videos) for k in ("decode_s", "detect_s")}
    st["track_crop_write_s"] = sum(v["pipeline"]["track_crop_write_s"] for v in videos)
    st_total = sum(st.values())
    by_size: dict[str, dict[str, float]] = {}
    for v in videos:
        key = f"{v['width']}x{v['height']}"
        d = by_size.setdefault(key, {"baseline_mtcnn_s": 0.0, "ensemble_s": 0.0})
        d["baseline_mtcnn_s"] += v["baseline"]["detect_s"]
        d["ensemble_s"] += v["pipeline"]["detect_s"]
    return {
        "e2e_share_in_replanned_videos": round(
            sum(v["end_to_end"]["seconds"] for v in retry) / e2e, 3
        )
        if e2e
        else None,
        "replanned_videos": {v["video_id"]: v["end_to_end"]["tries"] for v in retry},
        "one_pass_stage_shares": {k: round(x / st_total, 3) for k, x in st.items()}
        if st_total
        else {},
        "decoded_frames_pipeline_over_baseline": round(
            sum(v["pipeline"]["decoded_frames"] for v in videos)
            / max(1, sum(v["baseline"]["decoded_frames"] for v in videos)),
            3,
        ),
        "detect_speedup_by_size": {
            k: round(d["baseline_mtcnn_s"] / d["ensemble_s"], 2) if d["ensemble_s"] else None
            for k, d in by_size.items()
        },
    }


def write_markdown(path: Path, result: dict[str, Any]) -> None:
    m = result["machine"]
    lines = [
        "# faces_bench",
        "",
        f"Run {result['started']} ({'quick' if result['config']['quick'] else 'default'} mode)"
        f" on {m['cores_usable']} usable cores ({m['cpu']}), device {m['device']}, torch "
        f"threads {result['config']['threads']}, load average {m['load_before']} before / "
        f"{m['load_after']} after: **figures are from a shared, busy machine**.",
        "",
        "## Stages, all real videos",
        "",
        stage_table(result["stages"]["all"]),
        "",
    ]
    titles = {
        "hd": "HD videos only (shorter side >= 720)",
        "one_try": "videos the pipeline settled in one try (no seed-001 re-plans)",
    }
    for key, title in titles.items():
        if result["stages"].get(key):
            lines += [f"## Stages, {title}", "", stage_table(result["stages"][key]), ""]
    lines += ["## Speedup over the baseline (videos/s)", ""]
    for subset, sp in result["speedup"].items():
        lines += [f"* {subset}: " + ", ".join(f"{k}: {_fmt(v, 2)}x" for k, v in sp.items())]
    par = result.get("parallel") or {}
    if par:
        lines += [
            "",
            f"run_videos_parallel: {par.get('videos', '?')} jobs "
            f"({par.get('copies', 1)} cop{'y' if par.get('copies', 1) == 1 else 'ies'} of each "
            f"real video), {par['workers']} workers x {par['threads_per_worker']} "
            f"thread(s), wall {par['wall_s']} s; first result after {par['first_result_s']} s "
            f"(start-up ~{par['startup_est_s']} s), pool shutdown {par['shutdown_s']} s; "
            f"results identical to in-process: {all(par['same_as_in_process'].values())}; "
            f"wall of each call: {par['rounds_wall_s']} s. The naive baseline over the same "
            f"jobs in {par['workers']} processes: wall {par.get('baseline_wall_s', '-')} s "
            f"(**{_fmt(par.get('speedup_vs_baseline_same_processes'), 2)}x**).",
        ]
    lines += [
        "",
        f"Target {TARGET_SPEEDUP:.0f}x the baseline's videos/s, all videos: "
        + "; ".join(
            f"{k}: **{'met' if ok else 'not met'}**" for k, ok in result["target_met"].items()
        )
        + ".",
        "",
        "## Per video",
        "",
        video_table(result["videos"]),
        "",
    ]
    an = result.get("analysis") or {}
    if an:
        lines += [
            "## Where the pipeline's time goes (from the figures above)",
            "",
            f"* share of end-to-end time spent on videos the pipeline re-planned "
            f"(seed-001 retries, {an['replanned_videos']}): "
            f"{_fmt(an['e2e_share_in_replanned_videos'], 3)}",
            f"* one pass, share per stage: {an['one_pass_stage_shares']}",
            f"* frames decoded, pipeline / baseline: {an['decoded_frames_pipeline_over_baseline']}",
            f"* detection speedup (baseline MTCNN s / ensemble s) by frame size: "
            f"{an['detect_speedup_by_size']}",
            "",
        ]
    if result.get("fakes"):
        lines += ["## Fakes (process_fake_video: decode + crop at the original's boxes)", ""]
        for f in result["fakes"]:
            lines.append(
                f"* {f['fake_id']} (of {f['original_id']}): {f['seconds']:.2f} s, {f['status']},"
                f" {f['faces']} faces; the baseline detects again: {f['baseline_s']:.2f} s"
            )
        lines.append("")
    mix = result.get("dataset_mix")
    if mix:
        lines += [
            f"## A DFDC-like dataset: {mix['fakes_per_real']} fakes per real video",
            "",
            "Composed from the per-video times measured above (videos are independent work):",
            "baseline = real + k x fake, each decoded in full and detected; pipeline = real end",
            "to end + k x fake (original's frames and boxes, no detection).",
            "",
            "| original | baseline s | pipeline s | speedup |",
            "|---|---|---|---|",
        ]
        for row in mix["per_original"]:
            lines.append(
                f"| {row['original_id']} | {row['baseline_s']:.2f} | {row['pipeline_s']:.2f} |"
                f" {_fmt(row['speedup'])}x |"
            )
        lines += ["", f"Over these originals: **{_fmt(mix['speedup'])}x**.", ""]
    lines += ["## Notes", ""] + [f"* {n}" for n in result["notes"]] + [""]
    path.write_text("\n".join(lines))


FAKES_PER_REAL = 5  # DFDC ships about five fakes per real video


def dataset_mix(fakes: list[dict[str, Any]], k: int) -> dict[str, Any] | None:
    """Time of one real video plus `k` of its fakes, baseline vs pipeline, per original that
    the pipeline settled in one try (the fakes of a discarded original are not processed)."""
    rows = []
    for f in fakes:
        if not f["original_ok_in_one_try"]:
            continue
        base = f["original_baseline_s"] + k * f["baseline_s"]
        pipe = f["original_pipeline_s"] + k * f["seconds"]
        rows.append(
            {
                "original_id": f["original_id"],
                "baseline_s": round(base, 3),
                "pipeline_s": round(pipe, 3),
                "speedup": round(base / pipe, 2) if pipe > 0 else None,
            }
        )
    if not rows:
        return None
    base = sum(r["baseline_s"] for r in rows)
    pipe = sum(r["pipeline_s"] for r in rows)
    return {
        "fakes_per_real": k,
        "per_original": rows,
        "speedup": round(base / pipe, 2) if pipe > 0 else None,
    }


# --------------------------------------------------------------------------- main


def _subset_rows(
    videos: list[dict[str, Any]],
    plan_s: float,
    parallel_s: float | None,
    n_workers: int,
    parallel_videos: int | None = None,
) -> list[dict[str, Any]]:
    n = len(videos)
    sampled = sum(v["baseline"]["sampled_frames"] for v in videos)

    def tot(part: str, key: str) -> float:
        return sum(float(v[part][key]) for v in videos)

    def tot_i(part: str, key: str) -> int:
        return int(tot(part, key))

    p_sampled = tot_i("pipeline", "sampled_frames")
    e2e_frames = tot_i("end_to_end", "frames_decoded_over_tries")
    b_decoded = tot_i("baseline", "decoded_frames")
    rows = [
        _row("baseline: decode all (cv2)", n, sampled, b_decoded, tot("baseline", "decode_s")),
        _row("baseline: MTCNN full size, per frame", n, sampled, None, tot("baseline", "detect_s")),
        _row("baseline: crop 160 + PNG", n, sampled, None, tot("baseline", "write_s")),
        _row("baseline: total", n, sampled, b_decoded, tot("baseline", "total_s")),
        _row("pipeline: plan (first_and_even)", n, sampled, None, plan_s),
        _row("pipeline: seek-decode (read_frames)", n, p_sampled,
             tot_i("pipeline", "decoded_frames"), tot("pipeline", "decode_s")),
        _row("pipeline: detect (ensemble)", n, p_sampled, None, tot("pipeline", "detect_s")),
        _row("pipeline: track + 3 crops + PNG", n, p_sampled, None,
             tot("pipeline", "track_crop_write_s")),
        _row("pipeline: end-to-end in-process", n, e2e_frames, None, tot("end_to_end", "seconds")),
    ]  # fmt: skip
    if parallel_s is not None:
        rows.append(
            _row(
                f"pipeline: run_videos_parallel (workers={n_workers}, wall)",
                parallel_videos or n,
                e2e_frames * (parallel_videos or n) // n,
                None,
                parallel_s,
            )
        )
        rows[-1]["key"] = "pipeline: run_videos_parallel"
    for r in rows:
        r.setdefault("key", r["stage"])
    return rows


def main() -> None:  # noqa: C901 - a script: one straight run
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--workers", type=int, default=2, help="run_videos_parallel workers (0: skip)")
    ap.add_argument(
        "--parallel-copies",
        type=int,
        default=1,
        help="run_videos_parallel gets each real video this many times (enough work for many "
        "workers; each copy is a separate job with its own output)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch/OpenCV threads for the baseline and the in-process pipeline (default 1)",
    )
    ap.add_argument("--quick", action="store_true", help="fewer, shorter videos (smoke run)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path (.md beside it)")
    ap.add_argument("--detect-max-side", type=int, default=EnsembleConfig.detect_max_side)
    ap.add_argument("--clip-frames", type=int, default=300, help="frames per synthetic clip")
    ap.add_argument("--clip-dir", type=Path, default=None, help="keep/reuse synthetic clips here")
    ap.add_argument(
        "--repeat", type=int, default=None, help="rounds per video, fastest kept (2; quick: 1)"
    )
    ap.add_argument("--fixtures", type=Path, default=FIXTURE_VIDEOS)
    ap.add_argument("--no-fixtures", action="store_true")
    ap.add_argument("--profile", type=Path, default=None, help="cProfile the e2e stage to PATH")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device")

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_before = _load()
    threads = max(1, args.threads)
    set_threads(threads)
    first, evenly = (4, 4) if args.quick else (10, 7)
    repeat = max(1, args.repeat or (1 if args.quick else 2))

    work = Path(tempfile.mkdtemp(prefix="faces_bench_"))
    clip_dir = args.clip_dir or work / "clips"
    try:
        clips = build_clips(args, clip_dir, say)
        say(f"{len(clips)} real videos: " + ", ".join(
            f"{c.video_id} {c.width}x{c.height} {c.frame_count}f" for c in clips
        ))  # fmt: skip

        # ---- models, warmed up on a 720p frame with a face (every detector and judge runs)
        from facenet_pytorch import MTCNN

        mtcnn = MTCNN(keep_all=True, device=args.device)
        ens_cfg = EnsembleConfig(
            device=args.device, threads=threads, detect_max_side=args.detect_max_side
        )
        try:
            ensemble = FaceEnsemble(ens_cfg)
        except BlazeFaceModelNotFound as e:
            sys.exit(f"the ensemble needs the BlazeFace models: {e}")
        # Warm up at every resolution: oneDNN builds its kernels per input shape on first use.
        say("warming up both detectors at every video size")
        for size in sorted({(c.width, c.height) for c in clips}):
            c = next(c for c in clips if (c.width, c.height) == size)
            frame = read_frames(c.path, [0]).frames[0]
            mtcnn.detect(frame)
            ensemble.detect([frame, frame])

        # ---- plan (timed) -----------------------------------------------------------------
        table = pl.DataFrame(
            {
                "video_id": [c.video_id for c in clips],
                "label": ["REAL"] * len(clips),
                "frame_count": [c.frame_count for c in clips],
            }
        )
        t0 = time.perf_counter()
        plan = plan_source(table, "first_and_even", seed=0, first=first, evenly=evenly)
        plans = plan.as_dict()
        plan_s = time.perf_counter() - t0
        for c in clips:
            assert plans[c.video_id] == first_and_even_indices(c.frame_count, first, evenly)

        # ---- per video: baseline, pipeline stages, pipeline end to end, back to back so that
        # the three see the same machine load (it moves a lot on a shared box)
        videos: list[dict[str, Any]] = []
        base_dir, stage_dir, e2e_dir, par_dir = (work / n for n in ("base", "st", "e2e", "par"))
        prof = cProfile.Profile() if args.profile else None
        results: dict[str, VideoFaces] = {}
        for c in clips:
            say(f"{c.video_id}: baseline, stages, end to end")
            v: dict[str, Any] = {
                "video_id": c.video_id,
                "origin": c.origin,
                "path": str(c.path),
                "width": c.width,
                "height": c.height,
                "frame_count": c.frame_count,
                "keyframes": c.keyframes,
                "size_mb": c.size_mb,
                "plan": plans[c.video_id],
                "load_before": _load(),
            }
            # --repeat rounds, back to back; the fastest round of each block is kept (the
            # least disturbed by the other work on the machine), all rounds are recorded.
            rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "pipeline": [], "e2e": []}
            for _ in range(repeat):
                b = baseline_video(c, plans[c.video_id], mtcnn, threads, base_dir)
                rounds["baseline"].append(b)
                st = pipeline_stages(c, plans[c.video_id], ensemble, stage_dir)
                st["total_s"] = st["decode_s"] + st["detect_s"] + st["track_crop_write_s"]
                rounds["pipeline"].append(st)
                if prof:
                    prof.enable()
                t0 = time.perf_counter()
                r = process_real_video(c.path, c.video_id, plans[c.video_id], ensemble, e2e_dir)
                dt = time.perf_counter() - t0
                if prof:
                    prof.disable()
                results[c.video_id] = r
                rounds["e2e"].append(_e2e_summary(r, dt))
            v["baseline"] = min(rounds["baseline"], key=lambda x: x["total_s"])
            v["pipeline"] = min(rounds["pipeline"], key=lambda x: x["total_s"])
            v["end_to_end"] = min(rounds["e2e"], key=lambda x: x["seconds"])
            v["rounds_s"] = {
                "baseline": [round(x["total_s"], 3) for x in rounds["baseline"]],
                "pipeline_stages": [round(x["total_s"], 3) for x in rounds["pipeline"]],
                "end_to_end": [round(x["seconds"], 3) for x in rounds["e2e"]],
            }
            v["equal_output"] = equal_output(v["baseline"], v["pipeline"])
            e2e_s = v["end_to_end"]["seconds"]
            v["speedup_e2e"] = round(v["baseline"]["total_s"] / e2e_s, 2) if e2e_s > 0 else None
            videos.append(v)
        if prof:
            args.profile.parent.mkdir(parents=True, exist_ok=True)
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(40)
            s2 = io.StringIO()
            pstats.Stats(prof, stream=s2).sort_stats("tottime").print_stats(25)
            args.profile.write_text(s.getvalue() + "\n" + s2.getvalue())
            say(f"profile written to {args.profile}")

        # ---- fakes: crop at the original's boxes, no detection ---------------------------
        fakes = []
        for c, v in zip(clips, videos, strict=True):
            for fid, fpath in c.fakes:
                t0 = time.perf_counter()
                fr = process_fake_video(fpath, fid, results[c.video_id], e2e_dir)
                dt = time.perf_counter() - t0
                # the baseline treats a fake like any video: decode all, MTCNN every frame
                fake_clip = replace(c, video_id=fid, path=fpath, fakes=[])
                fb = baseline_video(fake_clip, plans[c.video_id], mtcnn, threads, base_dir)
                fakes.append(
                    {
                        "fake_id": fid,
                        "original_id": c.video_id,
                        "seconds": round(dt, 3),
                        "status": fr.status,
                        "reason": fr.reason,
                        "faces": len(fr.faces),
                        "frames": len(fr.frame_indices),
                        "baseline_s": round(fb["total_s"], 3),
                        "original_ok_in_one_try": v["end_to_end"].get("tries") == 1
                        and results[c.video_id].ok,
                        "original_baseline_s": round(v["baseline"]["total_s"], 3),
                        "original_pipeline_s": round(v["end_to_end"]["seconds"], 3),
                    }
                )
        mix = dataset_mix(fakes, FAKES_PER_REAL)

        # ---- run_videos_parallel across the set (spawned workers; includes their start-up)
        parallel_s = None
        parallel: dict[str, Any] = {}
        if args.workers > 0:
            tpw = max(1, threads // args.workers)
            copies = max(1, args.parallel_copies)
            jobs = [
                VideoJob(
                    f"{c.video_id}{COPY_MARK}{k}" if copies > 1 else c.video_id,
                    str(c.path),
                    "real",
                    tuple(plans[c.video_id]),
                )
                for k in range(copies)
                for c in clips
            ]
            say(f"parallel  {len(jobs)} videos, {args.workers} workers x {tpw} threads")
            runs: list[dict[str, Any]] = []
            for k in range(repeat):
                load0 = _load()
                done_at: dict[str, float] = {}
                same: dict[str, bool] = {}
                t0 = time.perf_counter()
                with LocalExecutor(args.workers, tpw) as executor:
                    for r, _ in run_families(
                        executor,
                        jobs,
                        par_dir / str(k),
                        VideoFacesConfig(),
                        ensemble_config=replace(ens_cfg, threads=None),
                        threads_per_worker=tpw,
                    ):
                        done_at[r.video_id] = round(time.perf_counter() - t0, 2)
                        ref = results[r.video_id.split(COPY_MARK)[0]]
                        same[r.video_id] = (r.status, len(r.faces)) == (ref.status, len(ref.faces))
                wall = time.perf_counter() - t0
                # Fixed costs of one call: spawning the workers and building one ensemble each
                # (time to the first result less that video's in-process time), and shutdown.
                first = min(done_at, key=done_at.get)
                startup = done_at[first] - next(
                    v["end_to_end"]["seconds"]
                    for v in videos
                    if v["video_id"] == first.split(COPY_MARK)[0]
                )
                tail = wall - max(done_at.values())
                runs.append(
                    {
                        "wall_s": round(wall, 3),
                        "first_result_s": done_at[first],
                        "startup_est_s": round(startup, 2),
                        "shutdown_s": round(tail, 2),
                        "wall_less_fixed_costs_s": round(wall - max(startup, 0) - tail, 2),
                        "done_at_s": done_at,
                        "same_as_in_process": same,
                        "load_before": load0,
                        "load_after": _load(),
                    }
                )
            best = min(runs, key=lambda x: x["wall_s"])
            parallel_s = best["wall_s"]
            # The same jobs through the naive script in as many processes (measured, once).
            say(f"parallel  baseline: {len(jobs)} videos, {args.workers} processes x {tpw} threads")
            by_id = {c.video_id: c for c in clips}
            base_jobs = [
                (
                    replace(by_id[j.video_id.split(COPY_MARK)[0]], video_id=j.video_id),
                    list(j.plan_indices),
                )
                for j in jobs
            ]
            base_par = baseline_parallel(
                base_jobs, args.workers, tpw, args.device, work / "baseline_parallel"
            )
            par_base_s = base_par["wall_s"]
            parallel = {
                **best,
                "workers": args.workers,
                "threads_per_worker": tpw,
                "copies": copies,
                "videos": len(jobs),
                "baseline_wall_s": par_base_s,
                "baseline_done_at_s": base_par["done_at_s"],
                "speedup_vs_baseline_same_processes": round(par_base_s / best["wall_s"], 2),
                "rounds_wall_s": [x["wall_s"] for x in runs],
                "rounds": runs,
            }
        load_after = _load()

        # ---- tables ---------------------------------------------------------------------
        subsets = {
            "all": videos,
            "hd": [v for v in videos if min(v["width"], v["height"]) >= 720],
            "one_try": [v for v in videos if v["end_to_end"]["tries"] == 1],
        }
        cores_ratio = (
            args.workers * max(1, threads // args.workers) / threads if args.workers > 0 else 1.0
        )
        stages: dict[str, list[dict[str, Any]]] = {}
        speedup: dict[str, dict[str, float | None]] = {}
        for name, vs in subsets.items():
            if not vs:
                continue
            # the parallel wall time only exists for the whole set
            rows = _subset_rows(
                vs,
                plan_s * len(vs) / len(videos),
                parallel_s if name == "all" else None,
                args.workers,
                parallel.get("videos"),
            )
            stages[name] = rows
            speedup[name] = _speedups({r["key"]: r for r in rows}, cores_ratio)
        if fakes:
            stages["all"].append(
                _row(
                    "pipeline: fakes (process_fake_video, no detection)",
                    len(fakes),
                    sum(f["frames"] for f in fakes),
                    None,
                    sum(f["seconds"] for f in fakes),
                )
                | {"key": "fakes"}
            )
        if parallel.get("wall_less_fixed_costs_s"):
            base_vps = len(videos) / sum(v["baseline"]["total_s"] for v in videos)
            steady = parallel["videos"] / parallel["wall_less_fixed_costs_s"]
            speedup["all"]["run_videos_parallel less pool start-up/shutdown vs baseline x cores"
                           " (derived)"] = round(steady / (base_vps * cores_ratio), 2)  # fmt: skip
        target = {
            "in-process, same threads (measured)": speedup["all"][
                "in-process vs baseline (same threads)"
            ],
            "run_videos_parallel vs the naive one-process baseline (measured)": speedup["all"].get(
                "run_videos_parallel vs baseline (1 process)"
            ),
            "run_videos_parallel vs the naive baseline in as many processes (measured)": (
                parallel.get("speedup_vs_baseline_same_processes")
            ),
            "run_videos_parallel vs baseline x cores (ideal scaling)": speedup["all"].get(
                "run_videos_parallel vs baseline x cores (ideal scaling, derived)"
            ),
        }
        target_met = {k: bool(x is not None and x >= TARGET_SPEEDUP) for k, x in target.items()}
        notes = [
            f"per video, baseline / stages / end-to-end are each the fastest of {repeat} "
            "round(s) run back to back (all rounds are in videos[].rounds_s); the "
            "run_videos_parallel figure is the fastest of as many calls (parallel.rounds); the "
            "fakes run once.",
            "sampled frames = the planned frames (the output); decoded frames = what the "
            "decoder produced to get them (the baseline decodes the whole file).",
            "end-to-end includes the seed-001 retries: a video whose main face is not in every "
            "sampled frame is re-planned (+20 frames) and decoded + detected again, up to 6 "
            "tries (bikes: faces only in frames 30-43 / 103-136; bigbuckbunny: no human face). "
            "The baseline never retries.",
            "run_videos_parallel wall time includes spawning the workers and building one "
            "ensemble per worker (torch, MTCNN, BlazeFace, dlib imports).",
            "equal output: pipeline boxes are the ensemble's (MTCNN boxes on the downscaled "
            "frame, mapped back); the baseline keeps every MTCNN box (incl. non-faces such as "
            "the cartoon rabbit), the pipeline only faces its detectors agree on.",
            f"baseline decode uses OpenCV's FFmpeg with {threads} thread(s); the pipeline's "
            "read_frames decodes with 1 thread (as process_real_video calls it).",
        ]
        if any(c.origin == "synthetic" for c in clips):
            notes.append(
                "synthetic clips: astronaut (scikit-image) under a panning 1080p camera with "
                "noise, 30 fps; *_gop250 written by H264Writer (x264 default keyint 250), "
                "*_gop30 with a keyframe every 30 frames."
            )
        result = {
            "benchmark": "faces_bench",
            "started": started,
            "config": {
                "quick": args.quick,
                "device": args.device,
                "threads": threads,
                "workers": args.workers,
                "repeat": repeat,
                "plan": {"strategy": "first_and_even", "first": first, "evenly": evenly},
                "ensemble": {
                    "detect_max_side": ens_cfg.detect_max_side,
                    "detectors": list(ens_cfg.detectors),
                    "proposers": list(ens_cfg.proposers),
                    "min_face_px": ens_cfg.min_face_px,
                },
                "baseline": {
                    "decoder": "cv2.VideoCapture grab() every frame, retrieve() planned",
                    "detector": "facenet_pytorch.MTCNN(keep_all=True), full-size frame, "
                    "one frame at a time",
                    "crop": f"{BASELINE_SIZE}x{BASELINE_SIZE}, {BASELINE_MARGIN:.0%} margin, PNG",
                },
            },
            "machine": {
                "cores_total": os.cpu_count(),
                "cores_usable": len(os.sched_getaffinity(0)),
                "cpu": platform.processor() or platform.machine(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "opencv": cv2.__version__,
                "pyav": av.__version__,
                "device": (
                    torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
                ),
                "load_before": load_before,
                "load_after": load_after,
            },
            "stages": {
                k: [{kk: vv for kk, vv in r.items() if kk != "key"} for r in rows]
                for k, rows in stages.items()
            },
            "speedup": speedup,
            "target_speedup": TARGET_SPEEDUP,
            "target_met": target_met,
            "analysis": analysis(videos),
            "parallel": parallel,
            "fakes": fakes,
            "dataset_mix": mix,
            "videos": [
                {
                    **{k: val for k, val in v.items() if k not in ("baseline", "pipeline")},
                    "baseline": {k: val for k, val in v["baseline"].items() if k != "boxes"},
                    "pipeline": {k: val for k, val in v["pipeline"].items() if k != "boxes"},
                }
                for v in videos
            ],
            "notes": notes,
        }  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        write_markdown(args.out.with_suffix(".md"), result)

        print()
        print(f"load average {load_before} -> {load_after} on {len(os.sched_getaffinity(0))} cores")
        for name, rows in stages.items():
            print(f"\n{name} videos\n" + stage_table(rows))
        print("\n" + video_table(result["videos"]))
        for name, sp in speedup.items():
            print(f"speedup ({name}): " + ", ".join(f"{k}: {_fmt(x)}x" for k, x in sp.items()))
        print("analysis: " + json.dumps(result["analysis"]))
        if parallel:
            print(
                f"parallel: wall {parallel['wall_s']} s, first result {parallel['first_result_s']}"
                f" s (start-up ~{parallel['startup_est_s']} s), shutdown"
                f" {parallel['shutdown_s']} s; {parallel['videos']} videos; naive baseline in"
                f" {parallel['workers']} processes: wall {parallel['baseline_wall_s']} s"
            )
        if fakes:
            fs = sum(f["seconds"] for f in fakes)
            print(f"fakes: {len(fakes)} in {fs:.2f} s ({_rate(len(fakes), fs)} videos/s)")
        if mix:
            print(
                f"dataset with {mix['fakes_per_real']} fakes per real (composed from the "
                f"per-video times): {mix['speedup']}x"
            )
        for k, ok in target_met.items():
            print(f"target {TARGET_SPEEDUP}x, {k}: {target[k]}x -> {'met' if ok else 'NOT met'}")
        print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
