"""The one task path: the local runner, the container entry and every engine to come run a task through here."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from trace_operators.contract import (
    FatalError,
    ObjectStore,
    Operator,
    ResolvedJob,
    TaskContext,
    TaskError,
    TaskMetrics,
    TaskResult,
)
from trace_operators.dag.checks import check_job
from trace_operators.dag.schema_errors import field_name
from trace_operators.plugins import Operators
from trace_operators.runtime.tasks import Task
from trace_operators.secrets import redact_text


def _no_heartbeat() -> None:
    return None


def _no_progress(task_id: str, blocks: int) -> None:
    return None


@dataclass(frozen=True)
class Worker:
    """What a process running tasks holds for all of them: opened once, shared by every task it runs."""

    store: ObjectStore
    staging_root: Path
    #: Redacts the job's secrets from every record (see `logs.configure`).
    logger: logging.Logger
    #: Set by a signal or an interrupted runner: every task in flight stops at its next checkpoint.
    cancel: threading.Event = field(default_factory=threading.Event)
    heartbeat: Callable[[], None] = _no_heartbeat
    #: Told a task's id and the blocks of each of its chunks whole in staging (`TaskContext.on_chunk`).
    on_chunk: Callable[[str, int], None] = _no_progress


def prepare(operators: Operators, job: Mapping[str, Any], env: Mapping[str, str]) -> tuple[Operator, ResolvedJob]:
    """The job's operator and the job resolved, after the checks every job gets; `FatalError` when it is invalid."""
    name = job.get("operator")
    operator = operators.get(name) if isinstance(name, str) else None
    if operator is None:
        known = ", ".join(sorted(operators.by_name)) or "none"
        raise FatalError(f"no installed plugin provides operator {name!r} (installed: {known})")
    errors = [p for p in check_job(job, operators) if p.severity == "error"]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more: run validate)" if len(errors) > 1 else ""
        raise FatalError(f"invalid job: {field_name(first.path)}: [{first.rule}] {first.message}{more}")
    return operator, operator.resolve_job(job, env)


def run_task(operator: Operator, resolved: ResolvedJob, task: Task, worker: Worker) -> TaskResult:
    """Run one task to its outcome: never raises, and no message leaves it unredacted."""
    began = time.monotonic()
    ctx = TaskContext(
        task.task_id,
        task.attempt,
        worker.store,
        worker.staging_root,
        worker.logger,
        heartbeat=worker.heartbeat,
        on_chunk=partial(worker.on_chunk, task.task_id),
        cancel=worker.cancel,
        deadline=began + resolved.timeout_seconds if resolved.timeout_seconds else None,
        dataset_uuids=task.dataset_uuids,
    )
    try:
        _check_outputs(task, resolved)
        result = operator.run_partition(resolved, task.partition, ctx)
    except Exception as error:  # noqa: BLE001 - every failure becomes an outcome, never a traceback
        worker.logger.debug("task %s failed", task.task_id, exc_info=True)
        result = failure(task.task_id, task.attempt, error, resolved.secrets, round(time.monotonic() - began, 6))
    else:
        if result.error_message is None:
            return result
        # An operator may report a failure itself: its message is redacted all the same.
        result = replace(result, error_message=redact_text(result.error_message, resolved.secrets))
    worker.logger.warning("task %s failed: %s", task.task_id, result.error_message)
    return result


def failure(
    task_id: str, attempt: int, error: Exception, secrets: tuple[str, ...] = (), seconds: float = 0.0
) -> TaskResult:
    """The outcome of a task that raised `error`, its message redacted of `secrets` and of any credential.

    Only a `TaskError` knows it is fatal; a disk or unforeseen failure may pass on a later attempt.
    """
    fatal = isinstance(error, TaskError) and not error.retryable
    message = str(error) if isinstance(error, TaskError) else f"{type(error).__name__}: {error}"
    return TaskResult(
        task_id,
        attempt,
        "fatal_error" if fatal else "retryable_error",
        error_message=redact_text(message, secrets),
        metrics=TaskMetrics(seconds=seconds),
    )


def _check_outputs(task: Task, resolved: ResolvedJob) -> None:
    beyond = sorted(i for i in task.dataset_uuids if i >= resolved.outputs)
    if beyond:
        raise FatalError(
            f"task outputs name output_index {beyond[0]}, but job {resolved.name} has {resolved.outputs} outputs "
            f"(0 to {resolved.outputs - 1})"
        )
