"""The runner: a job's partitions in order, with bounded concurrency and retries, each attempt on an executor."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from trace_operators.contract import FatalError, Operator, Partition, ResolvedJob, TaskResult
from trace_operators.runtime.executors import Executor
from trace_operators.runtime.logs import event
from trace_operators.runtime.taskpath import Worker, failure, run_task
from trace_operators.runtime.tasks import Task

#: The most seconds before retry n (1-based) of a partition: 1, 2, 4, ... capped.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): full jitter, uniform up to 1, 2, 4, ... capped."""
    # Partitions that failed together (a node's rate limit, an outage) must not all come back at once.
    return random.uniform(0.0, min(BACKOFF_BASE * 2.0 ** (attempt - 1), BACKOFF_CAP))


@dataclass
class RunSummary:
    """What the partitions that ran add up to, out of `planned`, and the failed ones themselves.

    Totals, not results: a run of a million partitions holds only its failures.
    """

    planned: int
    seconds: float = 0.0
    published: int = 0
    blocks: int = 0
    rows: int = 0
    bytes: int = 0
    reused: int = 0
    failed: list[TaskResult] = field(default_factory=list)

    def add(self, result: TaskResult) -> None:
        """Count one partition's final result."""
        self.blocks += result.metrics.blocks
        self.rows += sum(p.row_count for p in result.datasets_published)
        self.bytes += sum(p.bytes for p in result.datasets_published)
        self.reused += result.metrics.datasets_reused
        if result.outcome == "success":
            self.published += 1
        else:
            self.failed.append(result)

    def text(self) -> str:
        lines = [
            f"{self.published}/{self.planned} partitions published, "
            f"{self.blocks:,} blocks, {self.rows:,} rows, {self.bytes / 1e6:,.1f} MB in {self.seconds:.2f} s "
            f"({self.blocks / max(self.seconds, 1e-9):,.0f} blocks/s); "
            f"{self.reused} dataset versions were already there",
        ]
        lines += [f"  failed {r.task_id} (attempt {r.attempt}, {r.outcome}): {r.error_message}" for r in self.failed]
        return "\n".join(lines)


def _ignore(result: TaskResult) -> None:
    return None


#: The level and the text line of each outcome of a partition.
_OUTCOME_LINES = {
    "published": (logging.INFO, "published {task}: {blocks:,} blocks, {rows:,} rows, {mb:,.1f} MB in {seconds:.2f} s"),
    "reused": (logging.INFO, "reused {task}: every dataset was already published"),
    "failed-retryable": (logging.ERROR, "failed {task} (retryable, attempt {attempt}): {error}"),
    "failed-fatal": (logging.ERROR, "failed {task} (fatal): {error}"),
    "cancelled": (logging.WARNING, "cancelled {task}: {error}"),
}


def outcome_name(result: TaskResult, cancelled: bool) -> str:
    """What became of a partition: published, reused, failed-retryable, failed-fatal or cancelled."""
    if result.outcome == "success":
        reused = result.metrics.datasets_reused
        return "reused" if reused and reused == len(result.datasets_published) else "published"
    if result.outcome == "fatal_error":
        return "failed-fatal"
    return "cancelled" if cancelled else "failed-retryable"


