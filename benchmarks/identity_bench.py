"""Identity core benchmark: embedder throughput, actor clustering and duplicate grouping at scale.

    python benchmarks/identity_bench.py [--threads 2] [--face-level-max 200000] [--quick]

Prints the figures and writes benchmarks/results/identity_bench.json (the machine, its core
count and the load average at start and end are recorded with the figures; notes on the machine
the decisions were measured on: identity_bench.md). Targets: 200k embeddings clustered < 10 min,
1M hashes grouped < 2 min.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import polars as pl
import threadpoolctl
import torch

from deepfake_assets.identity.clustering import ClusterParams, cluster_embeddings, default_params
from deepfake_assets.identity.dedup import choose_n_blocks, group_duplicates, near_pairs
from deepfake_assets.identity.embedders import DlibEmbedder, FacenetEmbedder
from deepfake_assets.identity.hashing import phash_batch, to_int64

RESULTS = Path(__file__).resolve().parent / "results" / "identity_bench.json"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _ari(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


# ------------------------------------------------------------------------------------------
# Embedders
# ------------------------------------------------------------------------------------------


def real_faces(n: int) -> np.ndarray:
    """n 160x160 crops: altered variants of the two packaged faces (astronaut, Grace Hopper)."""
    from deepfake_assets.testing.face_data import variant_faces

    faces, _, _ = variant_faces(with_fixtures=False)
    reps = int(np.ceil(n / len(faces)))
    return np.concatenate([faces] * reps)[:n]


def bench_embedders(n_dlib: int, n_facenet: int) -> dict:
    out = {}
    dlib_emb = DlibEmbedder()
    faces = real_faces(max(n_dlib, n_facenet))
    dlib_emb.embed(faces[:4])  # warm-up
    t = time.perf_counter()
    dlib_emb.embed(faces[:n_dlib])
    dt = time.perf_counter() - t
    out["dlib-resnet-v1"] = {
        "faces": n_dlib,
        "seconds": round(dt, 2),
        "faces_per_second": round(n_dlib / dt, 1),
        "includes": "5-point landmarks + alignment to a 150x150 chip + ResNet descriptor",
    }
    fn = FacenetEmbedder("random", device="cpu", batch_size=32)
    fn.embed(faces[:4])
    t = time.perf_counter()
    fn.embed(faces[:n_facenet])
    dt = time.perf_counter() - t
    out["facenet-architecture-random-weights"] = {
        "faces": n_facenet,
        "seconds": round(dt, 2),
        "faces_per_second": round(n_facenet / dt, 1),
        "batch_size": 32,
        "note": "InceptionResnetV1 with untrained weights: the speed of facenet-vggface2",
    }
    return out


# ------------------------------------------------------------------------------------------
# Clustering
# ------------------------------------------------------------------------------------------


def synthetic_faces(
    n_faces: int,
    n_actors: int = 2000,
    faces_per_track: int = 17,
    dim: int = 128,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors shaped like dlib embeddings of real faces (module docs of clustering):
    different people ~0.53 apart, two recordings of one person ~0.10 apart (track centres),
    faces within a track ~0.10 apart. Returns (embeddings, actor, track)."""
    rng = np.random.default_rng(seed)
    per_actor = max(1, n_faces // n_actors)
    tracks_per_actor = int(np.ceil(per_actor / faces_per_track))
    mu = rng.standard_normal(dim)
    mu /= np.linalg.norm(mu)
    scale = 1.0 / np.sqrt(2 * dim)
    centres = mu + 0.53 * scale * rng.standard_normal((n_actors, dim))
    actor = np.repeat(np.arange(n_actors), per_actor)
    slot = np.tile(np.arange(per_actor), n_actors)
    track = actor * tracks_per_actor + slot // faces_per_track
    track_centres = centres[np.arange(n_actors).repeat(tracks_per_actor)]
    track_centres = track_centres + 0.10 * scale * rng.standard_normal(track_centres.shape)
    x = track_centres[track] + 0.10 * scale * rng.standard_normal((len(actor), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), actor, track


def _merged(labels: np.ndarray, actor: np.ndarray) -> int:
    """Clusters holding more than one true actor."""
    df = pl.DataFrame({"c": labels, "a": actor})
    return int(df.group_by("c").agg(pl.col("a").n_unique()).filter(pl.col("a") > 1).height)


def bench_clustering(sizes: list[int], face_level_max: int) -> dict:
    params = default_params("dlib-resnet-v1")
    out = {
        "params": {"method": params.method, "eps": params.eps, "min_samples": params.min_samples}
    }
    for n in sizes:
        x, actor, track = synthetic_faces(n)
        row: dict = {"faces": n, "actors": int(actor.max()) + 1, "tracks": int(track.max()) + 1}
        t = time.perf_counter()
        res = cluster_embeddings(x, params=params, groups=track)
        dt = time.perf_counter() - t
        row["track_level"] = {
            "seconds": round(dt, 2),
            "ari": round(_ari(actor, res.labels), 4),
            "clusters": res.n_clusters,
            "clusters_merging_actors": _merged(res.labels, actor),
        }
        if n <= face_level_max:
            t = time.perf_counter()
            res = cluster_embeddings(x, params=params)
            dt = time.perf_counter() - t
            row["face_level_exact"] = {
                "seconds": round(dt, 2),
                "ari": round(_ari(actor, res.labels), 4),
                "clusters": res.n_clusters,
                "clusters_merging_actors": _merged(res.labels, actor),
                "edges": res.stats.get("edges"),
            }
        out[str(n)] = row
        print(json.dumps(row), flush=True)
    # Seed 001's t-SNE + DBSCAN, on a size it can handle: 2000 faces of 200 actors.
    x, actor, _ = synthetic_faces(2000, n_actors=200)
    t = time.perf_counter()
    res = cluster_embeddings(x, params=ClusterParams(method="tsne_dbscan"))
    out["tsne_dbscan_2000_faces_200_actors"] = {
        "seconds": round(time.perf_counter() - t, 2),
        "ari": round(_ari(actor, res.labels), 4),
        "clusters_merging_actors": _merged(res.labels, actor),
    }
    print(json.dumps(out["tsne_dbscan_2000_faces_200_actors"]), flush=True)
    return out


# ------------------------------------------------------------------------------------------
# Duplicate grouping
# ------------------------------------------------------------------------------------------


def synthetic_items(n: int, seed: int = 0) -> tuple[pl.DataFrame, dict]:
    """n hash items: 3 sources, 17-frame videos, each real with 2 fakes (one family), random
    hashes, planted near duplicates (2-4 bits), exact duplicates, static runs, and copies of
    whole videos in another source."""
    rng = np.random.default_rng(seed)
    frames_per_video = 17
    n_videos = n // frames_per_video
    h = rng.integers(0, 2**64 - 1, size=n_videos * frames_per_video, dtype=np.uint64, endpoint=True)
    video = np.repeat(np.arange(n_videos), frames_per_video)
    frame = np.tile(np.arange(frames_per_video) * 10, n_videos)
    vids = np.arange(n_videos)
    source = video % 3
    role = (vids // 3) % 3  # per video: 0 real, 1 and 2 fakes of the real video 3*role before
    family = np.where(role == 0, vids, vids - 3 * role)
    label = np.where(role == 0, "real", "fake")
    m = len(h)
    planted = {}

    def flip(idx: np.ndarray, bits: int) -> np.ndarray:
        out = h[idx].copy()
        for _ in range(bits):
            out ^= np.uint64(1) << rng.integers(0, 64, len(idx)).astype(np.uint64)
        return out

    # near duplicates of random items, anywhere (different videos)
    k = m // 40
    src, dst = rng.choice(m, k, replace=False), rng.choice(m, k, replace=False)
    h[dst] = flip(src, 2)
    planted["near_pairs_2bit_flips"] = k
    # exact duplicates
    k2 = m // 200
    src, dst = rng.choice(m, k2, replace=False), rng.choice(m, k2, replace=False)
    h[dst] = h[src]
    planted["exact_copies"] = k2
    # static runs: in 2 % of videos frames 1-3 repeat frame 0 (1 bit apart)
    static_videos = rng.choice(n_videos, n_videos // 50, replace=False)
    for off in (1, 2, 3):
        idx = static_videos * frames_per_video + off
        h[idx] = h[static_videos * frames_per_video] ^ (np.uint64(1) << np.uint64(off))
    planted["static_videos"] = len(static_videos)
    # whole real videos copied into the next source, re-encoded (1 bit)
    reals = np.flatnonzero(role == 0)
    pick = rng.choice(reals[reals + 1 < n_videos], n_videos // 300, replace=False)
    for f in range(frames_per_video):
        a, b = pick * frames_per_video + f, (pick + 1) * frames_per_video + f
        h[b] = h[a] ^ (np.uint64(1) << np.uint64(f))
    label[pick + 1] = "real"  # the copy is a real video of its own family in another source
    family[pick + 1] = pick + 1
    planted["copied_videos"] = len(pick)
    items = pl.DataFrame(
        {
            "item_id": np.arange(m),
            "hash": to_int64(h),
            "source": np.char.add("ds", source.astype(str)),
            "video_id": np.char.add("v", video.astype(str)),
            "family_id": np.char.add("v", family[video].astype(str)),
            "frame_index": frame,
            "label": label[video],
            "kind": "face",
        }
    )
    return items, planted


def bench_dedup(n: int) -> dict:
    items, planted = synthetic_items(n)
    h = items["hash"].to_numpy()
    m = choose_n_blocks(len(h), 4)
    t = time.perf_counter()
    i, _, _ = near_pairs(h, 4)
    t_pairs = time.perf_counter() - t
    t = time.perf_counter()
    res = group_duplicates(items)
    t_group = time.perf_counter() - t
    by_reason = res.duplicates.group_by(pl.col("reason_code").alias("reason")).len().sort("reason")
    out = {
        "items": items.height,
        "planted": planted,
        "threshold": 4,
        "n_blocks": m,
        "near_pairs_seconds": round(t_pairs, 2),
        "near_pairs_found": int(len(i)),
        "group_duplicates_seconds": round(t_group, 2),
        "duplicates": res.duplicates.height,
        "by_reason": dict(by_reason.iter_rows()),
        "identical_video_pairs": int(res.video_matches["identical"].sum()),
        "stats": {k: v for k, v in res.stats.items() if k != "n_blocks"},
    }
    # The phash itself: 160x160 crops per second.
    crops = real_faces(512)
    t = time.perf_counter()
    phash_batch(crops)
    out["phash_160_crops_per_second"] = round(len(crops) / (time.perf_counter() - t), 1)
    return out


# ------------------------------------------------------------------------------------------
# The data behind the defaults (dedup threshold, clustering eps)
# ------------------------------------------------------------------------------------------


def _summary(values) -> dict:
    v = np.asarray(list(values), dtype=float)
    return {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}


def measure_thresholds() -> dict:
    """pHash distances of altered copies vs different content, and dlib distances of one
    person's altered faces vs different people: the numbers in dedup's / clustering's docs."""
    import cv2

    from deepfake_assets.identity.clustering import calibrate_eps
    from deepfake_assets.identity.hashing import hamming
    from deepfake_assets.testing.face_data import (
        CARPHONE_BOXES,
        FIXTURES,
        crop_160,
        fixture_people,
        jpeg,
        packaged_people,
        relight,
        rescale,
        variant_faces,
        video_frames,
    )

    people = {k: [v] for k, v in packaged_people().items()}
    people.update(fixture_people())
    faces = {
        f"{pid}#{s}": crop_160(img, box)
        for pid, shots in people.items()
        for s, (img, box) in enumerate(shots)
    }
    alter = {
        "jpeg_q30": lambda x: jpeg(x, 30),
        "jpeg_q15": lambda x: jpeg(x, 15),
        "scale_0.5": lambda x: rescale(x, 0.5),
        "scale_0.3": lambda x: rescale(x, 0.3),
        "brightness_+10%": lambda x: relight(x, 1.1),
        "brightness_-10%": lambda x: relight(x, 0.9),
        "gamma_0.8": lambda x: relight(x, 1.0, 0.8),
        "jpeg30_scale0.5_bright+8%": lambda x: jpeg(relight(rescale(x, 0.5), 1.08), 30),
    }
    out: dict = {"phash": {"face_crops": len(faces)}}
    same = {}
    for name, f in alter.items():
        d = [int(hamming(*phash_batch([im, f(im)]))) for im in faces.values()]
        same[name] = _summary(d)
    out["phash"]["same_face_altered"] = same
    names = list(faces)
    h = phash_batch([faces[n] for n in names])
    pid = [n.split("#")[0] for n in names]
    diff = [
        int(hamming(h[i], h[j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if pid[i] != pid[j]
    ]
    out["phash"]["different_people"] = _summary(diff)
    pan = {}
    for name, (img, _) in packaged_people().items():
        # camera moving 2 px right and 1 px down per frame while zooming in 1 px per frame
        frames = [
            cv2.resize(
                img[10 + t : 310, 20 + 2 * t : 320 + t], (160, 160), interpolation=cv2.INTER_AREA
            )
            for t in range(30)
        ]
        hp = phash_batch(frames)
        pan[name] = {
            "consecutive": _summary(hamming(hp[:-1], hp[1:])),
            "by_offset": {str(k): int(hamming(hp[0], hp[k])) for k in (1, 2, 4, 10, 20)},
        }
    out["phash"]["synthetic_moving_camera"] = pan
    if FIXTURES.is_dir():
        box = (50, 35, 105, 90)
        pristine = video_frames(FIXTURES / "videos" / "carphone_pristine.mp4")
        distorted = video_frames(FIXTURES / "videos" / "carphone_distorted.mp4")
        fp = phash_batch([pristine[i] for i in sorted(pristine)])
        cp = phash_batch([crop_160(pristine[i], box, 0) for i in sorted(pristine)])
        fd = phash_batch([distorted[i] for i in sorted(distorted)])
        cd = phash_batch([crop_160(distorted[i], box, 0) for i in sorted(distorted)])

        def share(d: np.ndarray) -> dict:
            return {**_summary(d), "fraction_le_4": round(float((d <= 4).mean()), 3)}

        out["phash"]["carphone_real_video"] = {
            "consecutive_full_frame": share(hamming(fp[:-1], fp[1:])),
            "consecutive_face_crop": share(hamming(cp[:-1], cp[1:])),
            "lag10_full_frame": share(hamming(fp[:-10], fp[10:])),
            "lag10_face_crop": share(hamming(cp[:-10], cp[10:])),
            "vs_altered_replicate_full_frame": share(hamming(fp, fd)),
            "vs_altered_replicate_face_crop": share(hamming(cp, cd)),
            "face_box": list(box),
            "carphone_boxes_for_embeddings": {str(k): v for k, v in CARPHONE_BOXES.items()},
        }
    vf, ids, _ = variant_faces(with_fixtures=FIXTURES.is_dir())
    emb = DlibEmbedder().embed(vf)
    out["dlib_unit_distances"] = {
        "faces": len(vf),
        "identities": len(set(ids)),
        **{k: round(v, 4) for k, v in calibrate_eps(emb, np.asarray(ids)).items()},
    }
    return out


def _targets(report: dict) -> dict:
    c200 = report["clustering"].get("200000", {})
    cluster_s = c200.get("track_level", {}).get("seconds")
    group_s = report["dedup"]["group_duplicates_seconds"]
    return {
        "cluster_200k_embeddings": {
            "target_s": 600,
            "seconds_track_level_default": cluster_s,
            "seconds_face_level_exact": c200.get("face_level_exact", {}).get("seconds"),
            "met": cluster_s is not None and cluster_s < 600,
        },
        "group_1M_hashes": {
            "target_s": 120,
            "items": report["dedup"]["items"],
            "seconds": group_s,
            "met": report["dedup"]["items"] >= 999_000 and group_s < 120,
        },
    }


SECTIONS = ("thresholds", "embedders", "dedup", "clustering")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--face-level-max", type=int, default=200_000)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated subset of " + ",".join(SECTIONS) + " (others kept from the file)",
    )
    args = ap.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    sizes = [2000, 20_000] if args.quick else [20_000, 100_000, 200_000]
    report: dict = {}
    if RESULTS.is_file() and set(sections) != set(SECTIONS):
        report = json.loads(RESULTS.read_text())
    report["machine"] = {
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_start": _load(),
        "note": "shared machine: other jobs were running (load average vs cpus)",
        "sections_run": sections,
    }
    t0 = time.perf_counter()
    n_embed = 16 if args.quick else 64
    runners = {
        "thresholds": measure_thresholds,
        "embedders": lambda: bench_embedders(n_embed, n_embed),
        "dedup": lambda: bench_dedup(20_000 if args.quick else 1_000_000),
        "clustering": lambda: bench_clustering(sizes, args.face_level_max),
    }
    for name in sections:
        report[name] = runners[name]()
        print(json.dumps({name: report[name]}, indent=1), flush=True)
    report["machine"]["load_average_end"] = _load()
    report["machine"]["total_seconds"] = round(time.perf_counter() - t0, 1)
    if "dedup" in report and "clustering" in report:
        report["targets"] = _targets(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
