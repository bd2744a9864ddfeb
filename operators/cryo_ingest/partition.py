"""The PerPartition contract: extract what is not yet published, publish it, report it."""

from __future__ import annotations

import time

from trace_operators import secrets
from trace_operators.contract import (
    ObjectStore,
    Partition,
    Publication,
    ResolvedJob,
    StoreError,
    TaskContext,
    TaskError,
    TaskResult,
)

from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.extract.registry import load_extractor
from cryo_ingest.job.config import CryoSpec
from cryo_ingest.publish.commit import Target, find_published, publish
from cryo_ingest.publish.staging import staged
from cryo_ingest.publish.versions import dataset_version, version_prefix


def targets(
    spec: CryoSpec, partition: Partition, store: ObjectStore, uuids: dict[int, str] | None = None
) -> list[Target]:
    """One target per dataset of the job, in output order."""
    out = []
    for index, dataset in enumerate(spec.datasets):
        hash_ = spec.config_hashes[index]
        uuid_ = (uuids or {}).get(index) or spec.default_uuids[index]
        version = dataset_version(uuid_, spec.chain_id, dataset, partition.start, partition.end, hash_)
        prefix = store.key(version_prefix(spec.chain_id, dataset, partition.start, partition.end, version))
        out.append(
            Target(
                index,
                dataset,
                spec.chain_id,
                partition.start,
                partition.end,
                uuid_,
                version,
                hash_,
                prefix,
                spec.extractor,
                spec.extractor_version,
            )
        )
    return out


def _extract_and_publish(
    spec: CryoSpec, partition: Partition, missing: list[Target], ctx: TaskContext
) -> list[Publication]:
    extractor = load_extractor(spec.extractor)
    with staged(ctx.staging_root, ctx.task_id, ctx.attempt) as out_dir:
        request = ExtractRequest(
            spec.chain_id,
            tuple(t.dataset for t in missing),
            partition.start,
            partition.end,
            spec.chunk_size,
            spec.output,
            spec.throughput,
            out_dir,
            spec.endpoint,
        )
        files = extractor.extract(request, ctx)
        return [publish(ctx.store, t, files[t.dataset], ctx.checkpoint) for t in missing]


def run_partition(resolved: ResolvedJob, partition: Partition, ctx: TaskContext) -> TaskResult:
    """Publish every dataset of `partition`; a dataset already committed is returned as it is."""
    began = time.monotonic()
    spec: CryoSpec = resolved.spec
    published: dict[int, Publication] = {}
    try:
        wanted = targets(spec, partition, ctx.store, dict(ctx.dataset_uuids))
        for target in wanted:
            found = find_published(ctx.store, target)
            if found:
                published[target.output_index] = found
        missing = [t for t in wanted if t.output_index not in published]
        if missing:
            ctx.checkpoint()
            for publication in _extract_and_publish(spec, partition, missing, ctx):
                published[publication.output_index] = publication
    except Exception as error:  # noqa: BLE001 - every failure becomes an outcome, never a traceback
        # Only a TaskError knows it is fatal; a store, disk or unforeseen failure may pass on a later attempt.
        retryable = not isinstance(error, TaskError) or error.retryable
        message = secrets.redact_text(
            str(error) if isinstance(error, (TaskError, StoreError)) else f"{type(error).__name__}: {error}"
        )
        ctx.logger.warning("partition %s failed: %s", partition.partition_key, message)
        ctx.logger.debug("partition %s failure", partition.partition_key, exc_info=True)
        return TaskResult(
            ctx.task_id,
            ctx.attempt,
            "retryable_error" if retryable else "fatal_error",
            error_message=message,
            metrics=_metrics(began, partition, [], len(published)),
        )
    result = [published[i] for i in sorted(published)]
    return TaskResult(
        ctx.task_id,
        ctx.attempt,
        "success",
        result,
        metrics=_metrics(began, partition, result, len(wanted) - len(missing)),
    )


def _metrics(began: float, partition: Partition, published: list[Publication], reused: int) -> dict[str, float | int]:
    return {
        "seconds": round(time.monotonic() - began, 6),
        "blocks": partition.blocks,
        "rows": sum(p.row_count for p in published),
        "bytes": sum(p.bytes for p in published),
        "datasets_reused": reused,
    }
