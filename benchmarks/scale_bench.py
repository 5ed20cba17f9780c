"""The stages over all sources (`build_dataset`) on a synthetic catalog of 100k-1M faces.

    python benchmarks/scale_bench.py --faces 100000 300000 1000000

For each size it writes, in seconds, the per-source catalog tables the stages read, with the
structure real data has: three sources (one unnamed and `balanced` like DFDC, two that name
actors and donors like FaceForensics++ and Celeb-DF), actors with several real videos each,
originals with 1-5 fakes that reuse their frames and boxes, two-person videos (10%), static
frames whose hashes are 1-2 bits from the previous frame's (near duplicates), videos copied from
one source into another (cross-dataset duplicates), dlib-sized (128-d) embeddings clustered by
actor, 4 embeddings per fake track drawn towards its donor, SSIM per fake face. Crop and mask
paths are hard links to four placeholder PNGs (real PNGs of the real sizes), so the export and
the file check touch one directory entry per file as they would on real data. Each file's key is
recorded per source as the faces and fake_groups stages record the files they wrote and verified
(`media/written_files.py`); what that verification costs the writing worker is measured apart
(`write_verification`: µs per crop written, plain atomic write vs write + read back + decode).

Then the stages run one after the other in one fresh process, as the CLI's run worker runs
`build_dataset` (`execution: in_process`): `duplicate_groups`, `actor_clusters`,
`fake_identities`, `fake_groups`' level grouping (the pure part of that per-source asset:
per-video statistics and levels), `fold_splits`, its checks, `exported_dataset` (every format,
DeepfakeBench landmarks off) and its checks (first with the writers' records only, then again
with the check's own verdicts cached);
then DeepfakeBench landmarks of 2,000 crops, cold and cached. Wall time and peak RSS (VmHWM,
reset before each stage) per stage are printed and written to
`benchmarks/results/scale_bench.json` with the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FRAMES_PER_VIDEO = 8
DIM = 128
SOURCES = (  # name, share of faces, names actors/donors, balanced sampling
    ("dfdc_synth", 0.60, False, True),
    ("ffpp_synth", 0.25, True, False),
    ("celebdf_synth", 0.15, True, False),
)
STAGES = (
    "duplicate_groups",
    "actor_clusters",
    "fake_identities",
    "fake_groups_levels",
    "fold_splits",
    "fold_splits_checks",
    "exported_dataset",
    "crop_and_mask_files_decode",
    "crop_and_mask_files_decode_cached",
)


# -- the synthetic catalog -------------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _placeholders(root: Path) -> dict[str, Path]:
    from deepfake_assets.media.images import write_png_atomic

    rng = np.random.default_rng(1)
    files = {}
    for kind, size in (("160", 160), ("299", 299), ("raw", 220), ("mask", 160)):
        img = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
        img = np.kron(img, np.ones((8, 8, 1), np.uint8))[:size, :size]
        if kind == "mask":
            img = np.repeat(img[..., :1], 3, axis=2)
        files[kind] = write_png_atomic(root / "placeholders" / f"{kind}.png", img)
    return files


LINKS_PER_FILE = 20_000  # ext4 allows 65,000 links to one inode; the export adds 1-2 per file


def _record_keys(jobs: list[tuple[Path, list[str]]], data_dir: Path) -> None:
    """Record every linked path under its source and stage as the writing stage records a file
    it verified: a link has its placeholder copy's size, mtime and inode."""
    from deepfake_assets import config
    from deepfake_assets.catalog import write_parquet_atomic
    from deepfake_assets.media.written_files import WRITTEN_SCHEMA, written_files_path

    parts = []
    for copy, rels in jobs:
        st = copy.stat()
        parts.append(
            pl.DataFrame({"path": rels}, schema={"path": pl.Utf8}).with_columns(
                size=pl.lit(st.st_size, pl.Int64),
                mtime_ns=pl.lit(st.st_mtime_ns, pl.Int64),
                ino=pl.lit(st.st_ino, pl.Int64),
            )
        )
    table = pl.concat(parts).with_columns(
        top=pl.col("path").str.split("/").list.get(0),
        source=pl.col("path").str.split("/").list.get(1),
    )
    stage_of = {"faces": "faces", "masks": "fake_groups"}
    for (top, source), group in table.group_by("top", "source"):
        path = written_files_path(config.work_dir(source, data_dir), stage_of[top])
        write_parquet_atomic(group.select(list(WRITTEN_SCHEMA)), path)


