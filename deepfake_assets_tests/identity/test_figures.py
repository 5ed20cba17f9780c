"""The identity pictures: a t-SNE big enough to read, with fakes and faces on it, and rows of
several faces per actor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.offsetbox import AnnotationBbox

from deepfake_assets.faces.figures import grid
from deepfake_assets.identity.figures import (
    DPI,
    TSNE_SIZE,
    actor_faces_picture,
    tsne_figure,
    tsne_picture,
)
from deepfake_assets.media.images import write_png_atomic

TILE, GAP, LABEL_WIDTH = 96, 4, 120


def _rendered(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())


def _clusters(n_actors: int = 3, per_actor: int = 6, dim: int = 16) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(n_actors, dim)) * 5
    x = np.concatenate([c + rng.normal(size=(per_actor, dim)) * 0.2 for c in centres])
    actors = np.repeat([f"actor_{i:04d}" for i in range(n_actors)], per_actor)
    return x.astype(np.float32), actors


def test_tsne_is_large_marks_fakes_and_carries_thumbnails() -> None:
    x, actors = _clusters()
    fake = np.zeros(len(x), bool)
    fake[[1, 7]] = True
    faces = {0: np.full((160, 160, 3), 200, np.uint8), 6: np.full((160, 160, 3), 50, np.uint8)}
    fig = tsne_figure(x, actors, fake, faces)
    image = _rendered(fig)
    assert image.shape[:2] == (round(TSNE_SIZE[1] * DPI), round(TSNE_SIZE[0] * DPI))
    assert image.shape[1] >= 1000  # larger than the old 6 x 5 in figure (540 px)
    ax = fig.axes[0]
    boxes = [a for a in ax.artists if isinstance(a, AnnotationBbox)]
    assert len(boxes) == 2
    # real tracks as dots, fake tracks as a second scatter of crosses
    assert [len(c.get_offsets()) for c in ax.collections] == [16, 2]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "track of a fake video" in legend
    assert "16 real, 2 fake" in ax.get_title()


def test_tsne_without_fakes_says_they_are_not_plotted() -> None:
    x, actors = _clusters()
    ax = tsne_figure(x, actors).axes[0]
    assert len(ax.collections) == 1
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "fakes are not embedded" in legend


def _face_files(root: Path, videos: dict[str, tuple[str, int]]) -> pl.DataFrame:
    """Uniform 'faces' whose grey level encodes (video, frame), written as the catalog would."""
    rows = []
    for v, (video, (actor, n_frames)) in enumerate(videos.items()):
        for f in range(n_frames):
            rel = f"faces/s/{video}/{f:06d}_0_160.png"
            write_png_atomic(root / rel, np.full((160, 160, 3), (10 + v * 40 + f) % 250, np.uint8))
            rows.append(("s", video, 0, f, rel, actor))
    return pl.DataFrame(
        rows,
        schema=["source", "video_id", "track", "frame_index", "crop_160", "actor"],
        orient="row",
    )


def test_actor_rows_hold_up_to_six_faces_from_all_their_videos(tmp_path: Path) -> None:
    videos = {
        "a1": ("actor_a", 5),
        "a2": ("actor_a", 5),
        "b1": ("actor_b", 2),
        "c1": ("actor_c", 4),
        "c2": ("actor_c", 4),
        "c3": ("actor_c", 4),
    }
    faces = _face_files(tmp_path, videos)
    video_actors = pl.DataFrame(
        {
            "source": "s",
            "video_id": list(videos),
            "label": "REAL",
            "actor_id": [a for a, _ in videos.values()],
        }
    )
    picture = actor_faces_picture(video_actors, faces.drop("actor"), tmp_path)
    # rows: most videos first (c: 3, a: 2, b: 1), six faces at most per row
    assert picture.shape == (3 * (TILE + GAP) + GAP, LABEL_WIDTH + 6 * (TILE + GAP) + GAP, 3)
    grey = {}
    for v, (video, (_, n_frames)) in enumerate(videos.items()):
        for f in range(n_frames):
            grey[10 + v * 40 + f] = video
    shown = []
    for r in range(3):
        y = GAP + r * (TILE + GAP) + TILE // 2
        row = []
        for c in range(6):
            x = LABEL_WIDTH + GAP + c * (TILE + GAP) + TILE // 2
            value = int(picture[y, x, 0])
            row.append(grey.get(value))  # None: blank (white) tile
        shown.append(row)
    # faces taken in turn from each video, so every video of the actor shows
    assert shown[0] == ["c1", "c2", "c3", "c1", "c2", "c3"]
    assert shown[1] == ["a1", "a2", "a1", "a2", "a1", "a2"]
    assert shown[2] == ["b1", "b1", None, None, None, None]


def test_tsne_picture_puts_one_face_of_each_largest_actor_on_it(tmp_path: Path) -> None:
    x, actors = _clusters(n_actors=4, per_actor=4)
    videos = {f"v{i}": (str(actors[i]), 2) for i in range(len(x))}
    faces = _face_files(tmp_path, videos).drop("actor")
    tracks = pl.DataFrame(
        {
            "source": "s",
            "video_id": list(videos),
            "track": 0,
            "embedding": list(x),
            "actor_id": list(actors),
            "label": "REAL",
        }
    )
    ax = tsne_picture(tracks, faces, tmp_path, n_thumbnails=3).axes[0]
    assert len([a for a in ax.artists if isinstance(a, AnnotationBbox)]) == 3


def test_grid_labels_keep_their_lines_within_the_label_column() -> None:
    tile = np.zeros((10, 10, 3), np.uint8)
    picture = grid([[tile]], ["actor_0001\n2 videos " + "x" * 80], tile=40, label_width=120)
    assert picture.shape == (40 + 2 * 4, 120 + 40 + 2 * 4, 3)
    # the label column has ink on two lines, and none past it
    ink = (picture[:, :120] < 128).any(axis=2)
    lines = np.flatnonzero(ink.any(axis=1))
    assert lines.max() - lines.min() > 16
    assert (picture[:, 116:124] == 255).all()  # the long line was cut before the tiles