@dataclass
class Runner:
    """Everything a run needs besides the partitions: the policy of order, concurrency, attempts and backoff."""

    operator: Operator
    resolved: ResolvedJob
    job: Mapping[str, Any]
    worker: Worker
    on_done: Callable[[TaskResult], None] = _ignore
    #: Told each failed attempt that will be retried, before its backoff.
    on_retry: Callable[[TaskResult], None] = _ignore
    #: Seconds to wait after a failed attempt, by its number.
    backoff: Callable[[int], float] = backoff
    #: Where each attempt runs: in this process by default.
    execute: Executor = run_task

    def attempt(self, partition: Partition, attempt: int) -> TaskResult:
        """One attempt of `partition`, as a task read like any other: a task id it cannot have is fatal."""
        task_id = f"{self.resolved.name}-{partition.partition_key}"
        try:
            task = Task(task_id, attempt, self.job, partition)
        except FatalError as error:
            return failure(task_id, attempt, error, self.resolved.secrets)
        return self.execute(self.operator, self.resolved, task, self.worker)

    def run_one(self, partition: Partition) -> TaskResult:
        """Attempts until success, a fatal error, cancellation, or `max_attempts`; an event per retry and at the end."""
        attempt = 1
        result = self.attempt(partition, attempt)
        while self._retries(result, attempt):
            delay = self.backoff(attempt)
            message = f"retrying {result.task_id} in {delay:.1f} s: {result.error_message}"
            event(self.worker.logger, logging.INFO, message, self._fields(partition, result, "retrying"))
            self.on_retry(result)
            if self.worker.cancel.wait(delay):  # a cancellation ends the wait at once, not after it
                break
            attempt += 1
            result = self.attempt(partition, attempt)
        self._log_outcome(partition, result)
        self.on_done(result)
        return result

    def _retries(self, result: TaskResult, attempt: int) -> bool:
        # A cancelled task is not retried: its failure is the cancellation's.
        return (
            result.outcome == "retryable_error"
            and attempt < self.resolved.max_attempts
            and not self.worker.cancel.is_set()
        )

    def _log_outcome(self, partition: Partition, result: TaskResult) -> None:
        outcome = outcome_name(result, self.worker.cancel.is_set())
        level, message = _OUTCOME_LINES[outcome]
        metrics = result.metrics
        text = message.format(
            task=result.task_id,
            attempt=result.attempt,
            error=result.error_message,
            blocks=metrics.blocks,
            rows=metrics.rows,
            mb=metrics.bytes / 1e6,
            seconds=metrics.seconds,
        )
        event(self.worker.logger, level, text, self._fields(partition, result, outcome))

    def _fields(self, partition: Partition, result: TaskResult, outcome: str) -> dict[str, Any]:
        """What every event of a partition says, for a log pipeline to filter and sum on."""
        return {
            "job": self.resolved.name,
            "task_id": result.task_id,
            "partition": partition.partition_key,
            "start": partition.start,
            "end": partition.end,
            "attempt": result.attempt,
            "outcome": outcome,
            "datasets": [p.dataset for p in result.datasets_published],
            "rows": result.metrics.rows,
            "bytes": result.metrics.bytes,
            "seconds": result.metrics.seconds,
        }

    def run(self, partitions: Sequence[Partition]) -> RunSummary:
        """Run every partition, at most `max_concurrency` at once, until done or cancelled."""
        began = time.monotonic()
        cancel = self.worker.cancel
        workers = max(1, min(self.resolved.max_concurrency, len(partitions)))
        summary = RunSummary(len(partitions))
        failed: dict[int, TaskResult] = {}
        with ThreadPoolExecutor(workers, thread_name_prefix="partition") as pool:
            pending: dict[Future[TaskResult], int] = {}

            def collect(done: set[Future[TaskResult]]) -> None:
                for future in done:
                    index, result = pending.pop(future), future.result()
                    summary.add(result)
                    if result.outcome != "success":
                        failed[index] = result

            try:
                # Submit lazily: a range of a million partitions must not become a million futures at once.
                for index, partition in enumerate(partitions):
                    if cancel.is_set():
                        break
                    pending[pool.submit(self.run_one, partition)] = index
                    if len(pending) >= 2 * workers:
                        collect(wait(pending, return_when=FIRST_COMPLETED).done)
                collect(wait(pending).done)
            except BaseException:
                # Interrupted some other way: partitions in flight stop at their next chunk instead of running on.
                cancel.set()
                raise
        summary.failed = [failed[i] for i in sorted(failed)]  # in partition order, not the order they ended
        summary.seconds = time.monotonic() - began
        return summary
