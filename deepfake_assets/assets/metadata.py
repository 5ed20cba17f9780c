"""Metadata people can read in the Dagster UI: tables, counts and embedded pictures."""

from __future__ import annotations

import base64
import io

import dagster as dg
import numpy as np
import polars as pl
from PIL import Image

_DTYPES = {
    pl.Boolean: "bool",
    pl.Int8: "int",
    pl.Int16: "int",
    pl.Int32: "int",
    pl.Int64: "int",
    pl.UInt32: "int",
    pl.UInt64: "int",
    pl.Float32: "float",
    pl.Float64: "float",
}


def table(df: pl.DataFrame, limit: int = 20) -> dg.TableMetadataValue:
    """The first `limit` rows of a frame as a table the UI renders with typed columns."""
    head = df.head(limit)
    columns = [
        dg.TableColumn(name, _DTYPES.get(dtype.base_type(), "string"))
        for name, dtype in head.schema.items()
    ]
    records = [dg.TableRecord({k: _plain(v) for k, v in row.items()}) for row in head.to_dicts()]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def counts(df: pl.DataFrame, *by: str) -> dict[str, int]:
    """`{"a/b": n}` counts of the given columns' value combinations, for metadata."""
    if df.is_empty():
        return {}
    grouped = df.group_by(list(by)).len().sort(list(by))
    return {"/".join(str(row[c]) for c in by): int(row["len"]) for row in grouped.to_dicts()}


def png_markdown(image: np.ndarray | Image.Image, title: str = "", max_side: int = 1400) -> str:
    """Markdown with the picture embedded as a data URI (the UI renders it inline)."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    if max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![{title}](data:image/png;base64,{data})"


def figure_markdown(fig, title: str = "") -> str:
    """A matplotlib figure as embedded PNG Markdown (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    buffer.seek(0)
    return png_markdown(Image.open(buffer), title)


def rows_check(passed: bool, offenders: pl.DataFrame, what: str, **extra) -> dg.AssetCheckResult:
    """An ERROR-severity check result that names its offending rows (the first 20 as a table,
    the first 5 inline so the CLI can print them)."""
    metadata = {"num_offending": offenders.height, **extra}
    if offenders.height:
        metadata["offending_rows"] = table(offenders, limit=20)
        metadata["first_offenders"] = "; ".join(
            ", ".join(f"{k}={v}" for k, v in row.items()) for row in offenders.head(5).to_dicts()
        )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=what if passed else f"{offenders.height} offending: {what}",
        metadata=metadata,
    )
