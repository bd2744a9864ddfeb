"""DAG files the benchmarks run: one `cryo_ingest` job block, written as a DAG author would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

JOB = "bench"
CHAIN_ID = 10143
DATASETS = ["blocks", "transactions", "logs", "traces"]


def job_block(name: str, config: dict[str, Any], max_concurrency: int) -> dict[str, Any]:
    """A valid `cryo_ingest` job block with `config`."""
    return {
        "name": name,
        "activation": "reactive",
        "runtime": "ecs_platform",
        "operator": "cryo_ingest",
        "execution_strategy": "PerPartition",
        "idle_timeout": 0,
        "config": config,
        "scaling": {"max_concurrency": max_concurrency},
        "outputs": len(config["datasets"]),
        "update_strategy": "replace",
        "timeout_seconds": 3600,
    }


def write_dag(
    path: Path,
    start: int,
    end: int,
    partition_size: int,
    chunk_size: int = 1000,
    datasets: list[str] = DATASETS,
    max_concurrency: int = 2,
    rpc_pool: str = "bench",
    options: dict[str, Any] | None = None,
) -> Path:
    """A DAG whose job `bench` covers blocks `start..end` (inclusive) of chain 10143, with more config `options`."""
    config = {
        "chain_id": CHAIN_ID,
        "datasets": datasets,
        "rpc_pool": rpc_pool,
        "start_block": start,
        "end_block": end,
        "partition_size": partition_size,
        "chunk_size": chunk_size,
        **(options or {}),
    }
    path.write_text(
        yaml.safe_dump({"name": "benchmark", "jobs": [job_block(JOB, config, max_concurrency)]}, sort_keys=False)
    )
    return path
