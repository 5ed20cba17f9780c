"""Scheduled backfills: re-materialise sources that changed and those never materialised.

A source's state is the fingerprint of its folder (file names, sizes, mtimes), recorded as the
`source_fingerprint` metadata of each `videos` materialisation. The schedule compares it with the
folder as it is now; the run key carries the fingerprint, so one change is requested once.
"""

import dagster as dg

from deepfake_assets.jobs import ingest_source_job
from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME
from deepfake_assets.registry import SourceRegistry
from deepfake_assets.resources import DataDirResource
from deepfake_assets.sources.fingerprint import folder_fingerprint

VIDEOS_KEY = dg.AssetKey("videos")


def last_fingerprint(instance: dg.DagsterInstance, partition: str) -> str | None:
    """The folder fingerprint recorded by the latest `videos` materialisation of a partition."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=VIDEOS_KEY, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    materialization = records[0].asset_materialization
    value = materialization.metadata.get("source_fingerprint") if materialization else None
    return getattr(value, "value", value)


def stale_sources(instance: dg.DagsterInstance, registry: SourceRegistry) -> list[dict]:
    """Each registered source with why it needs a run (`never`, `changed`), or none."""
    partitions = set(instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME))
    out = []
    for source in registry.list():
        if not source.root.is_dir():
            out.append({"name": source.name, "why": "missing_folder", "fingerprint": None})
            continue
        now = folder_fingerprint(source.root)
        before = last_fingerprint(instance, source.name) if source.name in partitions else None
        if before is None:
            out.append({"name": source.name, "why": "never", "fingerprint": now})
        elif before != now:
            out.append({"name": source.name, "why": "changed", "fingerprint": now})
    return out


@dg.schedule(
    job=ingest_source_job,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly: backfills sources never materialised and re-runs sources whose folder "
    "changed since their last materialisation.",
)
def source_backfill_schedule(context: dg.ScheduleEvaluationContext, data: DataDirResource):
    registry = data.registry()  # the registry the assets read, through the same resource
    stale = stale_sources(context.instance, registry)
    missing = [s["name"] for s in stale if s["why"] == "missing_folder"]
    for name in missing:
        context.log.warning(f"source {name!r}: its folder is gone; not scheduled")
    requests = [
        dg.RunRequest(
            partition_key=s["name"],
            run_key=f"{s['name']}:{s['fingerprint']}",
            tags={"deepfake_assets/trigger": f"schedule:{s['why']}"},
        )
        for s in stale
        if s["why"] != "missing_folder"
    ]
    if not requests:
        return dg.SkipReason("every registered source is up to date")
    new = [r.partition_key for r in requests if r.partition_key]
    known = set(context.instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME))
    to_add = [n for n in new if n not in known]
    if to_add:
        context.instance.add_dynamic_partitions(SOURCE_PARTITIONS_NAME, to_add)
    return requests
