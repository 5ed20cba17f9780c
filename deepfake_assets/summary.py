"""A short text summary of the catalog, printed by the CLI after a run."""

from __future__ import annotations

import polars as pl

from deepfake_assets import config
from deepfake_assets.catalog import Catalog


def summary_lines(names: list[str], catalog: Catalog | None = None) -> list[str]:
    catalog = catalog or Catalog()
    lines = [f"\nCatalog: {catalog.db_path} (tables: {', '.join(tables(catalog))})"]
    for name in names:
        videos = catalog.read("videos", name)
        if videos.is_empty():
            lines.append(f"  {name}: no manifest yet")
            continue
        by_status = videos.group_by("status").len().sort("status")
        status = ", ".join(f"{r['status']}={r['len']}" for r in by_status.to_dicts())
        ok = videos.filter(pl.col("status") == "ok")
        labels = ", ".join(
            f"{r['label']}={r['len']}" for r in ok.group_by("label").len().sort("label").to_dicts()
        )
        lines.append(f"  {name}: {videos.height} videos ({status}); usable: {labels}")
        faces = catalog.read("faces", name)
        if not faces.is_empty():
            lines.append(f"    faces: {faces.height} crops under {config.data_dir() / 'faces'}")
    return lines


def tables(catalog: Catalog) -> list[str]:
    from deepfake_assets.catalog import GLOBAL_TABLES, PARTITIONED_TABLES

    return [t for t in PARTITIONED_TABLES + GLOBAL_TABLES if catalog.partitions(t)]


def print_summary(names: list[str]) -> None:
    print("\n".join(summary_lines(names)))
