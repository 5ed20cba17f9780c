"""Source datasets are Dagster partitions: one dynamic partition per registered source."""

from __future__ import annotations

import dagster as dg

SOURCE_PARTITIONS_NAME = "source_datasets"

source_partitions = dg.DynamicPartitionsDefinition(name=SOURCE_PARTITIONS_NAME)
