"""`deepfake-assets`: register source datasets, build the demo, and materialise the graph.

Runs started here go through the Dagster instance in `$DAGSTER_HOME` (default `./dagster_home`),
so they show in `dagster dev` exactly like runs launched from the UI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_assets import config
from deepfake_assets.registry import FORMATS, SAMPLING_STRATEGIES, RegistryError, SourceRegistry
from deepfake_assets.run_config import RunConfigError

if TYPE_CHECKING:
    from deepfake_assets.launch import RunOutcome

DEFAULT_DAGSTER_HOME = "./dagster_home"
DEMO_SOURCE = "demo"
DEMO_IMAGES_SOURCE = "demo-images"  # the demo's still photos (`images` layout)


def _ensure_dagster_home() -> Path:
    """Use `$DAGSTER_HOME`, or `./dagster_home` with the project's dagster.yaml, and say so."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path(DEFAULT_DAGSTER_HOME).resolve())
        os.environ["DAGSTER_HOME"] = home
        print(f"DAGSTER_HOME is not set; using {home}", file=sys.stderr)
    path = Path(home)
    path.mkdir(parents=True, exist_ok=True)
    instance_yaml = path / "dagster.yaml"
    template = Path(__file__).resolve().parents[1] / "dagster.yaml"  # the repository's
    if not instance_yaml.exists() and template.exists():
        shutil.copyfile(template, instance_yaml)
    return path


def _instance():
    """The instance; runs of this machine whose process is gone are marked failed first."""
    import dagster as dg

    from deepfake_assets.run_launcher import fail_dead_runs

    _ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    for run_id, why in fail_dead_runs(instance):
        print(f"marked run {run_id} failed: {why}", file=sys.stderr)
    return instance


def _sync_partition(instance, name: str) -> None:
    from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME

    if not instance.has_dynamic_partition(SOURCE_PARTITIONS_NAME, name):
        instance.add_dynamic_partitions(SOURCE_PARTITIONS_NAME, [name])


# -- sources ---------------------------------------------------------------------------------
def cmd_sources_add(args: argparse.Namespace) -> int:
    if not args.per_part:
        return _add_source(args, args.name, Path(args.path))
    from deepfake_assets.registry import part_sources

    parts = part_sources(args.name, Path(args.path), args.format)
    for name, folder in parts:
        _add_source(args, name, folder)
    print(f"registered {len(parts)} part folders of {args.path} as sources {args.name}-*")
    return 0


def _folder_mapping(args: argparse.Namespace) -> tuple:
    """`--dffd-folders FILE` rows, then `--dffd-folder` ones (a folder in both must agree)."""
    from deepfake_assets.sources.dffd import (
        merge_overrides,
        parse_folder_override,
        read_folder_overrides,
    )
    from deepfake_assets.sources.errors import SourceFormatError

    try:
        rows = list(read_folder_overrides(Path(args.dffd_folders))) if args.dffd_folders else []
        rows += [parse_folder_override(text) for text in args.dffd_folder or ()]
        return merge_overrides(rows)
    except SourceFormatError as exc:
        raise RegistryError(str(exc)) from exc


def _add_source(args: argparse.Namespace, name: str, path: Path) -> int:
    registration = SourceRegistry().add(
        name,
        path,
        args.format,
        test_only=args.test_only,
        sampling=args.sampling,
        notes=args.notes or "",
        dffd_folders=_folder_mapping(args),
        replace=args.replace,
    )
    source = registration.source
    _sync_partition(_instance(), source.name)
    flags = " (test only)" if source.test_only else ""
    if registration.unchanged:
        print(f"{source.name} is already registered with these options; nothing changed")
    elif registration.changes:
        print(f"replaced {source.name}: {source.path} as {source.format}{flags}")
        for change in registration.changes:
            print(f"  {change}")
        print(
            f"  materialise it again (`deepfake-assets materialize --source {source.name}`) "
            "for the catalog to follow"
        )
    else:
        print(f"registered {source.name}: {source.path} as {source.format}{flags}")
    if registration.unchanged:
        return 0
    # what the `videos` step will record anyway, said now while the folder can still be fixed
    from deepfake_assets.sources import SourceFormatError, list_source

    try:
        listing = list_source(source.root, source.format, source.adapter_options)
    except SourceFormatError as exc:
        print(f"warning: {source.name}: its `videos` step will fail: {exc}", file=sys.stderr)
    else:
        for problem in listing.problems:
            print(f"warning: {source.name}: {problem.path}: {problem.reason}", file=sys.stderr)
        rejected = listing.videos.get_column("reject_reason").drop_nulls()
        if len(rejected):
            print(
                f"warning: {source.name}: {len(rejected)} entries will be rejected, e.g. "
                f"{rejected[0]}",
                file=sys.stderr,
            )
    return 0


