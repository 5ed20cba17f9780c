"""A short text summary of the catalog, printed by the CLI after a run."""

from __future__ import annotations

import polars as pl

from deepfake_assets.catalog import Catalog

MAX_REJECTED_SHOWN = 5  # rejected entries and unreadable metadata files named per source


def summary_lines(
    names: list[str], catalog: Catalog | None = None, with_export: bool = True
) -> list[str]:
    catalog = catalog or Catalog()
    lines = [f"\nCatalog: {catalog.db_path} (tables: {', '.join(tables(catalog))})"]
    for name in names:
        if not catalog.has("videos", name):
            lines.append(f"  {name}: no manifest yet")
            continue
        videos = catalog.read("videos", name)
        if videos.is_empty():
            lines.append(f"  {name}: 0 videos listed")
            continue
        by_status = videos.group_by("status").len().sort("status")
        status = ", ".join(f"{r['status']}={r['len']}" for r in by_status.to_dicts())
        ok = videos.filter(pl.col("status") == "ok")
        labels = ", ".join(
            f"{r['label']}={r['len']}" for r in ok.group_by("label").len().sort("label").to_dicts()
        )
        lines.append(f"  {name}: {videos.height} videos ({status}); usable: {labels}")
        rejected = videos.filter(pl.col("status") == "rejected")
        for row in rejected.head(MAX_REJECTED_SHOWN).select("rel_path", "reason").to_dicts():
            lines.append(f"    rejected {row['rel_path']}: {row['reason']}")
        if rejected.height > MAX_REJECTED_SHOWN:
            lines.append(
                f"    ... {rejected.height - MAX_REJECTED_SHOWN} more rejected "
                "(select * from videos where status = 'rejected')"
            )
        face_videos = catalog.read("face_videos", name)
        if not face_videos.is_empty():
            kept = face_videos.filter(pl.col("status") == "ok").height
            faces = catalog.read("faces", name).height
            lines.append(
                f"    faces: {faces} in {kept} of {face_videos.height} videos "
                f"(crops under {catalog.data_dir / 'faces' / name})"
            )
    card = catalog.data_dir / "export" / "DATA_CARD.md"
    if with_export and card.exists():
        text = card.read_text()
        lines += ["", f"Exported dataset: {card.parent} (info.csv, info.parquet, DATA_CARD.md)"]
        lines += ["  " + line for line in text.split("## Files")[0].splitlines()[2:] if line]
    return lines


def tables(catalog: Catalog) -> list[str]:
    from deepfake_assets.catalog import GLOBAL_TABLES, PARTITIONED_TABLES

    return [t for t in PARTITIONED_TABLES + GLOBAL_TABLES if catalog.partitions(t)]


def print_summary(names: list[str], with_export: bool = True) -> None:
    """Print the catalog's counts, and the data card's when the export is current."""
    print("\n".join(summary_lines(names, with_export=with_export)))
