"""Pictures of faces for metadata: rows of crops laid out in one image (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


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
    """Rows of images as one RGB picture, each row optionally labelled on its left."""
    columns = max((len(r) for r in rows), default=0)
    left = label_width if labels else 0
    height = len(rows) * (tile + gap) + gap
    width = left + columns * (tile + gap) + gap
    canvas = np.full((max(height, 1), max(width, 1), 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        y = gap + i * (tile + gap)
        if labels:
            cv2.putText(
                canvas,
                labels[i][:22],
                (4, y + tile // 2 + 5),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                (20, 20, 20),
                1,
                cv2.LINE_AA,
            )
        for j, image in enumerate(row):
            x = left + gap + j * (tile + gap)
            canvas[y : y + tile, x : x + tile] = fit_tile(image, tile)
    return canvas
