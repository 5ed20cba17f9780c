"""The export as DeepfakeBench reads it, with its stock loader and no code change.

Written for DeepfakeBench's ``training/dataset/abstract_dataset.py`` (SCLBD/DeepfakeBench,
commit 8a4a7bf); every rule below cites the loader line that imposes it:

* L165-169: it opens ``<dataset_json_folder>/<name>.json`` and, L190, reads
  ``dataset_info[<name>]``: the file's stem *is* the top-level key.
* L174-196: names of the FaceForensics++ family (``FF-DF``, ``FaceForensics++``, ...) get one more
  nesting level (compression); those names are refused here.
* L190-191: ``dataset_info[name][label][mode]`` for **every** label, ``mode`` in ``train`` /
  ``test`` only (L73-99), no fallback: every label gets every split key, even when empty. There
  is no ``val`` mode, so val is a second file, ``<name>_val.json`` (key ``<name>_val``), whose
  ``test`` slot holds val: testing on ``<name>_val`` evaluates on our val split.
* L204-206: each video's ``label`` must be in the config's ``label_dict``: we write the entries
  (``label_dict.yaml``) for ``train_config.yaml`` and ``test_config.yaml``.
* L209-212: frames are sorted by ``int(<file stem>)``: stems are frame numbers, zero-padded.
* L298-299: a path not starting with ``.`` becomes ``./{rgb_dir}\\`` + path (a Windows
  separator), so paths are written ``./datasets/<name>/...``, relative to DeepfakeBench's
  working directory (its repository root), where its README puts datasets.
* L485-486: the mask and landmark paths are the frame's with ``frames`` replaced by ``masks`` /
  ``landmarks`` and ``.png`` by ``.npy`` (every occurrence): the layout has ``frames/``,
  ``masks/`` and ``landmarks/`` siblings, as its ``preprocessing/preprocess.py`` writes them,
  and no other path segment may contain ``frames`` or ``.png``.
* L337-342: a missing mask silently reads as zeros; reals get an explicit all-zero mask and
  fakes the SSIM difference mask, so every mask path exists.
* L374-381: landmarks are loaded as saved, not rescaled (only the lmdb branch, L389, rescales
  from 256): they are written in the coordinates of a ``resolution`` x ``resolution`` image
  (256, DeepfakeBench's detector configs and preprocessing size), since L314 resizes every frame
  to that. Ours have 68 points; DeepfakeBench's preprocessing writes 81 (13 more on the
  forehead), and its fallback for a missing file is an (81, 2) zero array (L374, L381).
  Points outside the crop (a chin below its edge) are clamped onto it: the loader's
  albumentations pipeline (L114-131) raises on keypoints outside the image.
* L219-256: ``video_mode`` takes clips of ``clip_size`` consecutive *listed* frames of one
  entry, so each entry is one video *and one track* (``<video>`` for track 0,
  ``<video>_track<k>`` for the others): a clip never jumps between two faces.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.export.landmark_cache import LandmarkOptions, crop_landmarks
from deepfake_assets.export.linking import absolute, link_many, link_pairs
from deepfake_assets.faces.video_faces import safe_video_dir
from deepfake_assets.media.images import write_bytes_atomic

SPLITS = ("train", "val", "test")
# L174-196: these names take the FaceForensics++ compression branch of the loader.
_FF_NAMES = {
    "FaceForensics++",
    "FaceForensics++_c40",
    "DeepFakeDetection",
    "FaceShifter",
    "FF-DF",
    "FF-F2F",
    "FF-FS",
    "FF-NT",
    "FF-DF_c40",
    "FF-F2F_c40",
    "FF-FS_c40",
    "FF-NT_c40",
}


class DeepfakeBenchError(ValueError):
    """Options DeepfakeBench's loader cannot read (a name, a path prefix)."""


@dataclass(frozen=True)
class DeepfakeBenchOptions:
    name: str = "deepfake_assets"
    # ./datasets/<name>/...: DeepfakeBench's README keeps datasets under ./datasets.
    prefix: str = "./datasets"
    per_method_labels: bool = False
    landmarks: bool = True
    resolution: int = 256
    crop_margin: float = 0.15

    def validate(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_+-]*", self.name):
            raise DeepfakeBenchError(f"dataset name {self.name!r}: use letters, digits, _ + -")
        if self.name in _FF_NAMES or self.name.removesuffix("_val") in _FF_NAMES:
            raise DeepfakeBenchError(f"{self.name!r} takes the loader's FaceForensics++ branch")
        if "frames" in self.name or "frames" in self.prefix:
            raise DeepfakeBenchError("the loader replaces 'frames' in paths: avoid it in names")
        if not self.prefix.startswith("."):
            raise DeepfakeBenchError(
                f"prefix {self.prefix!r}: the loader prepends rgb_dir to paths not starting "
                "with '.' (abstract_dataset.py L298-299)"
            )