def cmd_sources_list(args: argparse.Namespace) -> int:
    sources = SourceRegistry().list()
    if not sources:
        print("no sources registered; add one with `deepfake-assets sources add NAME PATH`")
        return 0
    width = max(len(s.name) for s in sources)
    for s in sources:
        options = []
        if s.test_only:
            options.append("test-only")
        if s.sampling:
            options.append(f"sampling={s.sampling}")
        if s.dffd_folders:
            options.append("folders: " + "; ".join(str(r) for r in s.dffd_folders))
        present = "" if s.root.is_dir() else "  [folder missing]"
        extra = f"  ({', '.join(options)})" if options else ""
        print(f"{s.name:<{width}}  {s.format:<15} {s.path}{extra}{present}")
    return 0


# Runs in these states may still write a partition's files.
_LIVE_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def runs_in_flight(instance, name: str) -> list:
    """Run records of runs not finished that materialise partition `name` (tagged with it, or
    with a partition range that covers it), from the Dagster instance's run storage."""
    import dagster as dg

    from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME

    statuses = [dg.DagsterRunStatus(s) for s in _LIVE_RUN_STATUSES]
    records = list(
        instance.get_run_records(
            filters=dg.RunsFilter(statuses=statuses, tags={"dagster/partition": name})
        )
    )
    keys = instance.get_dynamic_partitions(SOURCE_PARTITIONS_NAME)
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=statuses)):
        start = record.dagster_run.tags.get("dagster/asset_partition_range_start")
        end = record.dagster_run.tags.get("dagster/asset_partition_range_end")
        covered = start in keys and end in keys and name in keys
        if covered and keys.index(start) <= keys.index(name) <= keys.index(end):
            records.append(record)
    return records


class SourceInUseError(RegistryError):
    """`sources remove` of a source a run is still materialising."""


def cmd_sources_remove(args: argparse.Namespace) -> int:
    from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME

    registry = SourceRegistry()
    instance = _instance()
    live = runs_in_flight(instance, args.name)
    if live and not args.force:
        named = ", ".join(
            f"{r.dagster_run.run_id} ({r.dagster_run.job_name}, {r.dagster_run.status.value})"
            for r in live
        )
        raise SourceInUseError(
            f"source {args.name!r} is being materialised by run {named}: wait for it to end "
            "or terminate it in the UI (a killed run can show as STARTED until the instance "
            "marks it failed), or pass --force to remove it now (the run then fails at its next "
            "catalog write, nothing it writes reaches the dataset, and "
            f"`sources remove {args.name}` again clears its late files)"
        )
    removal = registry.remove(args.name)
    if instance.has_dynamic_partition(SOURCE_PARTITIONS_NAME, args.name):
        instance.delete_dynamic_partition(SOURCE_PARTITIONS_NAME, args.name)
    rel = [str(f.relative_to(registry.data_dir)) for f in removal.folders]
    if removal.source is None:
        print(f"{args.name} is not registered; removed what its runs left behind:")
    else:
        print(f"removed {args.name} ({removal.source.path}):")
    print(f"  catalog rows dropped from: {', '.join(sorted(removal.tables)) or 'no table'}")
    print(f"  folders deleted: {', '.join(rel) or 'none'}")
    for folder in removal.left:
        print(f"  warning: {folder} could not be fully deleted (a run still writing it?)")
    for line in _report_stale_dataset(instance, registry.data_dir):
        print(f"  {line}")
    return 0


def _report_stale_dataset(instance, data_dir: Path) -> list[str]:
    """Evaluate the checks that catch rows of unregistered sources in the splits and the export
    now, and record failures in the instance (run-less check results), so the UI shows
    fold_splits and exported_dataset failing their checks until they are rebuilt."""
    import dagster as dg

    from deepfake_assets.assets import export, splits
    from deepfake_assets.resources import DataDirResource

    lines = []
    data = DataDirResource(data_dir=str(data_dir))
    for check in (splits.splits_sources_registered, export.export_rows_resolve):
        key = next(iter(check.check_keys))
        result = check(data=data)
        if result.passed:
            continue
        asset = key.asset_key.to_user_string()
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=result.description,
                metadata=result.metadata,
            )
        )
        lines.append(
            f"{asset} is stale: {result.description}; re-materialise fold_splits and "
            "exported_dataset (`deepfake-assets materialize`)"
        )
    return lines


