"""Duplicate grouping when many items share a hash: time and peak RSS, before and after.

    python benchmarks/dedup_bench.py [--sizes 20000 100000] [--quick]

Two inputs: a manifest whose rows are copies of three source files (one source; a third of
the rows real, the rest fakes of the real row before them; per file 10 frames with 2 distinct
hashes and 10 face crops with 3, as static videos give), and N identical face hashes (two
sources, families of one real and two fakes, two tracks, 80 items per video). Each run is a
fresh process, so its peak RSS (``ru_maxrss``) is its own; the RSS after building the input is
recorded too. ``before`` is the pair-listing implementation (kept in the tests as a reference
oracle), run only where it fits in memory. A third input times the splits check
``near_duplicates_across_splits`` on one family of N kept faces (3 distinct hashes), against
the check as it was (every pair of faces listed). Writes benchmarks/results/dedup_bench.json
(``--cases`` runs some inputs and merges them into it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

RESULTS = Path(__file__).resolve().parent / "results" / "dedup_bench.json"
ROOT = Path(__file__).resolve().parent.parent
# the pair-listing implementation lists n^2 / 2 pairs per group: past these sizes it needs
# more time and memory than the shared 2-core machine has to spare (identical hashes of mixed
# families take its slow, pure-Python path: 2,000 of them 25 s)
BEFORE_MAX = {"manifest_3_files": 20_000, "identical": 4_000, "check_one_family": 8_000}


def manifest_3_files(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    per_video = 20
    n_videos = n // per_video
    base = rng.integers(0, 2**63 - 1, size=(3, 5), dtype=np.int64)  # 2 frame + 3 crop hashes
    rows = {k: [] for k in ("item_id", "hash", "video_id", "family_id", "frame_index")}
    rows |= {"label": [], "kind": [], "track": []}
    for v in range(n_videos):
        f = v % 3
        real = v - v % 3  # rows 3k real, 3k+1 and 3k+2 its fakes
        for t in range(10):
            for kind, h in (("frame", base[f, t // 5]), ("face", base[f, 2 + t % 3])):
                rows["item_id"].append(f"v{v}/{kind}/{t}")
                rows["hash"].append(int(h))
                rows["video_id"].append(f"v{v}")
                rows["family_id"].append(f"v{real}")
                rows["frame_index"].append(t * 10)
                rows["label"].append("REAL" if v == real else "FAKE")
                rows["kind"].append(kind)
                rows["track"].append(0 if kind == "face" else None)
    return pl.DataFrame(rows).with_columns(source=pl.lit("manifest"))


def identical(n: int) -> pl.DataFrame:
    sys.path.insert(0, str(ROOT))
    from deepfake_assets.testing.hash_worlds import identical_world

    return identical_world(n // 80, per_video=80)


def one_family_faces(n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The splits check's input for one family of n kept faces with 3 distinct crop hashes (an
    original listed with many fakes of it: siblings are never duplicates), all in train."""
    face_id = [f"f{k}" for k in range(n)]
    base = np.random.default_rng(1).integers(0, 2**62, 3, dtype=np.int64)
    hashes = pl.DataFrame(
        {"face_id": face_id, "kind": "face", "hash": base[np.arange(n) % 3], "family_id": "one"}
    )
    return hashes, pl.DataFrame({"face_id": face_id, "split": "train"})


def check_before(hashes: pl.DataFrame, splits: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """`near_duplicates_across_splits` as it was: every pair of faces within the threshold."""
    from deepfake_assets.identity.dedup import near_pairs

    faces = hashes.filter(pl.col("kind") == "face").join(splits, on="face_id")
    i, j, d = near_pairs(faces["hash"].to_numpy(), threshold)
    split, family = faces["split"].to_numpy(), faces["family_id"].to_numpy()
    keep = (split[i] != split[j]) & (family[i] != family[j])
    ids = faces["face_id"].to_numpy()
    return pl.DataFrame({"face_id_a": ids[i[keep]], "face_id_b": ids[j[keep]], "distance": d[keep]})


def run_check(n: int, impl: str) -> dict:
    from deepfake_assets.splits.validation import near_duplicates_across_splits

    hashes, splits = one_family_faces(n)
    rss_input = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fn = near_duplicates_across_splits if impl == "after" else check_before
    t = time.perf_counter()
    offenders = fn(hashes, splits, 4)
    seconds = time.perf_counter() - t
    return {
        "case": "check_one_family",
        "items": n,
        "impl": impl,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_input_mb": round(rss_input),
        "duplicates": offenders.height,  # offending rows (none: one family)
        "groups": 0,
    }


def run_one(case: str, n: int, impl: str) -> dict:
    """In this process: build the input, group it, report time and memory."""
    sys.path.insert(0, str(ROOT))
    from deepfake_assets.identity.dedup import group_duplicates
    from deepfake_assets.testing.dedup_reference import reference_group_duplicates

    if case == "check_one_family":
        return run_check(n, impl)
    items = {"manifest_3_files": manifest_3_files, "identical": identical}[case](n)
    rss_input = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fn = group_duplicates if impl == "after" else reference_group_duplicates
    t = time.perf_counter()
    res = fn(items)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "case": case,
        "items": items.height,
        "impl": impl,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak),
        "rss_after_input_mb": round(rss_input),
        "duplicates": res.duplicates.height,
        "groups": res.groups.height,
        "identical_video_pairs": int(res.video_matches["identical"].sum()),
        "stats": {k: v for k, v in res.stats.items() if k != "n_blocks"},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4_000, 20_000, 100_000])
    ap.add_argument("--quick", action="store_true", help="2,000 items only")
    ap.add_argument("--cases", nargs="+", help="manifest_3_files, identical, check_one_family")
    ap.add_argument("--one", nargs=3, metavar=("CASE", "N", "IMPL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2])))
        return
    sizes = [2_000] if args.quick else args.sizes
    load_start = [round(x, 2) for x in os.getloadavg()]
    runs = []
    only = args.cases or ["manifest_3_files", "identical", "check_one_family"]
    for case in only:
        for n in sizes:
            for impl in ("before", "after"):
                if impl == "before" and n > BEFORE_MAX[case]:
                    continue
                out = subprocess.run(
                    [sys.executable, __file__, "--one", case, str(n), impl],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(r)
                print(
                    f"{case:17s} {r['items']:>7d} {impl:6s} {r['seconds']:7.2f} s  "
                    f"peak RSS {r['peak_rss_mb']:6d} MB (input built: {r['rss_after_input_mb']} MB)"
                    f"  duplicates {r['duplicates']}",
                    flush=True,
                )
    # before and after must agree where both ran
    for a in runs:
        for b in runs:
            if (a["case"], a["items"], a["impl"], b["impl"]) == (
                b["case"],
                b["items"],
                "before",
                "after",
            ):
                assert (a["duplicates"], a["groups"]) == (b["duplicates"], b["groups"]), (a, b)
    if args.cases and RESULTS.exists():  # keep the other cases' figures
        kept = [r for r in json.loads(RESULTS.read_text())["runs"] if r["case"] not in only]
        runs = kept + runs
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": {"start": load_start, "end": [round(x, 2) for x in os.getloadavg()]},
        "runs": runs,
    }
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_name(f".{RESULTS.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        os.replace(tmp, RESULTS)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