@dataclass
class DeepfakeBenchSummary:
    json_files: list[str]
    labels: list[str]
    entries: dict[str, int]  # split -> number of video/track entries
    frames: int
    masks_from_ssim: int
    masks_zero: int
    fakes_without_mask: int  # no SSIM mask (an orphan fake): the loader reads zeros (L337-342)
    landmark_box_sources: dict[str, int] = field(default_factory=dict)
    landmarks_clamped: int = 0  # frames with a point outside the crop, clamped onto its edge
    landmark_failures: list[str] = field(default_factory=list)  # unreadable crops, with why
    landmarks_computed: int = 0  # this export (new or changed crops)
    landmarks_reused: int = 0  # from an earlier export's cache, the crop unchanged


def safe_segment(text: str) -> str:
    """A path segment the loader's ``str.replace`` calls leave intact (L485-486)."""
    text = re.sub(r"[\\/:\s]+", "_", str(text))
    return text.replace("frames", "frame_s").replace(".png", "_png").strip(".") or "_"


def entry_name(video_id: str) -> str:
    """A video's folder and entry key: its id where that is already a safe segment, else the
    safe segment plus a hash of the exact id (as crop folders are named), so two ids that
    only differ in what `safe_segment` replaces (`a b`, `a_b`) never share a folder."""
    segment = safe_segment(video_id)
    if segment == video_id:
        return segment
    return safe_segment(safe_video_dir(video_id))


def label_names(info: pl.DataFrame, per_method: bool) -> pl.Expr:
    """``<source>_real`` / ``<source>_fake``, or ``<source>_<method>`` per fake method."""
    source = pl.col("source").map_elements(safe_segment, return_dtype=pl.Utf8)
    if per_method:
        method = (
            pl.col("method")
            .fill_null("fake")
            .map_elements(safe_segment, return_dtype=pl.Utf8)
            .replace("real", "real_method")
        )
        fake = source + "_" + method
    else:
        fake = source + "_fake"
    return pl.when(pl.col("label") == "REAL").then(source + "_real").otherwise(fake)


def layout(info: pl.DataFrame, options: DeepfakeBenchOptions) -> pl.DataFrame:
    """Each exported image's DeepfakeBench label, entry key and frame path (relative to
    ``deepfakebench/<name>/``); mask and landmark paths are derived as the loader does."""
    sub = (
        pl.when(pl.col("label") == "REAL")
        .then(pl.lit("real"))
        .otherwise(pl.col("method").fill_null("fake"))
        .map_elements(safe_segment, return_dtype=pl.Utf8)
    )
    video = pl.col("video_id").map_elements(entry_name, return_dtype=pl.Utf8)
    key = (
        pl.when(pl.col("track") == 0)
        .then(video)
        .otherwise(video + "_track" + pl.col("track").cast(pl.Utf8))
    )
    frame = (
        pl.col("source").map_elements(safe_segment, return_dtype=pl.Utf8)
        + "/"
        + sub
        + "/frames/"
        + pl.col("dfb_key")
        + "/"
        + pl.col("frame_index").cast(pl.Utf8).str.zfill(6)
        + ".png"
    )
    return (
        info.with_columns(
            label_names(info, options.per_method_labels).alias("dfb_label"), key.alias("dfb_key")
        )
        .with_columns(frame.alias("dfb_frame"))
        .with_columns(
            pl.col("dfb_frame").str.replace_all("frames", "masks", literal=True).alias("dfb_mask"),
            pl.col("dfb_frame")
            .str.replace_all("frames", "landmarks", literal=True)
            .str.replace_all(".png", ".npy", literal=True)
            .alias("dfb_landmark"),
        )
    )


def _all_labels(info: pl.DataFrame, laid: pl.DataFrame, per_method: bool) -> list[str]:
    """Every label of the export: each source's real label, and its fake label(s) even when
    the source has no fakes (L190-191 reads every label it is given, and a config may list it)."""
    labels = set(laid["dfb_label"].to_list())
    fakes = set(laid.filter(pl.col("label") == "FAKE")["source"].to_list())
    for source in info["source"].unique().to_list():
        labels.add(f"{safe_segment(source)}_real")
        if not per_method or source not in fakes:
            labels.add(f"{safe_segment(source)}_fake")
    return sorted(labels)


def dataset_tree(laid: pl.DataFrame, labels: list[str], prefix: str) -> dict:
    """{label: {split: {entry: {label, frames}}}} with every label x split present."""
    tree: dict = {label: {split: {} for split in SPLITS} for label in labels}
    grouped = (
        laid.sort("frame_index")
        .group_by("dfb_label", "split", "dfb_key", maintain_order=True)
        .agg(pl.col("dfb_frame"))
        .sort("dfb_label", "split", "dfb_key")
    )
    for row in grouped.iter_rows(named=True):
        frames = [f"{prefix}/{rel}" for rel in row["dfb_frame"]]
        tree[row["dfb_label"]][row["split"]][row["dfb_key"]] = {
            "label": row["dfb_label"],
            "frames": frames,
        }
    return tree


