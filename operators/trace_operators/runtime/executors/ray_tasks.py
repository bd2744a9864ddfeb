"""Each attempt one Ray task: the task JSON goes to a worker process, which prepares the job once and reuses it."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError

from trace_operators.contract import (
    Cancelled,
    Operator,
    ResolvedJob,
    RetryableError,
    TaskError,
    TaskResult,
)
from trace_operators.runtime.taskpath import Worker, failure, run_task
from trace_operators.runtime.tasks import Task, parse_task

#: Builds, in a worker process, what its tasks of one job share: the operator, the job resolved from the node's own
#: environment (its endpoint: never shipped), and the worker (store, staging, a logger redacting the job's secrets).
#: It travels with each task, so it is a hashable value of an importable class.
WorkerSetup = Callable[[Mapping[str, Any]], tuple[Operator, ResolvedJob, Worker]]

#: Seconds between looks at the cancellation while a task runs on the cluster.
POLL_SECONDS = 0.2
#: Seconds a cancelled task has to stop at its next checkpoint before its worker process is killed.
CANCEL_GRACE_SECONDS = 10.0
#: Resources Ray takes as options of their own rather than in `resources`.
_BUILT_IN = ("CPU", "memory")

#: What this worker process prepared, for one job and setup. One slot: a driver runs one job and Ray gives each
#: driver its own worker processes; and the logger a setup configures is the process's, shared by name.
_prepared: dict[tuple[str, Hashable], tuple[Operator, ResolvedJob, Worker]] = {}


def run_shipped(task_json: str, setup: WorkerSetup) -> TaskResult:
    """On a worker: the task read as `task` reads it, run through the task path with what this process prepared."""
    task = None
    try:
        task = parse_task(task_json)
        operator, resolved, worker = _prepare(task.job, setup)
    except TaskError as error:
        return failure(task.task_id if task else "", task.attempt if task else 0, error)
    return run_task(operator, resolved, task, worker)


def _prepare(job: Mapping[str, Any], setup: WorkerSetup) -> tuple[Operator, ResolvedJob, Worker]:
    key = (json.dumps(job, sort_keys=True), setup)
    if key not in _prepared:
        _prepared.clear()
        _prepared[key] = setup(job)
    return _prepared[key]


# Every attempt is one of the job's max_attempts, counted by the runner: Ray never retries on its own.
_remote = ray.remote(max_retries=0, retry_exceptions=False)(run_shipped)


@dataclass(frozen=True)
class RayExecutor:
    """Runs each attempt on the connected cluster as a Ray task asking `needs` of its node."""

    setup: WorkerSetup
    needs: Mapping[str, float]

    def __call__(self, operator: Operator, resolved: ResolvedJob, task: Task, worker: Worker) -> TaskResult:
        custom = {name: units for name, units in self.needs.items() if name not in _BUILT_IN}
        memory = int(self.needs.get("memory", 0)) or None
        options = _remote.options(num_cpus=self.needs.get("CPU", 1.0), memory=memory, resources=custom)
        ref = options.remote(task.to_json(), self.setup)
        try:
            result = _outcome(ref, task, worker)
        except RayError as error:
            # Its worker process or node died, or Ray could not start it: another attempt may run elsewhere.
            lost = RetryableError(f"the task was lost on the Ray cluster: {_first_line(error)}")
            result = failure(task.task_id, task.attempt, lost, resolved.secrets)
        if result.error_message is not None:
            # The worker logged it where it ran; the driver's log is the one a person reads.
            worker.logger.warning("task %s failed: %s", task.task_id, result.error_message)
        return result


def _outcome(ref: ray.ObjectRef[TaskResult], task: Task, worker: Worker) -> TaskResult:
    """The task's result once it ends, or a cancelled one as soon as `worker.cancel` is set."""
    while not ray.wait([ref], timeout=POLL_SECONDS)[0]:
        if worker.cancel.is_set():
            _cancel(ref)
            return failure(task.task_id, task.attempt, Cancelled("the task was cancelled on the Ray cluster"))
    result: TaskResult = ray.get(ref)
    return result


def _cancel(ref: ray.ObjectRef[TaskResult]) -> None:
    # An interrupt in the task first: its `finally` blocks stop its children and remove its staging directory.
    ray.cancel(ref)
    if not ray.wait([ref], timeout=CANCEL_GRACE_SECONDS)[0]:
        ray.cancel(ref, force=True)  # stuck where no interrupt reaches: its worker process goes, children with it


def _first_line(error: RayError) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else 'no message'}"
