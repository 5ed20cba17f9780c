"""Pictures of the identity space for metadata: the t-SNE of face tracks, faces per actor."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.faces.figures import fit_tile, grid
from deepfake_assets.media.images import read_png

TSNE_SIZE = (12.0, 9.0)  # inches: the UI shows it in a dialog up to 80% of the window wide
DPI = 90
THUMBNAIL_PX = 44


def tsne_figure(
    embeddings: np.ndarray,
    actors: np.ndarray,
    fake: np.ndarray | None = None,
    thumbnails: Mapping[int, np.ndarray] | None = None,
    max_points: int = 1000,
    size: tuple[float, float] = TSNE_SIZE,
):
    """t-SNE of face-track embeddings coloured by actor, fakes marked x, thumbnails on points.

    One row per track: `embeddings` (n, d), `actors` (n,) actor ids, `fake` (n,) whether the
    track's video is a fake, `thumbnails` row index -> RGB face shown at that point. Returns a
    matplotlib figure of `size` inches at `DPI`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    from sklearn.manifold import TSNE

    x = np.asarray(embeddings, dtype=np.float32)
    actors = np.asarray(actors).astype(str)
    fake = np.zeros(len(x), bool) if fake is None else np.asarray(fake, bool)
    thumbnails = dict(thumbnails or {})
    keep = np.arange(len(x))
    if len(x) > max_points:
        rest = np.setdiff1d(keep, list(thumbnails))
        pick = np.random.default_rng(0).choice(rest, max_points - len(thumbnails), replace=False)
        keep = np.sort(np.concatenate([pick, np.fromiter(thumbnails, int)]))
    fig, ax = plt.subplots(figsize=size, dpi=DPI, layout="constrained")
    n_actors = len(np.unique(actors))
    n_fake = int(fake.sum())
    ax.set_title(
        f"t-SNE of {len(x)} face-track embeddings"
        + (f" ({len(x) - n_fake} real, {n_fake} fake)" if n_fake else " (all of real videos)")
        + (f", {len(keep)} shown" if len(keep) < len(x) else "")
        + f", coloured by actor ({n_actors} actors)",
        fontsize=12,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    if len(keep) < 5:
        ax.text(0.5, 0.5, "fewer than 5 tracks: nothing to embed", ha="center", va="center")
        return fig
    x, actors, fake = x[keep], actors[keep], fake[keep]
    position = {int(row): i for i, row in enumerate(keep)}
    xy = TSNE(2, perplexity=min(30.0, (len(x) - 1) / 3), random_state=0).fit_transform(x)
    codes = np.unique(actors, return_inverse=True)[1]
    cmap = plt.get_cmap("tab20")
    colours = cmap(codes % 20)
    ax.scatter(xy[~fake, 0], xy[~fake, 1], c=colours[~fake], s=36, edgecolors="none")
    if fake.any():
        ax.scatter(xy[fake, 0], xy[fake, 1], c=colours[fake], s=70, marker="x", linewidths=2)
    for code in np.unique(codes)[:60]:
        # the actor's number beside its first point, below the thumbnail drawn above it
        first = int(np.flatnonzero(codes == code)[0])
        name = str(actors[first]).replace("actor_", "")
        ax.annotate(name, xy[first], fontsize=8, xytext=(6, -12), textcoords="offset points")
    for row, image in thumbnails.items():
        i = position.get(int(row))
        if i is None:
            continue
        tile = fit_tile(image, THUMBNAIL_PX)
        box = AnnotationBbox(
            OffsetImage(tile, zoom=1.0),
            xy[i],
            xybox=(0, 30),
            boxcoords="offset points",
            pad=0.15,
            bboxprops={"edgecolor": colours[i], "linewidth": 2},
            arrowprops={"arrowstyle": "-", "color": colours[i], "linewidth": 1},
        )
        ax.add_artist(box)
    pad = 0.08 * (xy.max(axis=0) - xy.min(axis=0) + 1e-6)
    ax.set_xlim(xy[:, 0].min() - pad[0], xy[:, 0].max() + pad[0])
    ax.set_ylim(xy[:, 1].min() - pad[1], xy[:, 1].max() + 3 * pad[1])
    handles = [
        Line2D([], [], marker="o", linestyle="", color="#555", label="track of a real video")
    ]
    if fake.any():
        handles.append(
            Line2D([], [], marker="x", linestyle="", color="#555", label="track of a fake video")
        )
    else:
        handles.append(
            Line2D([], [], linestyle="", label="fakes are not embedded: each takes its original's")
        )
    if thumbnails:
        handles.append(Line2D([], [], linestyle="", label="pictures: a face of the track below"))
    ax.legend(handles=handles, loc="best", fontsize=9, framealpha=0.85)
    return fig


def tsne_picture(
    tracks: pl.DataFrame,
    faces: pl.DataFrame,
    data_dir: Path,
    n_thumbnails: int = 12,
    max_points: int = 1000,  # 3,000 tracks: 3.5 min of actor_clusters at 100k faces
):
    """`tsne_figure` of the tracks the actors were clustered from.

    `tracks`: source, video_id, track, embedding, actor_id and label (REAL/FAKE) per track;
    `faces`: the catalog's faces (source, video_id, track, frame_index, crop_160), for the
    thumbnails: the first face of one track of each of the `n_thumbnails` largest actors.
    """
    tracks = tracks.with_row_index("_row")
    largest = (
        tracks.group_by("actor_id")
        .agg(pl.len().alias("n"), pl.col("_row").first())
        .sort(["n", "actor_id"], descending=[True, False])
        .head(n_thumbnails)
    )
    first_crops = (
        faces.group_by("source", "video_id", "track")
        .agg(pl.col("crop_160").sort_by("frame_index").first())
        .join(
            tracks.select("source", "video_id", "track", "_row"), on=["source", "video_id", "track"]
        )
        .filter(pl.col("_row").is_in(largest["_row"].implode()))
    )
    thumbnails = {
        int(r["_row"]): read_png(data_dir / r["crop_160"]) for r in first_crops.to_dicts()
    }
    return tsne_figure(
        np.asarray(tracks["embedding"].to_list(), dtype=np.float32),
        tracks["actor_id"].to_numpy(),
        (tracks["label"] == "FAKE").fill_null(False).to_numpy(),
        thumbnails,
        max_points=max_points,
    )


def actor_faces_picture(
    video_actors: pl.DataFrame,
    faces: pl.DataFrame,
    data_dir: Path,
    n_actors: int = 10,
    per_actor: int = 6,
) -> np.ndarray | None:
    """Seed 001's "same actor in multiple videos": a row per actor (most real videos first)
    with up to `per_actor` faces taken in turn from each of its real videos.

    `video_actors`: source, video_id, label, actor_id per video; `faces`: the catalog's faces
    (source, video_id, track, frame_index, crop_160); the main track (0) is shown.
    """
    real = video_actors.filter((pl.col("label") == "REAL") & pl.col("actor_id").is_not_null())
    ranked = (
        real.group_by("actor_id")
        .agg(pl.col("video_id").n_unique().alias("n"))
        .sort(["n", "actor_id"], descending=[True, False])
        .head(n_actors)
    )
    crops = (
        faces.filter(pl.col("track") == 0)
        .sort("frame_index")
        .group_by("source", "video_id", maintain_order=True)
        .agg(pl.col("crop_160"))
    )
    rows, labels = [], []
    for actor, n_videos in ranked.select("actor_id", "n").iter_rows():
        videos = (
            real.filter(pl.col("actor_id") == actor)
            .join(crops, on=["source", "video_id"])
            .sort("source", "video_id")
        )
        per_video = [_spread(paths, per_actor) for paths in videos["crop_160"].to_list()]
        chosen = _in_turn(per_video, per_actor)
        if not chosen:
            continue
        rows.append([read_png(data_dir / p) for p in chosen])
        labels.append(f"{actor}\n{n_videos} video{'s' if n_videos != 1 else ''}")
    return grid(rows, labels, label_width=120) if rows else None


def _spread(items: list, n: int) -> list:
    """Up to `n` items evenly spread over the list (first and last included)."""
    if len(items) <= n:
        return list(items)
    picks = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in picks]


