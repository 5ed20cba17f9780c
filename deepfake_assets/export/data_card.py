"""The data card: counts per dataset x split x label, the balance, and where to look."""

from __future__ import annotations

import polars as pl


def counts_figure(info: pl.DataFrame):
    """Bar chart of face images per split, real vs fake, one group of bars per source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = info.group_by("source", "split", "label").len().sort("source", "split", "label")
    keys = counts.select("source", "split").unique(maintain_order=True).rows()
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(keys) + 2), 3.2))
    width = 0.4
    for offset, label, colour in ((-width / 2, "REAL", "#2e86de"), (width / 2, "FAKE", "#e15f41")):
        values = [
            counts.filter(
                (pl.col("source") == s) & (pl.col("split") == sp) & (pl.col("label") == label)
            )["len"].sum()
            for s, sp in keys
        ]
        ax.bar([i + offset for i in range(len(keys))], values, width, label=label, color=colour)
    ax.set_xticks(range(len(keys)), [f"{s}\n{sp}" for s, sp in keys], fontsize=8)
    ax.set_ylabel("face images")
    ax.legend()
    return fig


def _markdown_table(df: pl.DataFrame) -> str:
    header = "| " + " | ".join(df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([header, rule, *rows])


def data_card(
    info: pl.DataFrame,
    figure_name: str | None = None,
    funnel: pl.DataFrame | None = None,
    files: list[str] | None = None,
) -> str:
    """Markdown summary of the exported dataset; ``funnel`` (export/funnel.py) first, since it
    is what a reviewer asks first; ``files`` adds lines to the Files section."""
    total = info.height
    counts = (
        info.group_by("source", "split", "label")
        .len()
        .pivot(on="label", index=["source", "split"], values="len")
        .fill_null(0)
        .sort("source", "split")
    )
    for label in ("REAL", "FAKE"):
        if label not in counts.columns:
            counts = counts.with_columns(pl.lit(0).alias(label))
    splits = (
        info.group_by("split")
        .agg(pl.len().alias("images"), pl.col("actor_id").n_unique().alias("actors"))
        .with_columns((pl.col("images") / total).round(3).alias("share"))
        .sort("split")
    )
    balance = (
        info.group_by("source")
        .agg(
            (pl.col("label") == "REAL").sum().alias("real"),
            (pl.col("label") == "FAKE").sum().alias("fake"),
        )
        .with_columns(
            (pl.col("real") / (pl.col("real") + pl.col("fake"))).round(3).alias("real_share")
        )
        .sort("source")
    )
    kinds = (
        info.group_by("source", "item_kind")
        .agg(pl.col("video_id").n_unique().alias("items"), pl.len().alias("face_images"))
        .sort("source", "item_kind")
        if "item_kind" in info.columns
        else None
    )
    levels = info.filter(pl.col("label") == "FAKE").group_by("fake_level").len().sort("fake_level")
    lines = [
        "# Data card",
        "",
        f"{total} face images of {info['video_id'].n_unique()} items (videos and images), "
        f"{info['actor_id'].n_unique()} actors, {info['source'].n_unique()} source datasets. "
        "Every actor is in exactly one split; every fake is in its original's split.",
        "",
        *(
            [
                "## Funnel: what each stage kept, per source",
                "Videos up to `faces found`, face images from there on; `lost` counts what the "
                "step removed (videos for the first three steps, faces after).",
                "",
                _markdown_table(funnel.with_columns(pl.all().cast(pl.Utf8)).fill_null("")),
                "",
            ]
            if funnel is not None and funnel.height
            else []
        ),
        "## Splits",
        _markdown_table(splits.select("split", "images", "actors", "share")),
        "",
        "## Images per dataset x split x label",
        _markdown_table(counts.select("source", "split", "REAL", "FAKE")),
        "",
        "## Items per dataset: videos and images (`item_kind`)",
        _markdown_table(kinds) if kinds is not None and kinds.height else "no items",
        "",
        "## Real / fake balance per dataset",
        _markdown_table(balance),
        "",
        "## Fake alteration levels (0 = closest to the original)",
        _markdown_table(levels) if levels.height else "no fakes",
        "",
        "## Files",
        "- `info.csv`, `info.parquet`: one row per image; paths relative to this folder.",
        "- `faces/<source>/<video>/<frame>_<track>_{160,299,raw}.png`, `masks/...`: the images.",
        *(files or []),
    ]
    if figure_name:
        lines += ["", f"![images per split and label]({figure_name})"]
    return "\n".join(lines) + "\n"
