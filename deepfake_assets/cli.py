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

from deepfake_assets import config
from deepfake_assets.registry import FORMATS, SAMPLING_STRATEGIES, RegistryError, SourceRegistry

DEFAULT_DAGSTER_HOME = "./dagster_home"
DEMO_SOURCE = "demo"


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
    import dagster as dg

    _ensure_dagster_home()
    return dg.DagsterInstance.get()


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


def _add_source(args: argparse.Namespace, name: str, path: Path) -> int:
    source = SourceRegistry().add(
        name,
        path,
        args.format,
        test_only=args.test_only,
        sampling=args.sampling,
        notes=args.notes or "",
        replace=args.replace,
    )
    _sync_partition(_instance(), source.name)
    flags = " (test only)" if source.test_only else ""
    print(f"registered {source.name}: {source.path} as {source.format}{flags}")
    # what the `videos` step will record anyway, said now while the folder can still be fixed
    from deepfake_assets.sources import SourceFormatError, list_source

    try:
        listing = list_source(source.root, source.format)
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
        present = "" if s.root.is_dir() else "  [folder missing]"
        extra = f"  ({', '.join(options)})" if options else ""
        print(f"{s.name:<{width}}  {s.format:<15} {s.path}{extra}{present}")
    return 0


def cmd_sources_remove(args: argparse.Namespace) -> int:
    from deepfake_assets.catalog import Catalog
    from deepfake_assets.partitions import SOURCE_PARTITIONS_NAME

    removed = SourceRegistry().remove(args.name)
    tables = Catalog().delete_partition(args.name)
    instance = _instance()
    if instance.has_dynamic_partition(SOURCE_PARTITIONS_NAME, args.name):
        instance.delete_dynamic_partition(SOURCE_PARTITIONS_NAME, args.name)
    print(
        f"removed {removed.name} ({removed.path}); catalog rows dropped from: "
        f"{', '.join(tables) or 'no table'}; files under {config.data_dir()} are kept"
    )
    return 0


# -- materialize -----------------------------------------------------------------------------
def load_run_config(path: Path | None) -> dict:
    """Run config from a YAML or JSON file: `{"ops": {"<asset op>": {"config": {...}}}}`."""
    if path is None:
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read run config {path}: {exc}") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("ops", {}), dict):
        raise RegistryError(f"run config {path} must be a mapping with an `ops:` mapping")
    return loaded


def _config_for(job, run_config: dict) -> dict:
    """The part of a run config that names ops of `job` (one file configures both jobs)."""
    ops = run_config.get("ops", {})
    names = {node.name for node in job.graph.node_defs}
    loggers = run_config.get("loggers", {"console": {"config": {"log_level": "INFO"}}})
    return {**run_config, "ops": {k: v for k, v in ops.items() if k in names}, "loggers": loggers}


def materialize(
    names: list[str] | None = None, *, with_dataset: bool = True, run_config: dict | None = None
) -> int:
    """Run the per-source job for each source, then the all-sources job; 0 when all is green."""
    from deepfake_assets.definitions import defs
    from deepfake_assets.summary import print_summary

    registry = SourceRegistry()
    names = names or [s.name for s in registry.list()]
    if not names:
        print("no sources registered; try `deepfake-assets demo` or `sources add`")
        return 2
    for name in names:
        registry.get(name)
    instance = _instance()
    failures: list[str] = []
    job = defs.resolve_job_def("ingest_source")
    for name in names:
        _sync_partition(instance, name)
        print(f"== materialising source {name}", flush=True)
        result = job.execute_in_process(
            instance=instance,
            partition_key=name,
            raise_on_error=False,
            run_config=_config_for(job, run_config or {}),
        )
        failures += _failures(result, f"source {name}")
    dataset = defs.resolve_job_def("build_dataset")
    if with_dataset and not failures and dataset.asset_layer.executable_asset_keys:
        print("== materialising the dataset over all sources", flush=True)
        result = dataset.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config=_config_for(dataset, run_config or {}),
        )
        failures += _failures(result, "dataset")
    print_summary(names, with_export=not failures)
    print(f"\nDagster instance: {os.environ['DAGSTER_HOME']} (open it with `dagster dev`)")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("all runs succeeded and every blocking check passed")
    return 0


def _failures(result, what: str) -> list[str]:
    import dagster as dg

    out = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            level = "ERROR" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "WARN"
            line = (
                f"{what}: check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
            )
            if level == "ERROR":
                first = evaluation.metadata.get("first_offenders")
                detail = f": {first.value}" if first is not None else ""
                out.append(f"{line} failed{detail}")
            else:
                print(f"warning: {line} warns", file=sys.stderr)
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                message = error.message.strip().splitlines()[-1] if error else "failed"
                out.append(f"{what}: step {event.step_key} failed: {message}")
        if not out:
            out.append(f"{what}: run {result.run_id} failed")
    return out


def cmd_materialize(args: argparse.Namespace) -> int:
    return materialize(
        args.source,
        with_dataset=not args.sources_only,
        run_config=load_run_config(args.config),
    )


# -- demo ------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from deepfake_assets.demo import build_demo_dataset

    dest = Path(args.dir or "./demo_data/dfdc_demo").resolve()
    print(f"== writing the demo dataset to {dest}", flush=True)
    summary = build_demo_dataset(dest, seed=args.seed, progress=lambda m: print(f"  {m}"))
    print(f"   {summary}")
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
    _sync_partition(_instance(), DEMO_SOURCE)
    print(f"== registered source {DEMO_SOURCE!r}")
    return materialize([DEMO_SOURCE])


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
    add.add_argument("--replace", action="store_true", help="re-point an existing name")
    add.add_argument(
        "--per-part",
        action="store_true",
        help="register each part folder inside PATH (e.g. dfdc_train_part_0..49) as its own "
        "source NAME-<part>, so parts run as separate, parallel runs",
    )
    add.set_defaults(func=cmd_sources_add)
    ls = ssub.add_parser("list", help="list registered sources")
    ls.set_defaults(func=cmd_sources_list)
    rm = ssub.add_parser("remove", help="unregister a source and drop its catalog rows")
    rm.add_argument("name")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