def write_verification_cost(folder: Path, n: int = 900) -> dict:
    """µs per crop to encode and write a PNG atomically, and to verify it (read back, decode),
    on crops of the sizes the faces stage writes (160, 299, a 220 raw box) with a face-like
    mix of smooth and noisy texture."""
    from deepfake_assets.media.images import encode_png, write_bytes_atomic
    from deepfake_assets.media.written_files import verify_written

    rng = np.random.default_rng(2)
    crops = []
    for side in (160, 299, 220):
        img = rng.integers(0, 255, (side // 8, side // 8, 3), dtype=np.uint8)
        img = np.kron(img, np.ones((8, 8, 1), np.uint8))[:side, :side]
        crops.append(np.ascontiguousarray(img + rng.integers(0, 8, img.shape, dtype=np.uint8)))
    write_s = verify_s = 0.0
    for i in range(n):
        path, img = folder / f"{i % 60}.png", crops[i % 3]
        start = time.perf_counter()
        data = encode_png(img)
        write_bytes_atomic(path, data)
        mid = time.perf_counter()
        verify_written(path, data, img.shape, path.name)
        write_s, verify_s = write_s + mid - start, verify_s + time.perf_counter() - mid
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "encode_and_write_us_per_crop": round(write_s / n * 1e6, 1),
        "verify_us_per_crop": round(verify_s / n * 1e6, 1),
        "crops": n,
    }


def _link_all(pairs: list[tuple[Path, list[str]]], data_dir: Path) -> int:
    """Hard-link every path to a copy of its placeholder (a fresh copy every LINKS_PER_FILE
    paths), directories first, then the links in threads; then record the keys."""
    dirs = {str(Path(rel).parent) for _src, rels in pairs for rel in rels}
    for d in dirs:
        (data_dir / d).mkdir(parents=True, exist_ok=True)

    def link(job: tuple[Path, list[str]]) -> int:
        src, rels = job
        for rel in rels:
            os.link(src, data_dir / rel)
        return len(rels)

    jobs = []
    for src, rels in pairs:
        for k, lo in enumerate(range(0, len(rels), LINKS_PER_FILE)):
            copy = src.with_name(f"{src.stem}_{k}.png")
            shutil.copyfile(src, copy)
            jobs.append((copy, rels[lo : lo + LINKS_PER_FILE]))
    with ThreadPoolExecutor(max_workers=4) as pool:
        linked = sum(pool.map(link, jobs))
    _record_keys(jobs, data_dir)
    return linked


def build_catalog(data_dir: Path, n_faces: int, seed: int = 0) -> dict:
    """Write the per-source tables for about `n_faces` faces; returns counts."""
    from deepfake_assets.catalog import Catalog
    from deepfake_assets.identity.actors import hash_items

    catalog = Catalog(data_dir)
    rng = np.random.default_rng(seed)
    holders = _placeholders(data_dir)
    link_jobs: dict[str, list[str]] = {k: [] for k in holders}
    counts = {"faces": 0, "videos": 0, "actors": 0, "real_videos": 0, "fake_videos": 0}
    copied: dict | None = None  # real videos of the first source that reappear in another
    for s_index, (source, share, named, balanced) in enumerate(SOURCES):
        faces_per_family = FRAMES_PER_VIDEO * 1.1 * 4.0
        n_real = max(4, int(n_faces * share / faces_per_family))
        n_actors = max(2, n_real // 4)
        actor_vec = _unit(rng.standard_normal((n_actors, DIM)))
        actor_of = rng.integers(0, n_actors, n_real)
        n_tracks = np.where(rng.random(n_real) < 0.10, 2, 1)
        second = (actor_of + rng.integers(1, n_actors, n_real)) % n_actors
        n_fakes = rng.integers(1, 6, n_real)
        real_ids = np.array([f"{source[:2]}r{i:07d}" for i in range(n_real)])
        # videos: reals then fakes (fake j of real r)
        fake_parent = np.repeat(np.arange(n_real), n_fakes)
        n_fake = fake_parent.size
        fake_ids = np.array([f"{source[:2]}f{i:07d}" for i in range(n_fake)])
        donor_of = (actor_of[fake_parent] + rng.integers(1, n_actors, n_fake)) % n_actors
        actor_names = np.array([f"p{i:06d}" for i in range(n_actors)])
        video_ids = np.concatenate([real_ids, fake_ids])
        labels = np.array(["REAL"] * n_real + ["FAKE"] * n_fake)
        originals = np.concatenate([np.full(n_real, None, object), real_ids[fake_parent]])
        actor_hint = (
            np.concatenate([actor_names[actor_of], actor_names[actor_of[fake_parent]]])
            if named
            else np.full(video_ids.size, None, object)
        )
        donor_hint = (
            np.concatenate([np.full(n_real, None, object), actor_names[donor_of]])
            if named
            else np.full(video_ids.size, None, object)
        )
        n_v = video_ids.size
        videos = pl.DataFrame(
            {
                "source": source,
                "video_id": video_ids,
                "rel_path": [f"{v}.mp4" for v in video_ids],
                "label": labels,
                "original_video_id": pl.Series(originals.tolist(), dtype=pl.Utf8),
                "method": pl.Series(
                    np.where(labels == "FAKE", "FaceSwap", None).tolist(), dtype=pl.Utf8
                ),
                "actor_hint": pl.Series(actor_hint.tolist(), dtype=pl.Utf8),
                "donor_hint": pl.Series(donor_hint.tolist(), dtype=pl.Utf8),
                "gender": pl.Series(
                    rng.choice(["female", "male"], n_v) if named else [None] * n_v, dtype=pl.Utf8
                ),
                "age": pl.Series([None] * n_v, dtype=pl.Utf8),
                "race": pl.Series([None] * n_v, dtype=pl.Utf8),
                "official_split": "train",
                "variant": pl.Series([None] * n_v, dtype=pl.Utf8),
                "notes": pl.Series([None] * n_v, dtype=pl.Utf8),
                "abs_path": [f"/datasets/{source}/{v}.mp4" for v in video_ids],
                "status": "ok",
                "reason": pl.Series([None] * n_v, dtype=pl.Utf8),
                "codec": "h264",
                "pix_fmt": "yuv420p",
                "fps": 30.0,
                "frame_count": 300,
                "duration_s": 10.0,
                "width": 1920,
                "height": 1080,
                "rotation": 0,
                "variable_frame_rate": False,
                "size_bytes": 2_000_000,
                "content_fingerprint": [f"fp{v}" for v in video_ids],
                "orphan_reason": pl.Series([None] * n_v, dtype=pl.Utf8),
                "orphan_fake": False,
                "test_only": False,
            }
        )
        catalog.write("videos", videos, source)

        # faces: every (video, track, frame); fakes copy their original's frames and tracks
        tracks_of_video = np.concatenate([n_tracks, n_tracks[fake_parent]])
        frames = np.sort(rng.choice(300, (n_real, FRAMES_PER_VIDEO)), axis=1)
        frames = np.maximum.accumulate(frames + np.arange(FRAMES_PER_VIDEO), axis=1)
        frames_of_video = np.concatenate([frames, frames[fake_parent]])
        per_video = tracks_of_video * FRAMES_PER_VIDEO
        v_of_face = np.repeat(np.arange(n_v), per_video)
        within = np.arange(v_of_face.size) - np.repeat(np.cumsum(per_video) - per_video, per_video)
        track_of_face = (within // FRAMES_PER_VIDEO).astype(np.int32)
        frame_of_face = frames_of_video[v_of_face, within % FRAMES_PER_VIDEO]
        n_f = v_of_face.size
        vid = video_ids[v_of_face]
        stem = np.char.add(
            np.char.add(np.char.add(f"{source}/", vid.astype(str)), "/"),
            np.char.add(np.char.zfill(frame_of_face.astype(str), 6), "_"),
        )
        stem = np.char.add(stem, track_of_face.astype(str))
        face_ids = np.char.add(np.char.add(f"{source}/", vid.astype(str)), "/")
        face_ids = np.char.add(
            np.char.add(face_ids, np.char.zfill(frame_of_face.astype(str), 6)), "/"
        )
        face_ids = np.char.add(face_ids, track_of_face.astype(str))
        is_fake_face = v_of_face >= n_real
        # the original face of each fake face: same track and frame position in the parent
        parent_video = np.where(is_fake_face, fake_parent[np.maximum(v_of_face - n_real, 0)], 0)
        real_start = np.cumsum(per_video[:n_real]) - per_video[:n_real]
        orig_face = np.where(is_fake_face, real_start[parent_video] + within, np.arange(n_f))

        # hashes: random per real face / frame, static frames 1-2 bits from the previous one,
        # a fake's face hash 10-20 bits from its original's
        def flips(n: int, lo: int, hi: int) -> np.ndarray:
            out = np.zeros(n, np.uint64)
            k = rng.integers(lo, hi + 1, n)
            for j in range(hi):
                bit = rng.integers(0, 64, n).astype(np.uint64)
                out ^= np.where(j < k, np.uint64(1) << bit, np.uint64(0))
            return out

        h = rng.integers(0, 2**63, n_f, dtype=np.int64).astype(np.uint64) * np.uint64(2)
        static = (within % FRAMES_PER_VIDEO > 0) & (rng.random(n_f) < 0.05)
        prev = np.arange(n_f) - 1
        h = np.where(static, h[np.maximum(prev, 0)] ^ flips(n_f, 1, 2), h)
        h = np.where(is_fake_face, h[orig_face] ^ flips(n_f, 10, 20), h)
        if copied is not None and s_index == 2:  # the third source re-ships videos of the first
            m = min(copied["hash"].size, int(n_f * 0.02))
            h[:m] = copied["hash"][:m] ^ flips(m, 0, 2)
        if s_index == 0:
            copied = {"hash": h[~is_fake_face][: int(n_f * 0.05)].copy()}
        face_hash = h.view(np.int64)
        frame_hash = (h ^ np.uint64(0x5555)).view(np.int64)

        paths = {k: np.char.add(np.char.add("faces/", stem), f"_{k}.png") for k in ("160", "299")}
        paths["raw"] = np.char.add(np.char.add("faces/", stem), "_raw.png")
        faces = pl.DataFrame(
            {
                "video_id": vid,
                "frame_index": frame_of_face.astype(np.int64),
                "track": track_of_face,
                "x1": 100.0,
                "y1": 80.0,
                "x2": 260.0,
                "y2": 280.0,
                "score": 0.99,
                "agreement": np.int32(2),
                "detectors": pl.Series([["mtcnn", "blazeface"]] * n_f),
                "interpolated": False,
                "box_source": pl.Series(
                    np.where(is_fake_face, real_ids[parent_video], vid), dtype=pl.Utf8
                ),
                "crop_160": paths["160"],
                "crop_299": paths["299"],
                "crop_raw": paths["raw"],
                "phash_160": face_hash,
                "source": source,
                "label": labels[v_of_face],
                "face_id": face_ids,
            }
        )
        catalog.write("faces", faces, source)
        for k in ("160", "299", "raw"):
            link_jobs[k] += paths[k].tolist()
        frame_rows = faces.select("source", "video_id", "label", "frame_index").with_columns(
            phash=pl.Series(frame_hash)
        )
        frame_rows = frame_rows.unique(["video_id", "frame_index"], keep="first")
        catalog.write("frames", frame_rows, source)
        hashes = hash_items(faces, frame_rows, videos)  # what the faces stage writes
        catalog.write("hashes", hashes, source)
        roles = np.where(labels == "FAKE", "fake", "real")
        catalog.write(
            "face_videos",
            pl.DataFrame(
                {
                    "source": source,
                    "video_id": video_ids,
                    "label": labels,
                    "role": roles,
                    "status": "ok",
                    "reason": pl.Series([None] * n_v, dtype=pl.Utf8),
                    "tries": 1,
                    "tries_stopped_early": 0,
                    "num_frames": FRAMES_PER_VIDEO,
                    "num_faces": per_video.astype(np.int64),
                    "num_tracks": tracks_of_video.astype(np.int64),
                    "original_video_id": pl.Series(originals.tolist(), dtype=pl.Utf8),
                }
            ),
            source,
        )
        plan = pl.DataFrame(
            {"video_id": real_ids.repeat(FRAMES_PER_VIDEO), "frame_index": frames.ravel()}
        ).with_columns(
            plan_round=pl.lit(0, pl.Int32),
            source=pl.lit(source),
            strategy=pl.lit("balanced" if balanced else "first_and_even"),
        )
        catalog.write("frame_plans", plan, source)

        # embeddings of real faces: actor + video offset + face noise (dlib-sized)
        real_face = ~is_fake_face
        who = np.where(track_of_face == 1, second[np.minimum(v_of_face, n_real - 1)], 0)
        who = np.where(track_of_face == 0, actor_of[np.minimum(v_of_face, n_real - 1)], who)
        r_idx = np.flatnonzero(real_face)
        video_off = rng.standard_normal((n_real, DIM)).astype(np.float32) * (0.35 / math.sqrt(DIM))
        noise = rng.standard_normal((r_idx.size, DIM)).astype(np.float32) * (0.1 / math.sqrt(DIM))
        emb = _unit(actor_vec[who[r_idx]] + video_off[v_of_face[r_idx]] + noise)
        base = faces[r_idx].select("face_id", "source", "video_id", "frame_index", "track", "label")
        catalog.write(
            "embeddings",
            base.with_columns(
                model=pl.lit("dlib_resnet_v1"),
                embedding=pl.Series(emb, dtype=pl.Array(pl.Float32, DIM)),
            ),
            source,
        )
        # 4 embeddings per fake track, moved from the target towards the donor
        fk = faces.with_row_index("i").filter(pl.col("label") == "FAKE")
        fk = fk.filter(pl.int_range(pl.len()).over("video_id", "track") < 4)
        fi = fk["i"].to_numpy()
        v = v_of_face[fi] - n_real
        target = actor_vec[actor_of[fake_parent[v]]]
        mix = rng.uniform(0.35, 0.9, (fi.size, 1)).astype(np.float32)
        femb = _unit((1 - mix) * target + mix * actor_vec[donor_of[v]])
        catalog.write(
            "fake_embeddings",
            fk.select(
                "face_id", "source", "video_id", "frame_index", "track", "label"
            ).with_columns(
                model=pl.lit("dlib_resnet_v1"),
                embedding=pl.Series(femb, dtype=pl.Array(pl.Float32, DIM)),
            ),
            source,
        )
        # SSIM per fake face; levels come from the fake_groups_levels stage
        f_idx = np.flatnonzero(is_fake_face)
        video_ssim = rng.beta(8, 2, n_fake)
        ssim = np.clip(
            video_ssim[v_of_face[f_idx] - n_real] + rng.normal(0, 0.02, f_idx.size), 0, 1
        )
        masks = np.char.add(np.char.add("masks/", stem[f_idx]), "_160_mask.png")
        link_jobs["mask"] += masks.tolist()
        catalog.write(
            "fake_groups",
            pl.DataFrame(
                {
                    "face_id": face_ids[f_idx],
                    "original_face_id": face_ids[orig_face[f_idx]],
                    "source": source,
                    "video_id": vid[f_idx],
                    "original_video_id": real_ids[parent_video[f_idx]],
                    "frame_index": frame_of_face[f_idx].astype(np.int64),
                    "track": track_of_face[f_idx],
                    "ssim": ssim,
                    "mask_area": 1 - ssim,
                    "mask_path": masks,
                }
            ),
            source,
        )
        counts["faces"] += n_f
        counts["videos"] += n_v
        counts["actors"] += n_actors
        counts["real_videos"] += n_real
        counts["fake_videos"] += n_fake
    start = time.perf_counter()
    counts["files"] = _link_all([(holders[k], v) for k, v in link_jobs.items()], data_dir)
    counts["linking_s"] = round(time.perf_counter() - start, 1)
    return counts


# -- one stage in this process ----------------------------------------------------------------
def run_stage(data_dir: Path, stage: str) -> dict:
    import dagster as dg

    from deepfake_assets.catalog import Catalog
    from deepfake_assets.definitions import defs
    from deepfake_assets.resources import DataDirResource

    if stage == "fake_groups_levels":
        from deepfake_assets.fakes.levels import assign_levels
        from deepfake_assets.fakes.ssim import video_stats

        catalog = Catalog(data_dir)
        for source in catalog.partitions("fake_groups"):
            table = catalog.read("fake_groups", source).drop(
                "video_ssim_mean", "fake_level", "unaltered", strict=False
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                levels = assign_levels(video_stats(table, by="video_id"))
            per_video = levels.table.select(
                "video_id",
                pl.col("ssim_mean").alias("video_ssim_mean"),
                pl.col("level").alias("fake_level"),
                "unaltered",
            )
            catalog.write("fake_groups", table.join(per_video, on="video_id", how="left"), source)
        return {"ok": True}
    every = list(defs.assets) + list(defs.asset_checks or [])
    name = stage.removesuffix("_cached").removesuffix("_checks")
    if stage.startswith("crop_and_mask"):
        selection = dg.AssetSelection.checks_for_assets("exported_dataset")
    elif stage.endswith("_checks"):
        selection = dg.AssetSelection.checks_for_assets(name)
    else:
        selection = dg.AssetSelection.assets(name)
        if name in ("fold_splits", "exported_dataset"):
            selection = selection.without_checks()
    # DeepfakeBench landmarks off in the export step: computed once per crop, they cost
    # 12+ ms per crop per core (measured by `landmark_rate`); every other format on
    export_config = {"deepfakebench_landmarks": False}
    result = dg.materialize(
        every,
        selection=selection,
        run_config={"ops": {"exported_dataset": {"config": export_config}}}
        if name == "exported_dataset"
        else None,
        resources={**(defs.resources or {}), "data": DataDirResource(data_dir=str(data_dir))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    evaluations = result.get_asset_check_evaluations()
    out = {"ok": result.success, "checks": {e.check_name: e.passed for e in evaluations}}
    for e in evaluations:  # what the file check read, decoded and trusted
        if e.check_name == "crop_and_mask_files_decode":
            metadata = (e.metadata or {}).items()
            out["file_check"] = {k: getattr(v, "value", v) for k, v in metadata if k[:4] == "num_"}
    return out


def _reset_peak() -> None:
    """Start this process's VmHWM afresh (Linux: `5` to clear_refs), so each step's peak is
    its own although the steps share one process."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _vm_hwm_gib() -> float:
    status = Path("/proc/self/status").read_text()
    kib = int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM")).split()[1])
    return round(kib / 2**20, 2)


def run_job(data_dir: Path) -> None:
    """Every stage one after the other in this process, as the CLI's run worker runs
    `build_dataset` (`execution: in_process`); one JSON line per stage."""
    for stage in STAGES:
        _reset_peak()
        load = os.getloadavg()[0]
        start = time.perf_counter()
        info = run_stage(data_dir, stage)
        info.update(
            stage=stage,
            seconds=round(time.perf_counter() - start, 1),
            peak_rss_gib=_vm_hwm_gib(),
            load_1min_at_start=round(load, 1),
        )
        print(json.dumps(info), flush=True)
    _reset_peak()
    print(json.dumps({"stage": "landmarks", **landmark_rate(data_dir)}), flush=True)


def landmark_rate(data_dir: Path, n: int = 2_000) -> dict:
    """DeepfakeBench landmarks of `n` exported 299 crops on this machine's cores, cold and
    then from the cache (the export step itself runs with them off: see README)."""
    from deepfake_assets.compute import LocalExecutor
    from deepfake_assets.export.landmark_cache import LandmarkOptions, crop_landmarks

    export = data_dir / "export"
    rels = pl.read_parquet(export / "info.parquet", columns=["path_299"])["path_299"].head(n)
    out = {}
    for label in ("cold", "cached"):
        executor = LocalExecutor(os.cpu_count() or 1)
        start = time.perf_counter()
        result = crop_landmarks(export, rels, data_dir, LandmarkOptions(), executor)
        executor.close()
        seconds = time.perf_counter() - start
        out[f"{label}_crops_per_s"] = round(rels.len() / seconds, 1)
        out[f"{label}_computed"] = result.computed
    out["crops"] = rels.len()
    out["workers"] = os.cpu_count()
    return out


def _job_child(data_dir: Path) -> tuple[list[dict], dict, float]:
    """The job's stages in one fresh process: per-stage records, landmarks, wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--job", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(data_dir / "dh")},
        check=False,
    )
    wall = time.perf_counter() - start
    records = [json.loads(ln) for ln in proc.stdout.decode().splitlines() if ln.startswith("{")]
    landmarks = next((r for r in records if r["stage"] == "landmarks"), {})
    stages = [r for r in records if r["stage"] != "landmarks"]
    for r in stages:
        r["ok"] = r.get("ok", False) and proc.returncode == 0
    return stages, landmarks, wall


def bench(n_faces: int, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"scale{n_faces}_", dir=os.environ.get("SCALE_TMP")))
    data_dir = tmp / "data"
    (data_dir / "dh").mkdir(parents=True)
    start = time.perf_counter()
    counts = build_catalog(data_dir, n_faces)
    counts["catalog_build_s"] = round(time.perf_counter() - start, 1)
    print(f"{n_faces:,} faces: catalog {counts}", flush=True)
    stages, landmarks, wall = _job_child(data_dir)
    for s in stages:
        print(
            f"  {s['stage']:36s} {s['seconds']:8.1f} s {s['peak_rss_gib']:6.2f} GiB  "
            f"ok={s['ok']} {s.get('checks', '')}  load {s['load_1min_at_start']:.1f}",
            flush=True,
        )
    print(f"  landmarks: {landmarks}", flush=True)
    verification = write_verification_cost(tmp / "write_cost")
    verification["extra_worker_s_for_all_files"] = round(
        verification["verify_us_per_crop"] * counts["files"] / 1e6, 1
    )
    print(f"  write verification (in the per-video stages): {verification}", flush=True)
    job = [s for s in stages if s["stage"] not in ("fake_groups_levels",)]
    total = {
        "build_dataset_s": round(
            sum(s["seconds"] for s in job if s["stage"] != "crop_and_mask_files_decode_cached"),
            1,
        ),
        "build_dataset_rerun_check_s": next(
            (s["seconds"] for s in job if s["stage"] == "crop_and_mask_files_decode_cached"), None
        ),
        "one_process_wall_s_with_imports_and_landmark_sample": round(wall, 1),
        "peak_rss_gib": max((s["peak_rss_gib"] for s in stages), default=None),
    }
    print(f"  build_dataset (its steps in one process): {total}", flush=True)
    if not keep:  # millions of links take minutes to unlink: results are written first
        from deepfake_assets.export.linking import remove_in_background

        remove_in_background(tmp)
    return {
        "faces": n_faces,
        "catalog": counts,
        "stages": stages,
        "landmarks": landmarks,
        "write_verification": verification,
        "total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/scale_bench.json"))
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--note", default="", help="recorded with the run (machine load, ...)")
    args = parser.parse_args()
    if args.job:
        run_job(Path(args.data_dir))
        return
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    for n in args.faces:
        load = os.getloadavg()
        run = bench(n, args.keep)
        run["load_average_before"] = [round(x, 1) for x in load]
        run["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
        run["cpus"] = os.cpu_count()
        run["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        run["note"] = args.note
        results["runs"][str(n)] = run
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
    runs = [results["runs"][k] for k in sorted(results["runs"], key=int)]
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        ratio = b["faces"] / a["faces"]
        nlogn = ratio * math.log(b["faces"]) / math.log(a["faces"])
        growth = b["total"]["build_dataset_s"] / max(a["total"]["build_dataset_s"], 1e-9)
        print(f"time x{growth:.1f} for faces x{ratio:.0f} (n log n: x{nlogn:.1f})")


if __name__ == "__main__":
    main()