def _in_turn(lists: list[list], n: int) -> list:
    """Up to `n` items taken one from each list in turn, so every video shows."""
    out: list = []
    depth = 0
    while len(out) < n and any(depth < len(items) for items in lists):
        out += [items[depth] for items in lists if depth < len(items)][: n - len(out)]
        depth += 1
    return out


def donors_picture(
    identities: pl.DataFrame,
    video_actors: pl.DataFrame,
    faces: pl.DataFrame,
    data_dir: Path,
    n: int = 6,
) -> np.ndarray | None:
    """A few fakes, each beside a real face of its target and of its donor (found donors only,
    rebuilt-face donors first: they are the ones a reader should check by eye)."""
    from deepfake_assets.media.images import ImageIOError

    firsts = faces.group_by("source", "video_id", "track").agg(
        pl.col("crop_160").sort_by("frame_index").first()
    )
    real = video_actors.filter((pl.col("label") == "REAL") & pl.col("actor_id").is_not_null())
    actor_face = (
        real.join(
            firsts,
            left_on=["source", "video_id", "main_track"],
            right_on=["source", "video_id", "track"],
        )
        .sort("source", "video_id")
        .unique("actor_id", keep="first")
    )
    face_of = dict(zip(actor_face["actor_id"], actor_face["crop_160"], strict=True))
    fake_face = (
        firsts.sort("track")
        .unique(["source", "video_id"], keep="first")
        .select("source", "video_id", pl.col("crop_160").alias("fake_crop"))
    )
    shown = (
        identities.filter(pl.col("donor_actor_id").is_not_null())
        .join(fake_face, on=["source", "video_id"])
        .filter(
            pl.col("target_actor_id").is_in(list(face_of))
            & pl.col("donor_actor_id").is_in(list(face_of))
        )
        .sort(pl.col("donor_source") != "residual", "donor_source", "source", "video_id")
        .head(n)
    )
    rows, labels = [], []
    for r in shown.to_dicts():
        paths = (r["fake_crop"], face_of[r["target_actor_id"]], face_of[r["donor_actor_id"]])
        try:
            rows.append([read_png(data_dir / p) for p in paths])
        except (ImageIOError, OSError):  # a crop deleted since: the picture shows the others
            continue
        labels.append(f"{r['donor_source']} {r['video_id']}")
    return grid(rows, labels, label_width=170) if rows else None
