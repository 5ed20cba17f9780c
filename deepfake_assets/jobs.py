"""Jobs: one run per source dataset (partitioned assets), one over all sources.

Assets say which they are with the tag `deepfake_assets/scope` (`per_source` or `dataset`), so a
new asset joins the right job by its tag, not by editing a list here.
"""

from __future__ import annotations

import dagster as dg

SCOPE_TAG = "deepfake_assets/scope"
PER_SOURCE = {SCOPE_TAG: "per_source"}
DATASET = {SCOPE_TAG: "dataset"}

DATASET_AFTER_TAG = "deepfake_assets/dataset_after"
"""`cli` on per-source runs that `deepfake-assets materialize` follows with `build_dataset`
itself, so a running daemon's `dataset_after_ingest_sensor` does not request it a second time."""

ingest_source_job = dg.define_asset_job(
    "ingest_source",
    selection=dg.AssetSelection.tag(SCOPE_TAG, "per_source"),
    description="Every per-source asset (manifest, frames, faces, hashes, embeddings, SSIM) "
    "for one source dataset partition, with their checks.",
)

dataset_job = dg.define_asset_job(
    "build_dataset",
    selection=dg.AssetSelection.tag(SCOPE_TAG, "dataset"),
    description="The assets over all source datasets: duplicate groups, actors, splits, export.",
)
