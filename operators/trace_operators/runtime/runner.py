"""A local runtime: run a job's partitions with bounded concurrency and bounded retries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from trace_operators.contract import ObjectStore, Operator, Partition, ResolvedJob, TaskContext, TaskResult

#: Seconds before retry n (1-based) of a partition: 1, 2, 4, ... capped.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0


@dataclass
class RunSummary:
    results: list[TaskResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if r.outcome != "success"]

    @property
    def blocks(self) -> int:
        return sum(int(r.metrics.get("blocks", 0)) for r in self.results if r.outcome == "success")

    def text(self) -> str:
        rows = sum(p.row_count for r in self.results for p in r.datasets_published)
        size = sum(p.bytes for r in self.results for p in r.datasets_published)
        reused = sum(int(r.metrics.get("datasets_reused", 0)) for r in self.results)
        lines = [
            f"{len(self.results) - len(self.failed)}/{len(self.results)} partitions published, "
            f"{self.blocks:,} blocks, {rows:,} rows, {size / 1e6:,.1f} MB in {self.seconds:.2f} s "
            f"({self.blocks / max(self.seconds, 1e-9):,.0f} blocks/s); {reused} dataset versions were already there",
        ]
        lines += [f"  failed {r.task_id} (attempt {r.attempt}, {r.outcome}): {r.error_message}" for r in self.failed]
        return "\n".join(lines)


@dataclass
class Runner:
    """Everything a run needs besides the partitions."""

    operator: Operator
    resolved: ResolvedJob
    store: ObjectStore
    staging_root: Path
    logger: logging.Logger
    cancel: threading.Event = field(default_factory=threading.Event)
    on_done: Callable[[TaskResult], None] = lambda result: None
    sleep: Callable[[float], None] = time.sleep

    def _attempt(self, partition: Partition, attempt: int) -> TaskResult:
        timeout = self.resolved.timeout_seconds
        ctx = TaskContext(
            task_id=f"{self.resolved.name}-{partition.partition_key}",
            attempt=attempt,
            store=self.store,
            staging_root=self.staging_root,
            logger=self.logger,
            cancel=self.cancel,
            deadline=time.monotonic() + timeout if timeout else None,
        )
        return self.operator.run_partition(self.resolved, partition, ctx)

    def run_one(self, partition: Partition) -> TaskResult:
        """Attempts until success, a fatal error, cancellation, or `max_attempts`."""
        attempt = 1
        result = self._attempt(partition, attempt)
        while result.outcome == "retryable_error" and attempt < self.resolved.max_attempts and not self.cancel.is_set():
            delay = min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_CAP)
            self.logger.info("retrying %s in %.0f s: %s", result.task_id, delay, result.error_message)
            self.sleep(delay)
            attempt += 1
            result = self._attempt(partition, attempt)
        self.on_done(result)
        return result

    def run(self, partitions: list[Partition]) -> RunSummary:
        """Run every partition, at most `max_concurrency` at once; results in partition order."""
        began = time.monotonic()
        workers = max(1, min(self.resolved.max_concurrency, len(partitions)))
        results: dict[int, TaskResult] = {}
        with ThreadPoolExecutor(workers, thread_name_prefix="partition") as pool:
            pending: dict[Future[TaskResult], int] = {}

            def collect(done: set[Future[TaskResult]]) -> None:
                for future in done:
                    results[pending.pop(future)] = future.result()

            try:
                # Submit lazily: a range of a million partitions must not become a million futures at once.
                for index, partition in enumerate(partitions):
                    pending[pool.submit(self.run_one, partition)] = index
                    if len(pending) >= 2 * workers:
                        collect(wait(pending, return_when=FIRST_COMPLETED).done)
                collect(wait(pending).done)
            except BaseException:
                # Interrupted: partitions in flight stop at their next chunk instead of running to the end.
                self.cancel.set()
                raise
        return RunSummary([results[i] for i in sorted(results)], time.monotonic() - began)