# -- materialize -----------------------------------------------------------------------------
def load_run_config(path: Path | None) -> dict:
    """Run config from a YAML or JSON file: `{"ops": {"<asset op>": {"config": {...}}}}`."""
    if path is None:
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RunConfigError(f"cannot read run config {path}: {exc}") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("ops", {}), dict):
        raise RunConfigError(f"run config {path} must be a mapping with an `ops:` mapping")
    return loaded


def materialize(
    names: list[str] | None = None, *, with_dataset: bool = True, run_config: dict | None = None
) -> int:
    """Run the per-source job for each source, then the all-sources job; 0 when all is green.

    The runs are launched through the code location (see `launch.py`), like runs from the UI.
    """
    from deepfake_assets import launch
    from deepfake_assets.definitions import defs
    from deepfake_assets.jobs import DATASET_AFTER_TAG
    from deepfake_assets.run_config import validate
    from deepfake_assets.summary import print_summary

    registry = SourceRegistry()
    names = names or [s.name for s in registry.list()]
    if not names:
        print("no sources registered; try `deepfake-assets demo` or `sources add`")
        return 2
    for name in names:
        registry.get(name)
    source_job = defs.resolve_job_def("ingest_source")
    dataset_job = defs.resolve_job_def("build_dataset")
    run_dataset = with_dataset and bool(dataset_job.asset_layer.executable_asset_keys)
    try:
        configs = validate(run_config or {}, [source_job, dataset_job])
    except RunConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    instance = _instance()
    failures: list[str] = []
    with launch.code_location(instance) as location:
        for name in names:
            _sync_partition(instance, name)
            print(f"== materialising source {name}", flush=True)
            tags = {"dagster/partition": name}
            if run_dataset:  # this command runs the all-sources job itself: no sensor for it
                tags[DATASET_AFTER_TAG] = "cli"
            failures += _report(
                launch.run_job(
                    instance,
                    location,
                    source_job.name,
                    f"source {name}",
                    run_config=configs[source_job.name],
                    tags=tags,
                )
            )
        if run_dataset and not failures:
            print("== materialising the dataset over all sources", flush=True)
            failures += _report(
                launch.run_job(
                    instance,
                    location,
                    dataset_job.name,
                    "dataset",
                    run_config=configs[dataset_job.name],
                )
            )
    print_summary(names, with_export=not failures)
    print(f"\nDagster instance: {os.environ['DAGSTER_HOME']} (open it with `dagster dev`)")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("all runs succeeded and every blocking check passed")
    return 0


def _report(outcome: RunOutcome) -> list[str]:
    """Print a run's warnings; its blocking failures."""
    for line in outcome.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return outcome.failures


def cmd_materialize(args: argparse.Namespace) -> int:
    return materialize(
        args.source,
        with_dataset=not args.sources_only,
        run_config=load_run_config(args.config),
    )


# -- demo ------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from deepfake_assets.demo import build_demo_dataset
    from deepfake_assets.demo_images import build_demo_images

    dest = Path(args.dir or "./demo_data/dfdc_demo").resolve()
    print(f"== writing the demo dataset to {dest}", flush=True)
    summary = build_demo_dataset(dest, seed=args.seed, progress=lambda m: print(f"  {m}"))
    print(f"   {summary}")
    images_dest = dest.with_name(f"{dest.name}_images")
    print(f"   {build_demo_images(images_dest, seed=args.seed)}", flush=True)
    if args.no_materialize:
        return 0
    registry = SourceRegistry()
    registry.add(
        DEMO_SOURCE,
        dest,
        "dfdc",
        sampling="balanced",
        notes="offline demo dataset (seed 000's balanced sampling: as many real as fake faces)",
        replace=True,
    )
    registry.add(
        DEMO_IMAGES_SOURCE,
        images_dest,
        "images",
        notes="offline demo image source: stills of the demo's people and face-swapped stills",
        replace=True,
    )
    instance = _instance()
    _sync_partition(instance, DEMO_SOURCE)
    _sync_partition(instance, DEMO_IMAGES_SOURCE)
    print(f"== registered sources {DEMO_SOURCE!r} and {DEMO_IMAGES_SOURCE!r}")
    # the video source last: its materialisation is the latest, the one the UI opens on
    return materialize([DEMO_IMAGES_SOURCE, DEMO_SOURCE])


