"""The PerPartition contract: extract what is not yet published, publish it, report it."""

from __future__ import annotations

import time
from pathlib import Path

from cryo_ingest.extract.base import ExtractRequest, PartialExtraction
from cryo_ingest.extract.registry import load_extractor
from cryo_ingest.job.config import CryoSpec
from cryo_ingest.publish.commit import find_published, publish
from cryo_ingest.publish.layout import Target, plan_chunks, targets
from cryo_ingest.publish.staging import staged
from trace_operators.contract import Partition, Publication, ResolvedJob, TaskContext, TaskMetrics, TaskResult


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
        try:
            files = extractor.extract(request, ctx)
        except PartialExtraction as partial:
            _publish_checked(spec, partition, [t for t in missing if t.dataset in partial.whole], partial.whole, ctx)
            raise
        return _publish_checked(spec, partition, missing, files, ctx)


def _publish_checked(
    spec: CryoSpec, partition: Partition, targets: list[Target], files: dict[str, list[Path]], ctx: TaskContext
) -> list[Publication]:
    """Each target's files checked against what was asked, then published."""
    if not targets:
        return []
    from cryo_ingest.checks.tables import check_tables  # pyarrow, only once there is something to check

    pool = spec.endpoint.pool if spec.endpoint else None
    checked = {t.dataset: files[t.dataset] for t in targets}
    rows = check_tables(checked, spec.chain_id, plan_chunks(partition, spec.chunk_size), pool)
    return [publish(ctx.store, t, files[t.dataset], ctx.checkpoint, rows) for t in targets]


def run_partition(resolved: ResolvedJob, partition: Partition, ctx: TaskContext) -> TaskResult:
    """Publish every dataset of `partition`; a dataset already committed is returned as it is.

    Failures raise: the platform's task path turns them into outcomes.
    """
    began = time.monotonic()
    spec: CryoSpec = resolved.spec
    wanted = targets(spec, partition, ctx.store, ctx.dataset_uuids)
    published = {t.output_index: p for t in wanted if (p := find_published(ctx.store, t)) is not None}
    missing = [t for t in wanted if t.output_index not in published]
    if missing:
        ctx.checkpoint()
        published.update((p.output_index, p) for p in _extract_and_publish(spec, partition, missing, ctx))
    result = [published[i] for i in sorted(published)]
    metrics = TaskMetrics(
        seconds=round(time.monotonic() - began, 6),
        blocks=partition.blocks,
        rows=sum(p.row_count for p in result),
        bytes=sum(p.bytes for p in result),
        datasets_reused=len(wanted) - len(missing),
    )
    return TaskResult(ctx.task_id, ctx.attempt, "success", result, metrics=metrics)
