"""Pictures of faces for metadata: rows of crops laid out in one image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from deepfake_assets.media.images import read_png

FONT, FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.45
LINE_PX = 16


def fit_tile(image: np.ndarray, size: int) -> np.ndarray:
    """An RGB image fitted into a `size` x `size` black tile, aspect kept."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    resized = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    tile = np.zeros((size, size, 3), dtype=np.uint8)
    y, x = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    tile[y : y + resized.shape[0], x : x + resized.shape[1]] = resized[..., :3]
    return tile


def grid(
    rows: Sequence[Sequence[np.ndarray]],
    labels: Sequence[str] | None = None,
    tile: int = 96,
    gap: int = 4,
    label_width: int = 170,
) -> np.ndarray:
    """Rows of images as one RGB picture, each row optionally labelled on its left (lines
    split at "\n", each cut to what `label_width` holds)."""
    columns = max((len(r) for r in rows), default=0)
    left = label_width if labels else 0
    height = len(rows) * (tile + gap) + gap
    width = left + columns * (tile + gap) + gap
    canvas = np.full((max(height, 1), max(width, 1), 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        y = gap + i * (tile + gap)
        if labels:
            lines = labels[i].split("\n")
            top = y + tile // 2 + 5 - (len(lines) - 1) * LINE_PX // 2
            for k, line in enumerate(lines):
                cv2.putText(
                    canvas,
                    _fit_text(line, left - 8),
                    (4, top + k * LINE_PX),
                    FONT,
                    FONT_SCALE,
                    (20, 20, 20),
                    1,
                    cv2.LINE_AA,
                )
        for j, image in enumerate(row):
            x = left + gap + j * (tile + gap)
            canvas[y : y + tile, x : x + tile] = fit_tile(image, tile)
    return canvas


def _fit_text(text: str, width: int) -> str:
    """`text` cut (with "…" shown as "..") to what `width` pixels of the label font hold."""
    if cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0] <= width:
        return text
    while text and cv2.getTextSize(text + "..", FONT, FONT_SCALE, 1)[0][0] > width:
        text = text[:-1]
    return text + ".."


def faces_picture(faces: pl.DataFrame, data_dir: Path, max_videos: int = 3, per_row: int = 8):
    """Seed 001's figures: per real video a row of 160, 299 and raw crops, then its fakes."""
    if faces.is_empty():
        return None
    reals = faces.filter((pl.col("label") == "REAL") & (pl.col("track") == 0))
    fakes = faces.filter((pl.col("label") == "FAKE") & (pl.col("track") == 0))
    with_fakes = fakes.join(
        reals.select("video_id").unique().rename({"video_id": "box_source"}), on="box_source"
    )
    chosen = with_fakes["box_source"].unique().sort().to_list()[:max_videos]
    if not chosen:
        chosen = reals["video_id"].unique().sort().to_list()[:max_videos]
    rows, labels = [], []
    for video in chosen:
        real = reals.filter(pl.col("video_id") == video).sort("frame_index").head(per_row)
        frames = real["frame_index"].to_list()
        for kind, name in (("crop_160", "160x160"), ("crop_299", "299x299"), ("crop_raw", "raw")):
            rows.append([read_png(data_dir / p) for p in real[kind].to_list()])
            labels.append(f"{video} {name}")
        for fake in with_fakes.filter(pl.col("box_source") == video)["video_id"].unique().sort():
            fake_rows = fakes.filter(
                (pl.col("video_id") == fake) & pl.col("frame_index").is_in(frames)
            ).sort("frame_index")
            rows.append([read_png(data_dir / p) for p in fake_rows["crop_160"].to_list()])
            labels.append(f"fake {fake}")
    return grid(rows, labels)
