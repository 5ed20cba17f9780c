"""Removing a source after a full build (issue 14, item 3): the splits and the export built with
it are stale, the export refuses to build from them, and blocking checks name the rows.

The catalog is made by hand (two sources, one face image each per video, real PNG crops), so no
detection runs: the assets and checks under test only read these tables and files.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from deepfake_assets import cli
from deepfake_assets.assets import export, splits
from deepfake_assets.catalog import Catalog
from deepfake_assets.media.images import write_png_atomic
from deepfake_assets.resources import ComputeResource, DataDirResource


def _build_catalog(data_dir: Path, sources_root: Path, names: tuple[str, ...]) -> None:
    """Register `names` and write what a full build leaves: per-source tables, crops, splits."""
    rng = np.random.default_rng(0)
    split_rows = []
    for i, name in enumerate(names):
        folder = sources_root / name
        folder.mkdir(parents=True)
        assert cli.main(["sources", "add", name, str(folder), "--format", "manifest"]) == 0
        faces, videos = [], []
        for label, video in (("REAL", "r"), ("FAKE", "f")):
            face_id = f"{name}-{video}-0"
            crops = {}
            for size, column in ((160, "crop_160"), (299, "crop_299"), (64, "crop_raw")):
                rel = f"faces/{name}/{video}/{column}.png"
                write_png_atomic(
                    data_dir / rel, rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                )
                crops[column] = rel
            faces.append({"face_id": face_id, "source": name, "video_id": video, **crops})
            videos.append(
                {"source": name, "video_id": video, "method": None, "label": label, "status": "ok"}
            )
            split_rows.append(
                {
                    "face_id": face_id,
                    "source": name,
                    "video_id": video,
                    "original_video_id": None if label == "REAL" else "r",
                    "label": label,
                    "frame_index": 0,
                    "track": 0,
                    "actor_id": f"actor-{i}",
                    "split": "train" if i == 0 else "test",
                }
            )
        catalog = Catalog(data_dir)
        catalog.write("faces", pl.DataFrame(faces), name)
        catalog.write("videos", pl.DataFrame(videos), name)
    table = pl.DataFrame(split_rows)
    catalog.write("splits", table)
    catalog.write("folds", table.select("face_id", "source", level=pl.lit(1), fold=pl.lit(0)))


def _export(data_dir: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [export.exported_dataset, export.crop_and_mask_files_decode, export.export_rows_resolve],
        resources={"data": DataDirResource(data_dir=str(data_dir)), "compute": ComputeResource()},
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
        # info.csv, Parquet and the card only: these hand-made catalogs have no videos to link
        run_config={"ops": {"exported_dataset": {"config": {"formats": []}}}},
    )


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "the run should have failed"
    return failures[0].step_failure_data.error.message


@pytest.fixture
def built(data_env, tmp_path) -> Path:
    data_dir = data_env["data"]
    _build_catalog(data_dir, tmp_path / "folders", ("a", "b"))
    assert _export(data_dir).success
    assert sorted(pl.read_parquet(data_dir / "export" / "info.parquet")["source"].unique()) == [
        "a",
        "b",
    ]
    return data_dir


def test_export_refuses_splits_built_with_a_removed_source(built):
    assert cli.main(["sources", "remove", "a"]) == 0
    result = _export(built)
    assert not result.success
    message = _failure_message(result)
    assert "'a'" in message and "fold_splits" in message
    # The old export is left as it was (the check below flags it), not half-rebuilt.
    assert (built / "export" / "info.parquet").exists()


def test_checks_name_the_rows_of_a_removed_source(built):
    assert cli.main(["sources", "remove", "a"]) == 0
    resource = DataDirResource(data_dir=str(built))
    on_splits = splits.splits_sources_registered(data=resource)
    assert not on_splits.passed and on_splits.severity == dg.AssetCheckSeverity.ERROR
    assert "source=a" in on_splits.metadata["first_offenders"].value
    on_export = export.export_rows_resolve(data=resource)
    assert not on_export.passed
    assert "source=a" in on_export.metadata["first_offenders"].value
    assert "not registered" in on_export.metadata["first_offenders"].value


def test_remove_marks_the_built_splits_and_export_failed_in_the_instance(built):
    """The UI shows the stale dataset at once: `sources remove` records the checks' real
    evaluation (a run-less check result) on fold_splits and exported_dataset."""
    assert cli.main(["sources", "remove", "a"]) == 0
    instance = dg.DagsterInstance.get()
    for asset, check in (
        ("fold_splits", "splits_sources_registered"),
        ("exported_dataset", "export_rows_resolve"),
    ):
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        record = instance.get_latest_asset_check_evaluation_record(key)
        assert record is not None, f"no evaluation of {check} recorded"
        evaluation = record.event.asset_check_evaluation
        assert evaluation is not None and not evaluation.passed
        assert "source=a" in evaluation.metadata["first_offenders"].value


def test_export_refuses_split_rows_whose_crop_is_gone(built):
    """`faces` of a source re-materialised with other faces since fold_splits: the export would
    write rows with an empty `path`; it refuses instead."""
    catalog = Catalog(built)
    faces = catalog.read("faces", "b")
    catalog.write("faces", faces.filter(pl.col("video_id") == "r"), "b")
    result = _export(built)
    assert not result.success
    assert "b-f-0" in _failure_message(result) or "no crop" in _failure_message(result)


def test_export_check_names_rows_whose_files_are_missing(built):
    (built / "export" / "faces" / "b" / "r" / "crop_160.png").unlink()
    result = export.export_rows_resolve(data=DataDirResource(data_dir=str(built)))
    assert not result.passed
    assert "faces/b/r/crop_160.png" in result.metadata["first_offenders"].value