def label_dict_yaml(labels: list[str], name: str, multiclass: bool = False) -> str:
    """``label_dict`` entries for DeepfakeBench's train/test configs (L204-206).

    Binary: real 0, every fake label 1. Multiclass (as its UCF config numbers FF++ methods):
    real 0, each source's fake labels 1..N in name order.
    """
    lines = [
        f"# DeepfakeBench label_dict entries for the {name} export. Paste the indented lines",
        "# under `label_dict:` in training/config/train_config.yaml and test_config.yaml.",
        "label_dict:",
    ]
    by_source: dict[str, int] = {}
    for label in labels:
        if label.endswith("_real"):
            value = 0
        elif multiclass:
            source = label.rsplit("_", 1)[0]
            by_source[source] = by_source.get(source, 0) + 1
            value = by_source[source]
        else:
            value = 1
        lines.append(f"  {label}: {value}")
    return "\n".join(lines) + "\n"


def write_deepfakebench(
    info: pl.DataFrame,
    export_dir: Path,
    options: DeepfakeBenchOptions,
    data_dir: Path | None = None,
    executor=None,
) -> DeepfakeBenchSummary:
    """Lay the export out for DeepfakeBench under ``export_dir/deepfakebench``.

    ``info``'s ``path_299`` and ``mask_path`` are relative to ``export_dir`` and already there;
    images are linked (never re-encoded). Landmarks are computed on the exported 299 crops
    through ``executor`` (compute/; None: in this process) and kept under
    ``data_dir/cache/landmarks`` (export/landmark_cache.py), so a re-export reuses them; with
    no ``data_dir`` they are computed into a folder removed afterwards.
    """
    from deepfake_assets.compute import LocalExecutor
    from deepfake_assets.media.images import read_png, write_png_atomic

    options.validate()
    root = export_dir / "deepfakebench"
    data = root / options.name
    laid = layout(info, options)
    labels = _all_labels(info, laid, options.per_method_labels)
    link_pairs(absolute(export_dir, laid["path_299"]), absolute(data, laid["dfb_frame"]))
    with_mask = laid.filter(pl.col("mask_path").is_not_null())
    link_pairs(absolute(export_dir, with_mask["mask_path"]), absolute(data, with_mask["dfb_mask"]))
    zero = laid.filter(pl.col("mask_path").is_null() & (pl.col("label") == "REAL"))
    if zero.height:
        zero_mask = root / ".zero_mask.png"
        side = read_png(export_dir / zero["path_299"][0]).shape[0]
        write_png_atomic(zero_mask, np.zeros((side, side), dtype=np.uint8))
        link_many(zero_mask, absolute(data, zero["dfb_mask"]))
        zero_mask.unlink()
    summary = DeepfakeBenchSummary(
        json_files=[f"{options.name}.json", f"{options.name}_val.json"],
        labels=labels,
        entries={},
        frames=laid.height,
        masks_from_ssim=with_mask.height,
        masks_zero=zero.height,
        fakes_without_mask=laid.height - with_mask.height - zero.height,
    )
    if options.landmarks:
        root.mkdir(parents=True, exist_ok=True)
        scratch = None if data_dir is not None else Path(tempfile.mkdtemp(dir=root))
        try:
            marks = crop_landmarks(
                export_dir,
                laid["path_299"],
                data_dir if data_dir is not None else scratch,
                LandmarkOptions(options.resolution, options.crop_margin),
                executor if executor is not None else LocalExecutor(0),
            )
            found = laid.select("dfb_landmark").with_columns(marks.npy).drop_nulls()
            link_pairs(found["npy"], absolute(data, found["dfb_landmark"]))
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        summary.landmark_box_sources = marks.box_sources
        summary.landmarks_clamped = marks.clamped
        summary.landmarks_computed = marks.computed
        summary.landmarks_reused = marks.reused
        summary.landmark_failures = marks.failures

    prefix = f"{options.prefix.rstrip('/')}/{options.name}"
    tree = dataset_tree(laid, labels, prefix)
    val_name = f"{options.name}_val"
    val_tree = {
        label: {"train": splits["train"], "val": splits["val"], "test": splits["val"]}
        for label, splits in tree.items()
    }
    json_dir = root / "dataset_json"
    write_bytes_atomic(json_dir / f"{options.name}.json", json.dumps({options.name: tree}).encode())
    write_bytes_atomic(json_dir / f"{val_name}.json", json.dumps({val_name: val_tree}).encode())
    write_bytes_atomic(root / "label_dict.yaml", label_dict_yaml(labels, options.name).encode())
    if options.per_method_labels:
        write_bytes_atomic(
            root / "label_dict_multiclass.yaml",
            label_dict_yaml(labels, options.name, multiclass=True).encode(),
        )
    summary.entries = {split: sum(len(tree[label][split]) for label in labels) for split in SPLITS}
    return summary
