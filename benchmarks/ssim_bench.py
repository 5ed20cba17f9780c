"""SSIM throughput per backend and crop size; prints a table and writes benchmarks/results/.

    python benchmarks/ssim_bench.py [--pairs 256] [--threads 1]

Pairs are the astronaut's face (scikit-image) against a noisy copy. Also checks each backend
against scikit-image on the first pairs, so a fast but wrong backend shows up here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from skimage import data
from skimage.metrics import structural_similarity
from skimage.transform import resize

from deepfake_assets.fakes.ssim import ssim_batch, to_luma


def _pairs(size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    face = (resize(data.astronaut()[20:280, 120:380], (size, size)) * 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    originals = np.repeat(face[None], n, axis=0)
    noise = rng.integers(-25, 26, originals.shape)
    fakes = np.clip(originals.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return fakes, originals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "ssim_bench.json",
        help="JSON path",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    configs = [("numpy", "cpu"), ("torch", "cpu")]
    if torch.cuda.is_available():
        configs.append(("torch", "cuda"))
    rows = []
    for size in (160, 299):
        fakes, originals = _pairs(size, args.pairs)
        ref = [
            structural_similarity(
                to_luma(f), to_luma(o), gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False, data_range=255,
            )
            for f, o in zip(fakes[:4], originals[:4], strict=True)
        ]  # fmt: skip
        for backend, device in configs:
            dev = device if backend == "torch" else None
            ssim_batch(fakes[:8], originals[:8], backend=backend, device=dev)  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            scores, _ = ssim_batch(fakes, originals, backend=backend, device=dev)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "size": size,
                    "backend": backend,
                    "device": device,
                    "pairs": args.pairs,
                    "seconds": round(seconds, 4),
                    "pairs_per_s": round(args.pairs / seconds, 1),
                    "max_abs_err_vs_skimage": float(np.abs(scores[:4] - ref).max()),
                }
            )
            r = rows[-1]
            print(
                f"{size:>4}px {backend:>6}/{device:<5} {r['pairs_per_s']:>9.1f} pairs/s "
                f"(err {r['max_abs_err_vs_skimage']:.1e})"
            )

    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    info = {
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": args.threads,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "rows": rows,
    }
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
