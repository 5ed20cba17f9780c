"""The Definitions every entry point loads: `dagster dev`, `dg dev`, the CLI and the tests."""

from __future__ import annotations

import dagster as dg

from deepfake_assets.assets import donors, export, faces, fakes, identity, ingest, splits
from deepfake_assets.jobs import dataset_job, ingest_source_job
from deepfake_assets.resources import ComputeResource, DataDirResource
from deepfake_assets.schedules import source_backfill_schedule
from deepfake_assets.sensors import dataset_after_ingest_sensor, new_source_sensor

ASSET_MODULES = [ingest, faces, identity, donors, fakes, splits, export]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ASSET_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
    jobs=[ingest_source_job, dataset_job],
    sensors=[new_source_sensor, dataset_after_ingest_sensor],
    schedules=[source_backfill_schedule],
    resources={"data": DataDirResource(), "compute": ComputeResource()},
)
