"""The per-video stages on a real Dask cluster: `dask scheduler` and `dask worker` as separate
OS processes on 127.0.0.1 (dashboards off), driven through the CLI like a user would.

1. A small DFDC-layout source materialised on the dask backend gives the same catalog as on the
   local backend: the same videos kept, faces, boxes, and crop files byte for byte.
2. The demo itself (`deepfake-assets demo`'s two sources: the DFDC-layout videos with their
   hostile entries and the image source) gives the same per-source catalog on both backends.
3. One worker process SIGKILLed mid-run: its tasks are run again on the other worker, the run
   succeeds with every face exactly once and no temporary file left behind.

Every process a test starts is ended by it: the cluster's process groups are killed at the end,
and each test checks that no process carrying its DAGSTER_HOME is left (code servers, run
workers, pool workers).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from deepfake_assets_tests.e2e.conftest import (
    LOOPBACK,
    REPO_ROOT,
    DagsterProcess,
    free_port,
    wait_for,
)

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

pytestmark = pytest.mark.e2e

N_REAL = 6


def make_source(root: Path) -> Path:
    """`N_REAL` real videos of two faces at several sizes, three fakes (two of one original,
    so a family holds more than one fake) and a corrupt file."""
    from deepfake_assets.media.video_writer import write_h264
    from deepfake_assets_tests.conftest import face_frames, grace_hopper

    part = root / "dfdc_train_part_0"
    part.mkdir(parents=True)
    hopper = grace_hopper()[100:460, 60:420]
    metadata: dict[str, dict[str, str]] = {}
    for i in range(N_REAL):
        frames = face_frames(14, size=160 + 16 * i, image=hopper if i % 2 else None)
        write_h264(part / f"v{i}.mp4", frames)
        metadata[f"v{i}.mp4"] = {"label": "REAL", "split": "train"}
        if i in (0, 1):
            write_h264(part / f"fake{i}a.mp4", frames[:, :, ::-1].copy())
            metadata[f"fake{i}a.mp4"] = {"label": "FAKE", "split": "train", "original": f"v{i}.mp4"}
    write_h264(part / "fake0b.mp4", 255 - face_frames(14, size=160))
    metadata["fake0b.mp4"] = {"label": "FAKE", "split": "train", "original": "v0.mp4"}
    (part / "broken.mp4").write_bytes((part / "v0.mp4").read_bytes()[:300])
    metadata["broken.mp4"] = {"label": "REAL", "split": "train"}
    (part / "metadata.json").write_text(json.dumps(metadata))
    return root


class DaskCluster:
    """A scheduler and one `dask worker --nworkers 2 --nthreads 1` (two worker processes,
    each under a nanny that restarts it), each command in its own process group."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.address = f"tcp://{LOOPBACK}:{self.port}"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "3"
        self.processes: list[DagsterProcess] = []
        py = sys.executable
        self.processes.append(
            DagsterProcess(
                [py, "-m", "dask", "scheduler", "--host", LOOPBACK, "--port", str(self.port)]
                + ["--no-dashboard"],
                logs / "scheduler.log",
                env=env,
            )
        )
        self.processes.append(
            DagsterProcess(
                [py, "-m", "dask", "worker", self.address, "--host", LOOPBACK]
                + ["--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                logs / "workers.log",
                env=env,
            )
        )

    def worker_pids(self) -> dict[str, int]:
        with distributed.Client(self.address, timeout=30) as client:
            return client.run(os.getpid)  # worker address -> its process id

    def wait_ready(self) -> None:
        def two_workers() -> bool:
            for p in self.processes:
                p.check_alive()
            return len(self.worker_pids()) == 2

        wait_for("two dask workers", two_workers, timeout_s=180, interval_s=2)

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers first, then the scheduler
            process.stop(grace_s=10)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    logs = tmp_path / "dask_logs"
    logs.mkdir()
    cluster = DaskCluster(logs)
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()
        print(f"dask logs: {logs}")


def materialise(
    data_dir: Path,
    home: Path,
    source: Path | None,
    scheduler: str | None,
    adds: list[list[str]] | None = None,
) -> None:
    """`deepfake-assets sources add` (`src` -> `source`, or each of `adds`) and
    `materialize --sources-only`, each in a fresh process."""
    env = dict(os.environ, DEEPFAKE_DATA_DIR=str(data_dir), DAGSTER_HOME=str(home))
    env.pop("DEEPFAKE_DASK_SCHEDULER", None)
    if scheduler:
        env["DEEPFAKE_DASK_SCHEDULER"] = scheduler
    adds = adds if adds is not None else [["src", str(source)]]
    commands = [["sources", "add", *add] for add in adds] + [["materialize", "--sources-only"]]
    for args in commands:
        done = subprocess.run(
            [sys.executable, "-m", "deepfake_assets.cli", *args],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def leftover_processes(home: Path) -> list[str]:
    """Processes still alive whose environment names `home` as DAGSTER_HOME."""
    marker = f"DAGSTER_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:200]!r}")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def catalog_snapshot(data_dir: Path, source: str = "src") -> dict[str, object]:
    """What must agree between backends: statuses, faces with boxes, crop and mask bytes, SSIM,
    embeddings (a table the source never wrote is empty on both)."""
    from deepfake_assets.catalog import Catalog

    catalog = Catalog(data_dir)

    def table(name: str, key: tuple[str, ...], columns: list | None = None) -> pl.DataFrame:
        frame = catalog.read(name, source)
        if frame.is_empty():
            return pl.DataFrame()
        frame = frame.sort(*key)
        return frame.select(columns) if columns else frame

    def digests(rels: list[str]) -> dict[str, str]:
        return {rel: hashlib.sha256((data_dir / rel).read_bytes()).hexdigest() for rel in rels}

    faces = table("faces", ("face_id",))
    crops = [rel for c in ("crop_160", "crop_299", "crop_raw") for rel in faces[c].to_list()]
    groups = table("fake_groups", ("face_id",))
    masks = groups["mask_path"].drop_nulls().to_list() if "mask_path" in groups.columns else []
    embedding = pl.col("embedding").cast(pl.List(pl.Float32))
    return {
        "face_videos": table(
            "face_videos",
            ("video_id",),
            ["video_id", "role", "status", "reason", "tries", "frame_indices", "num_faces"],
        ).to_dicts(),
        "faces": faces.drop("phash_160").to_dicts(),
        "phash": faces["phash_160"].to_list(),
        "crops": digests(crops),
        "videos": table("videos", ("video_id",)).to_dicts(),
        "frames": table("frames", ("video_id", "frame_index")).to_dicts(),
        "fake_groups": table(
            "fake_groups", ("face_id",), ["face_id", "ssim", "mask_path"]
        ).to_dicts(),
        "masks": digests(masks),
        "embeddings": table("embeddings", ("face_id",), ["face_id", "model", embedding]).to_dicts(),
    }


def instance_dirs(root: Path) -> tuple[Path, Path]:
    """A fresh data directory and Dagster home (telemetry off) under `root`."""
    data, home = root / "data", root / "home"
    data.mkdir(parents=True)
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return data, home


def temp_files(root: Path) -> list[Path]:
    return list(root.rglob(".*.tmp"))


def test_a_source_on_the_dask_backend_equals_the_local_backend(dask_cluster, tmp_path):
    source = make_source(tmp_path / "source")
    runs = {}
    for backend, scheduler in (("local", None), ("dask", dask_cluster.address)):
        data, home = instance_dirs(tmp_path / backend)
        materialise(data, home, source, scheduler)
        runs[backend] = catalog_snapshot(data)
    local, dask = runs["local"], runs["dask"]
    statuses = {r["video_id"]: r["status"] for r in local["face_videos"]}
    assert len(statuses) == N_REAL + 3 and "failed" not in statuses.values(), statuses
    assert sum(s == "ok" for s in statuses.values()) >= N_REAL, statuses
    assert len(local["faces"]) > 0 and len(local["crops"]) == 3 * len(local["faces"])
    assert len(local["embeddings"]) > 0 and len(local["masks"]) > 0
    for table in local:
        assert dask[table] == local[table], f"{table} differs between the backends"


def test_the_demo_on_the_dask_backend_equals_the_local_backend(dask_cluster, demo_build, tmp_path):
    """`deepfake-assets demo`'s sources, as it registers them, on both backends."""
    from deepfake_assets.demo_images import build_demo_images

    summary, _ = demo_build
    images = build_demo_images(tmp_path / "demo_images").dest
    adds = [
        ["demo", str(summary.dest), "--format", "dfdc", "--sampling", "balanced"],
        ["demo-images", str(images), "--format", "images"],
    ]
    runs = {}
    for backend, scheduler in (("local", None), ("dask", dask_cluster.address)):
        data, home = instance_dirs(tmp_path / backend)
        materialise(data, home, None, scheduler, adds=adds)
        assert leftover_processes(home) == [], f"{backend} run left processes behind"
        runs[backend] = {name: catalog_snapshot(data, name) for name in ("demo", "demo-images")}
        assert temp_files(data) == []
    local, dask = runs["local"], runs["dask"]
    videos = local["demo"]["face_videos"]
    ok = [r for r in videos if r["status"] == "ok"]
    assert len(ok) >= 50 and any(r["status"] != "ok" for r in videos), videos  # hostile ones
    assert len(local["demo"]["crops"]) == 3 * len(local["demo"]["faces"]) > 0
    assert local["demo"]["masks"] and local["demo"]["embeddings"] and local["demo-images"]["faces"]
    for name in local:
        for table in local[name]:
            assert dask[name][table] == local[name][table], f"{name}: {table} differs"


def test_a_dask_worker_killed_mid_run_costs_only_its_tasks(dask_cluster, tmp_path, data_env):
    source = make_source(tmp_path / "source")
    data = data_env["data"]
    env = dict(os.environ, DEEPFAKE_DASK_SCHEDULER=dask_cluster.address)
    added = subprocess.run(
        [sys.executable, "-m", "deepfake_assets.cli", "sources", "add", "src", str(source)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=300,
    )
    assert added.returncode == 0, added.stderr
    staging = data / "work" / "src" / "faces"
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    run = subprocess.Popen(
        [sys.executable, "-m", "deepfake_assets.cli", "materialize", "--sources-only"],
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            "the first finished video",
            lambda: run.poll() is None and staging.exists() and any(staging.glob("*.json")),
            timeout_s=600,
            interval_s=0.2,
        )
        before = dask_cluster.worker_pids()
        victim_address, victim_pid = sorted(before.items())[0]
        finished_at_kill = len(list(staging.glob("*.json")))
        os.kill(victim_pid, signal.SIGKILL)
        assert finished_at_kill < N_REAL + 4, "the run finished before a worker could be killed"
        assert run.wait(timeout=900) == 0, (tmp_path / "run.log").read_text()[-4000:]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=60)
        log.close()
    after = dask_cluster.worker_pids()
    assert victim_address not in after or after[victim_address] != victim_pid
    from deepfake_assets.catalog import Catalog

    catalog = Catalog(data)
    faces = catalog.read("faces", "src")
    face_videos = catalog.read("face_videos", "src")
    assert faces.height > 0 and faces["face_id"].n_unique() == faces.height
    ok = face_videos.filter(pl.col("status") == "ok")["video_id"].to_list()
    assert face_videos.height == N_REAL + 3 and face_videos["video_id"].n_unique() == N_REAL + 3
    assert "failed" not in face_videos["status"].to_list() and len(ok) >= N_REAL
    assert sorted(faces["video_id"].unique()) == sorted(ok)
    for rel in faces["crop_160"].to_list():
        assert (data / rel).is_file()
    assert temp_files(data) == []
