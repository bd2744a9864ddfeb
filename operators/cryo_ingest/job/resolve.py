"""From a job block and the environment to a `ResolvedJob` (SPEC §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryo_ingest.extract.registry import extractor_name, extractor_version
from cryo_ingest.job.config import spec_from_config
from cryo_ingest.job.endpoints import resolve_endpoint
from trace_operators.contract import FatalError, Partition, ResolvedJob

DEFAULT_MAX_ATTEMPTS = 3


def resolve_job(job: Mapping[str, Any], env: Mapping[str, str]) -> ResolvedJob:
    """Apply defaults to a validated job, choose the extractor and, for Cryo, the pool's endpoint."""
    config = job["config"]
    name = extractor_name(env)
    endpoint = resolve_endpoint(config["rpc_pool"], env) if name == "cryo" else None
    spec = spec_from_config(config, extractor=name, extractor_version=extractor_version(name), endpoint=endpoint)
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
        outputs=len(spec.datasets),
        spec=spec,
        secrets=endpoint.secrets() if endpoint else (),
    )
