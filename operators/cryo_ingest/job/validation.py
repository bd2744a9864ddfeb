"""Every rule of SPEC §3 for a `cryo_ingest` job block, each with a stable rule id."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from cryo_ingest.job.config import DEFAULT_CHUNK_SIZE
from cryo_ingest.job.datasets import canonical, status_gap
from cryo_ingest.publish.layout import (
    MAX_BLOCK_NUMBER,
    MAX_FILES_PER_PARTITION,
    files_needed,
    past_last_block,
    too_many_files,
)
from trace_operators.contract import Problem
from trace_operators.dag.schema_errors import SchemaCheck


@cache
def schema_text() -> str:
    """The published schema, byte for byte as shipped."""
    return resources.files("cryo_ingest").joinpath("job.schema.json").read_text(encoding="utf-8")


@cache
def _schema_check() -> SchemaCheck:
    return SchemaCheck(json.loads(schema_text()))


def validate_job(job: Mapping[str, Any]) -> list[Problem]:
    """The schema, then the rules a schema cannot say; the platform checks secrets in every job itself."""
    found = _schema_check().problems(job)
    if isinstance(job.get("config"), dict):
        found += _job_rules(job)
    return found


def _job_rules(job: Mapping[str, Any]) -> list[Problem]:
    config = job["config"]
    return [
        *_forbidden_fields(job),
        *_dataset_rules(job, config),
        *_range_rules(config),
        *_column_rules(config),
        *_pre_byzantium(config),
    ]


def _forbidden_fields(job: Mapping[str, Any]) -> Iterator[Problem]:
    if "secrets" in job:
        yield Problem(
            "secret.secrets-field",
            "secrets: is not allowed on a cryo_ingest job",
            ("secrets",),
            "remove it: RPC credentials live in the RPC Egress Gateway; name the pool in config.rpc_pool",
            at_key=True,
        )
    if job.get("update_strategy") == "append":
        yield Problem(
            "job.update-strategy",
            "update_strategy: append is not supported by cryo_ingest",
            ("update_strategy",),
            "use update_strategy: replace (or leave it out): each range publishes " "an immutable version",
        )
    if "unique_key" in job:
        yield Problem(
            "job.update-strategy",
            "unique_key only applies to update_strategy: append",
            ("unique_key",),
            "remove it",
            at_key=True,
        )


def _dataset_rules(job: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[Problem]:
    names = config.get("datasets")
    if not isinstance(names, list):
        return
    seen: dict[str, Any] = {}
    for index, name in enumerate(names):
        name_ = canonical(name) if isinstance(name, str) else None
        if name_ in seen and seen[name_] != name:
            yield Problem(
                "config.duplicate-dataset",
                f"{name!r} is {name_!r}, already listed as {seen[name_]!r}",
                ("config", "datasets", index),
                "list each dataset once",
            )
        if name_:
            seen.setdefault(name_, name)
    outputs = job.get("outputs")
    if isinstance(outputs, int) and not isinstance(outputs, bool) and outputs != len(names):
        yield Problem(
            "job.outputs",
            f"outputs is {outputs} but config.datasets lists {len(names)} datasets",
            ("outputs",),
            f"write outputs: {len(names)} (output i is datasets[i])",
        )


def _int(config: Mapping[str, Any], key: str) -> int | None:
    value = config.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _range_rules(config: Mapping[str, Any]) -> Iterator[Problem]:
    start, end = _int(config, "start_block"), _int(config, "end_block")
    if ("start_block" in config) != ("end_block" in config):
        missing = "end_block" if "start_block" in config else "start_block"
        yield Problem(
            "config.range",
            f"a fixed range needs both start_block and end_block; {missing} is missing",
            ("config",),
            f"add {missing}: (end is inclusive), or remove the other to take ranges from events",
        )
    elif start is not None and end is not None and end < start:
        yield Problem(
            "config.range",
            f"end_block {end} is below start_block {start}",
            ("config", "end_block"),
            "end_block is inclusive and must be >= start_block",
        )
    for key, block in (("start_block", start), ("end_block", end)):
        if block is not None and (problem := past_last_block(block)):
            yield Problem("config.range", f"{key}: {problem}", ("config", key), f"write at most {MAX_BLOCK_NUMBER}")
    chunk = _int(config, "chunk_size") or DEFAULT_CHUNK_SIZE
    size = _int(config, "partition_size")
    if size and (problem := too_many_files(size, chunk)):
        yield Problem(
            "config.too-many-files",
            f"partition_size: {problem}",
            ("config", "partition_size"),
            f"raise chunk_size to at least {files_needed(size, MAX_FILES_PER_PARTITION)} or shrink partition_size",
        )
    elif size is None and start is not None and end is not None and (problem := too_many_files(end - start + 1, chunk)):
        yield Problem(
            "config.too-many-files",
            f"without partition_size the fixed range is one partition: {problem}",
            ("config", "end_block"),
            f"add a partition_size of at most {MAX_FILES_PER_PARTITION * chunk}, or raise chunk_size to at "
            f"least {files_needed(end - start + 1, MAX_FILES_PER_PARTITION)}",
        )


def _column_rules(config: Mapping[str, Any]) -> Iterator[Problem]:
    listed = {canonical(n) for n in _strings(config.get("datasets"))}
    for option in ("include_columns", "exclude_columns"):
        per_dataset = config.get(option)
        if not isinstance(per_dataset, dict):
            continue
        for name in per_dataset:
            if isinstance(name, str) and canonical(name) and canonical(name) not in listed:
                yield Problem(
                    "config.columns",
                    f"{option} names {name!r}, which is not in config.datasets",
                    ("config", option, name),
                    f"add {name} to datasets or remove these columns",
                    at_key=True,
                )
    include, exclude = config.get("include_columns"), config.get("exclude_columns")
    if isinstance(include, dict) and isinstance(exclude, dict):
        for name, columns in include.items():
            both = sorted(set(_strings(columns)) & set(_strings(exclude.get(name))))
            if both:
                yield Problem(
                    "config.columns",
                    f"{name} both includes and excludes {', '.join(both)}",
                    ("config", "exclude_columns", name),
                    "keep each column in one of the two lists",
                )


def _pre_byzantium(config: dict[str, Any]) -> Iterator[Problem]:
    names = [name for n in _strings(config.get("datasets")) if (name := canonical(n))]
    start, chain_id = _int(config, "start_block"), _int(config, "chain_id")
    per_dataset = config.get("exclude_columns")
    excluded = _strings(per_dataset.get("transactions")) if isinstance(per_dataset, dict) else []
    since = status_gap(chain_id, start, names, excluded) if chain_id is not None and start is not None else None
    if since:
        yield Problem(
            "cryo.pre-byzantium",
            f"receipts of chain {chain_id} before block {since:,} carry no status: Cryo fails "
            "every transactions chunk of this range with its default columns",
            ("config", "datasets"),
            "add exclude_columns: {transactions: [success]}",
            severity="warning",
        )


def _strings(value: Any) -> list[str]:
    """The strings of a list; none of any other shape, which the schema reports."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
