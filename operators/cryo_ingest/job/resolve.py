"""From a job block and the environment to a `ResolvedJob` (SPEC §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trace_operators.contract import FatalError, Partition, ResolvedJob
from trace_operators.dag.schema_errors import field_name

from cryo_ingest.extract.registry import extractor_name, load_extractor
from cryo_ingest.job.config import spec_from_config
from cryo_ingest.job.endpoints import resolve_endpoint
from cryo_ingest.job.validation import validate_job

DEFAULT_MAX_ATTEMPTS = 3


def _invalid(job: Mapping[str, Any]) -> str | None:
    errors = [p for p in validate_job(job) if p.severity == "error"]
    if not errors:
        return None
    first = errors[0]
    where = field_name(first.path)
    more = f" (and {len(errors) - 1} more: run cryo-ingest validate)" if len(errors) > 1 else ""
    return f"invalid job: {where}: [{first.rule}] {first.message}{more}"


def resolve_job(job: Mapping[str, Any], env: Mapping[str, str]) -> ResolvedJob:
    """Validate, apply defaults, choose the extractor and, for Cryo, the pool's endpoint."""
    problem = _invalid(job)
    if problem:
        raise FatalError(problem)
    config = job["config"]
    name = extractor_name(env)
    extractor = load_extractor(name)
    spec = spec_from_config(
        config,
        extractor=name,
        extractor_version=extractor.version,
        endpoint=resolve_endpoint(config["rpc_pool"], env) if name == "cryo" else None,
    )
    if name == "stub":
        from cryo_ingest.extract.stub import DATASETS

        unsupported = [d for d in spec.datasets if d not in DATASETS]
        if unsupported:
            raise FatalError(
                f"the stub extractor writes only {', '.join(DATASETS)}, not {', '.join(unsupported)}: "
                "use --extractor cryo (TRACE_CRYO_MODE=real)"
            )
    fixed = "start_block" in config
    return ResolvedJob(
        name=job["name"],
        operator=job["operator"],
        max_concurrency=job.get("scaling", {}).get("max_concurrency", 1),
        timeout_seconds=job.get("timeout_seconds"),
        max_attempts=job.get("max_attempts", DEFAULT_MAX_ATTEMPTS),
        range=Partition(config["start_block"], config["end_block"]) if fixed else None,
        partition_size=config.get("partition_size"),
        spec=spec,
    )
