"""Automation: a new dataset folder becomes a partition and gets materialised, no code change.

`new_source_sensor` watches `$DEEPFAKE_SOURCES_DIR`. Each sub-folder whose layout an adapter
recognises is registered as a source, added as a dynamic partition, and a run of the per-source
job is requested for it. A folder is only taken once nothing in it changed for
`$DEEPFAKE_SOURCES_SETTLE_S` seconds (default 30), so a dataset still being copied is not
ingested half-way. Folders it cannot recognise are named in the skip reason.

`dataset_after_ingest_sensor` rebuilds the cross-dataset assets (dedup groups, actors, splits,
export) after a per-source run succeeds, unless the CLI that launched it runs them itself.
"""

import os
import time
from pathlib import Path

import dagster as dg

from deepfake_assets import config
from deepfake_assets.jobs import DATASET_AFTER_TAG, dataset_job, ingest_source_job
from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME, source_partitions
from deepfake_assets.registry import RegistryError, SourceRegistry, slugify
from deepfake_assets.resources import DataDirResource
from deepfake_assets.sources import detect_format
from deepfake_assets.sources.fingerprint import folder_fingerprint

SETTLE_ENV = "DEEPFAKE_SOURCES_SETTLE_S"


def _watch_default() -> tuple[dg.DefaultSensorStatus, str]:
    """RUNNING when there is a folder to watch; else STOPPED, and the description says why.

    Decided when the definitions load (the code server's environment), so a daemon without
    DEEPFAKE_SOURCES_DIR does not tick every 30 s to say there is nothing to watch.
    """
    if config.sources_dir() is not None:
        return dg.DefaultSensorStatus.RUNNING, ""
    return dg.DefaultSensorStatus.STOPPED, (
        " Stopped by default here: DEEPFAKE_SOURCES_DIR was not set when these definitions "
        "loaded, so there is no folder to watch. Set it and restart the code location (or "
        "`dagster dev`), or start the sensor in the UI once it is set."
    )


_WATCH_STATUS, _WATCH_NOTE = _watch_default()


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                continue
    return newest


def _unique_name(folder: Path, taken: set[str]) -> str:
    base = slugify(folder.name)
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


def scan_sources_dir(
    root: Path, registry: SourceRegistry, settle_s: float, now: float | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Register the recognisable new folders under `root`.

    Returns (registered names, unrecognised folder descriptions, folders still settling).
    """
    now = time.time() if now is None else now
    known = registry.by_path()
    removed = registry.removed_paths()
    taken = {s.name for s in registry.list()}
    registered, unknown, settling = [], [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.resolve() in known:
            continue
        if folder.resolve() in removed:
            unknown.append(f"{folder.name} (removed with `sources remove`; `sources add` it back)")
            continue
        fmt = detect_format(folder)
        if fmt is None:
            unknown.append(f"{folder.name} (no DFDC/FF++/Celeb-DF/DeeperForensics/manifest layout)")
            continue
        if now - _newest_mtime(folder) < settle_s:
            settling.append(folder.name)
            continue
        name = _unique_name(folder, taken)
        try:
            registry.add(name, folder, fmt, notes=f"registered by new_source_sensor from {root}")
        except RegistryError as exc:
            unknown.append(f"{folder.name} ({exc})")
            continue
        taken.add(name)
        registered.append(name)
    return registered, unknown, settling


@dg.sensor(
    job=ingest_source_job,
    minimum_interval_seconds=30,
    default_status=_WATCH_STATUS,
    description="Registers each new recognisable folder in $DEEPFAKE_SOURCES_DIR as a source "
    "dataset partition and requests its materialisation." + _WATCH_NOTE,
)
def new_source_sensor(
    context: dg.SensorEvaluationContext, data: DataDirResource
) -> dg.SensorResult:
    root = config.sources_dir()
    if root is None:
        return dg.SensorResult(skip_reason="DEEPFAKE_SOURCES_DIR is not set: no folder to watch")
    if not root.is_dir():
        return dg.SensorResult(skip_reason=f"DEEPFAKE_SOURCES_DIR={root} is not a folder")
    registry = data.registry()  # the registry the assets read, through the same resource
    settle_s = float(os.environ.get(SETTLE_ENV, "30"))
    registered, unknown, settling = scan_sources_dir(root, registry, settle_s)
    # Sources registered in the registry (e.g. by the CLI against another instance) but not yet
    # partitions of this instance are added too, and run.
    partitions = set(context.instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME))
    watched = {s.name for s in registry.list() if Path(s.path).parent == root}
    new_partitions = sorted((set(registered) | watched) - partitions)
    for line in unknown:
        context.log.warning(f"unrecognised source folder: {line}")
    if not new_partitions:
        parts = []
        if unknown:
            parts.append("unrecognised folders: " + "; ".join(unknown))
        if settling:
            parts.append("still changing, will look again: " + ", ".join(settling))
        return dg.SensorResult(skip_reason=" | ".join(parts) or f"no new source folder in {root}")
    run_requests = [
        dg.RunRequest(
            partition_key=name,
            run_key=f"{name}:{folder_fingerprint(registry.get(name).root)}",
            tags={"deepfake_assets/trigger": "new_source_sensor"},
        )
        for name in new_partitions
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[source_partitions.build_add_request(new_partitions)],
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_source_job],
    request_job=dataset_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a source dataset is ingested, rebuilds the assets over all sources.",
)
def dataset_after_ingest_sensor(
    context: dg.RunStatusSensorContext,
) -> dg.RunRequest | dg.SkipReason:
    run = context.dagster_run
    if run.tags.get(DATASET_AFTER_TAG) == "cli":
        return dg.SkipReason(
            f"run {run.run_id} was started by `deepfake-assets materialize`, which runs "
            "build_dataset itself"
        )
    return dg.RunRequest(
        run_key=f"after:{context.dagster_run.run_id}",
        tags={"deepfake_assets/trigger": "dataset_after_ingest_sensor"},
    )