def cmd_browse(args: argparse.Namespace) -> int:
    """Open the export in FiftyOne (the optional `[fiftyone]` extra)."""
    from deepfake_assets.catalog import Catalog
    from deepfake_assets.export.fiftyone_browse import FiftyOneUnavailable, browse

    data_dir = config.data_dir()
    export = Path(args.export) if args.export else data_dir / "export"
    if not (export / "info.parquet").is_file():
        print(f"error: no export at {export}: run `deepfake-assets materialize`", file=sys.stderr)
        return 2
    catalog = Catalog(data_dir) if (data_dir / "catalog").is_dir() else None
    try:
        browse(export, catalog, port=args.port, wait=not args.no_wait)
    except FiftyOneUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepfake-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sources = sub.add_parser("sources", help="register, list and remove source datasets")
    ssub = sources.add_subparsers(dest="sources_command", required=True)
    add = ssub.add_parser("add", help="register a dataset folder as a source (a partition)")
    add.add_argument("name", help="a slug: the partition key")
    add.add_argument("path", help="the dataset folder")
    add.add_argument("--format", default="auto", choices=FORMATS)
    add.add_argument(
        "--test-only",
        action="store_true",
        help="a held-out manipulation family: its videos only ever go to the test split",
    )
    add.add_argument("--sampling", choices=SAMPLING_STRATEGIES, help="frame-sampling override")
    add.add_argument("--notes", help="free-form notes")
    add.add_argument(
        "--dffd-folder",
        action="append",
        metavar="FOLDER=LABEL[,METHOD[,SPLIT]]",
        help="DFFD: map an origin folder the defaults do not know (repeatable), e.g. "
        "stylegan2_ffhq=FAKE,stylegan2 or extras=ignore or loose=REAL,,val",
    )
    add.add_argument(
        "--dffd-folders",
        metavar="FILE.csv",
        help="DFFD: the same mapping from a folder,label,method,split CSV",
    )
    add.add_argument(
        "--replace",
        action="store_true",
        help="change a registered name's folder or options (prints what changed)",
    )
    add.add_argument(
        "--per-part",
        action="store_true",
        help="register each part folder inside PATH (e.g. dfdc_train_part_0..49) as its own "
        "source NAME-<part>, so parts run as separate, parallel runs",
    )
    add.set_defaults(func=cmd_sources_add)
    ls = ssub.add_parser("list", help="list registered sources")
    ls.set_defaults(func=cmd_sources_list)
    rm = ssub.add_parser(
        "remove", help="unregister a source; delete its catalog rows, crops and staged work"
    )
    rm.add_argument("name")
    rm.add_argument(
        "--force",
        action="store_true",
        help="remove even while a run of the source is in flight (its late writes are ignored)",
    )
    rm.set_defaults(func=cmd_sources_remove)

    mat = sub.add_parser("materialize", help="run the asset graph and its checks")
    mat.add_argument("--source", action="append", help="a source to run (repeatable; default all)")
    mat.add_argument("--sources-only", action="store_true", help="skip the assets over all sources")
    mat.add_argument(
        "--config",
        type=Path,
        help="YAML/JSON run config, e.g. `ops: {fold_splits: {config: {seed: 3}}}`",
    )
    mat.set_defaults(func=cmd_materialize)

    demo = sub.add_parser("demo", help="write the offline demo dataset, register and run it")
    demo.add_argument("dir", nargs="?", help="where to write it (default ./demo_data/dfdc_demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-materialize", action="store_true", help="only write the dataset")
    demo.set_defaults(func=cmd_demo)

    br = sub.add_parser("browse", help="open the export in the FiftyOne App (extra [fiftyone])")
    br.add_argument("--export", help="the export folder (default $DEEPFAKE_DATA_DIR/export)")
    br.add_argument("--port", type=int, default=5151)
    br.add_argument("--no-wait", action="store_true", help="return once the App is up")
    br.set_defaults(func=cmd_browse)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (RegistryError, RunConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
