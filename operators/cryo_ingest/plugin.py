"""The `cryo_ingest` operator, registered with the platform through the `trace` pluggy project."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryo_ingest.job.validation import schema_text, validate_job
from trace_operators.contract import Partition, Pieces, Problem, ResolvedJob, TaskContext, TaskResult
from trace_operators.hookspecs import hookimpl

if TYPE_CHECKING:
    from trace_operators.plugins import Operators


class CryoIngest:
    """Bootstrap chain history from RPC into the object store as Parquet, with Cryo."""

    name = "cryo_ingest"

    def job_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = json.loads(schema_text())
        return schema

    def validate_job(self, job: Mapping[str, Any]) -> list[Problem]:
        return validate_job(job)

    def resolve_job(self, job: Mapping[str, Any], env: Mapping[str, str]) -> ResolvedJob:
        """Resolve a job the platform's checks and `validate_job` have accepted."""
        from cryo_ingest.job.resolve import resolve_job

        return resolve_job(job, env)

    def plan(self, resolved: ResolvedJob, range: Partition) -> Pieces:
        from cryo_ingest.publish.layout import check_last_block

        check_last_block(range)  # before splitting: four billion blocks would be millions of doomed partitions
        return range.split(resolved.partition_size)

    def run_partition(self, resolved: ResolvedJob, partition: Partition, ctx: TaskContext) -> TaskResult:
        from cryo_ingest.partition import run_partition

        return run_partition(resolved, partition, ctx)

    def task_resources(self, resolved: ResolvedJob) -> dict[str, float]:
        """A unit of the job's pool (`rpc_pool:<name>`, its share of the RPC budget), and Cryo's child memory limit."""
        needs = {f"rpc_pool:{resolved.spec.rpc_pool}": 1.0}
        if resolved.spec.extractor == "cryo":
            from cryo_ingest.extract.cryo.extractor import MEMORY_LIMIT

            needs["memory"] = float(MEMORY_LIMIT)
        return needs


@hookimpl
def trace_operators() -> list[CryoIngest]:
    return [CryoIngest()]


def operators() -> Operators:
    """Every operator of the platform, ours registered through the same door as installed plugins."""
    import sys

    from trace_operators.plugins import PluginHost

    return PluginHost({CryoIngest.name: sys.modules[__name__]}).operators()
