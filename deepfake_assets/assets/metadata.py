"""Metadata people can read in the Dagster UI: tables, counts and embedded pictures."""

from __future__ import annotations

import base64
import io
import math

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


# A row is read as "which item, what happened to it": its identifier first, then these.
IDENTIFIER_COLUMNS = ("source", "actor_id", "video_id", "face_id", "item_id")
KEY_COLUMNS = (
    "status",
    "reason",
    "orphan_reason",
    "level",
    "fake_level",
    "unaltered",
    "num_faces",
    "n_faces",
)
SIGNIFICANT_DIGITS = 3


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` with `digits` significant digits, integer digits never dropped (0.98345 ->
    0.983, 0.012345 -> 0.0123, 1234.5 -> 1234.0): enough to compare, short enough to read."""
    if not math.isfinite(value) or value == 0:
        return value
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    return round(value, max(decimals, 0))


def readable_order(columns: list[str], first: tuple[str, ...] = ()) -> list[str]:
    """Columns reordered for reading: `first`, then identifiers, then key columns (status,
    reason, level, counts), then the rest as they were."""
    lead = [c for c in (*first, *IDENTIFIER_COLUMNS, *KEY_COLUMNS) if c in columns]
    lead = list(dict.fromkeys(lead))
    return lead + [c for c in columns if c not in lead]


def shown_note(shown: int, total: int, where: str = "") -> str:
    """What a cut table says in its last row, so nobody takes the first rows for all."""
    note = f"… showing {shown} of {total} rows"
    return f"{note} (all in {where})" if where else note


def table(
    df: pl.DataFrame,
    limit: int = 20,
    *,
    first: tuple[str, ...] = (),
    where: str = "",
    digits: int = SIGNIFICANT_DIGITS,
) -> dg.TableMetadataValue:
    """The first `limit` rows of a frame as a table the UI renders with typed columns: key
    columns first (`readable_order`), floats to `digits` significant digits, and a last row
    "showing N of M" when rows were left out (`where` names the table holding them all)."""
    head = df.head(limit).select(readable_order(df.columns, first))
    columns = [
        dg.TableColumn(name, _DTYPES.get(dtype.base_type(), "string"))
        for name, dtype in head.schema.items()
    ]
    records = [
        dg.TableRecord({k: _plain(v, digits) for k, v in row.items()}) for row in head.to_dicts()
    ]
    if df.height > head.height and head.columns:
        note = shown_note(head.height, df.height, where)
        records.append(
            dg.TableRecord({c: note if i == 0 else None for i, c in enumerate(head.columns)})
        )
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def _plain(value, digits: int = SIGNIFICANT_DIGITS):
    if isinstance(value, float):
        # NaN and infinities are not JSON: the UI could not parse the row
        return round_sig(value, digits) if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
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
    """A matplotlib figure as embedded PNG Markdown at its own size and dpi (the figure is
    closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
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
            ", ".join(f"{k}={_plain(v)}" for k, v in row.items())
            for row in offenders.head(5).to_dicts()
        )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=what if passed else f"{offenders.height} offending: {what}",
        metadata=metadata,
    )
