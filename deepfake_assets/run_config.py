"""Check a run config against every job it will configure, before anything runs.

One `--config` file configures both jobs (`ingest_source`'s ops and `build_dataset`'s), so each
job gets the part that names its ops. A name that is no op of any job would otherwise be dropped
without a word, and a misspelt key would only fail when its job starts, after ingest. Here both
are errors up front, with the names that are valid at that place.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a job is checked, so the CLI loads without Dagster
    import dagster as dg


class RunConfigError(ValueError):
    """A run config that cannot be read, names something no job has, or has a value of the
    wrong type: the CLI prints it and exits 2 (never a `RegistryError`: no source is wrong)."""


def config_for(job: dg.JobDefinition, run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run config that names ops of `job`."""
    ops = run_config.get("ops", {}) or {}
    names = _op_fields(job)
    return {**run_config, "ops": {k: v for k, v in ops.items() if k in names}}


def _op_fields(job: dg.JobDefinition) -> dict[str, Any]:
    return dict(job.run_config_schema.config_type.fields["ops"].config_type.fields)


def _takes_config(op_field: Any) -> bool:
    """Whether an op declares config fields (ops without a config class accept anything)."""
    config = getattr(op_field.config_type, "fields", {}).get("config")
    return config is not None and getattr(config.config_type, "fields", None) is not None


def _suggest(name: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fields_at(job: dg.JobDefinition, path: list[str]) -> list[str] | None:
    """The field names the config schema allows at `path` (None when it is not a mapping)."""
    config_type = job.run_config_schema.config_type
    for name in path:
        fields = getattr(config_type, "fields", None)
        if fields is None or name not in fields:
            return None
        config_type = fields[name].config_type
        config_type = getattr(config_type, "inner_type", config_type)  # Noneable
    fields = getattr(config_type, "fields", None)
    return sorted(fields) if fields is not None else None


def _describe(job: dg.JobDefinition, error: Any) -> str:
    from dagster._config.errors import (
        DagsterEvaluationErrorReason,
        FieldNotDefinedErrorData,
        FieldsNotDefinedErrorData,
    )
    from dagster._config.stack import EvaluationStackPathEntry

    path = [e.field_name for e in error.stack.entries if isinstance(e, EvaluationStackPathEntry)]
    where = ".".join(path) or "the top level"
    if error.reason in (
        DagsterEvaluationErrorReason.FIELD_NOT_DEFINED,
        DagsterEvaluationErrorReason.FIELDS_NOT_DEFINED,
    ):
        data = error.error_data
        unknown = (
            [data.field_name]
            if isinstance(data, FieldNotDefinedErrorData)
            else list(data.field_names)
            if isinstance(data, FieldsNotDefinedErrorData)
            else []
        )
        valid = _fields_at(job, path) or []
        hints = "".join(_suggest(u, valid) for u in unknown)
        names = ", ".join(repr(u) for u in unknown)
        return f"unknown key {names} in {where}{hints}; valid keys: {', '.join(valid) or 'none'}"
    return f"{where}: {error.message}"


def validate(
    run_config: Mapping[str, Any], jobs: list[dg.JobDefinition]
) -> dict[str, dict[str, Any]]:
    """Each job's part of `run_config`, checked; raises RunConfigError listing every mistake.

    An op name must belong to one of `jobs`; keys and values are checked against each job with
    Dagster's own config validation, also for a job this command will not run (the file is
    wrong all the same, and `--sources-only` today is the full run tomorrow).
    """
    import dagster as dg

    errors: list[str] = []
    ops = run_config.get("ops", {}) or {}
    if not isinstance(ops, Mapping):
        raise RunConfigError("`ops:` must be a mapping of op names to `{config: {...}}`")
    known: dict[str, Any] = {}
    for job in jobs:
        known.update(_op_fields(job))
    valid_ops = sorted(name for name, f in known.items() if _takes_config(f))
    for name, value in ops.items():
        if name not in known:
            errors.append(
                f"unknown op {name!r} under ops{_suggest(name, valid_ops)}; "
                f"valid op names: {', '.join(valid_ops)}"
            )
        elif not _takes_config(known[name]) and isinstance(value, Mapping) and value.get("config"):
            errors.append(f"op {name!r} takes no config; ops that do: {', '.join(valid_ops)}")
    parts: dict[str, dict[str, Any]] = {}
    for job in jobs:
        part = config_for(job, run_config)
        try:
            dg.validate_run_config(job, part)
        except dg.DagsterInvalidConfigError as exc:
            errors.extend(_describe(job, e) for e in exc.errors if _describe(job, e) not in errors)
        parts[job.name] = part
    if errors:
        raise RunConfigError("invalid run config:\n  " + "\n  ".join(errors))
    return parts
