"""Where one attempt of a task runs; the runner keeps the policy (order, concurrency, attempts, backoff, progress).

The local executor is the task path itself, `taskpath.run_task`, on the runner's thread; `ray_cluster` runs
each attempt as a Ray task.
"""

from __future__ import annotations

from collections.abc import Callable

from trace_operators.contract import Operator, ResolvedJob, TaskResult
from trace_operators.runtime.taskpath import Worker
from trace_operators.runtime.tasks import Task

#: Runs one attempt to its outcome and never raises; `worker.cancel` ends it as retryable.
Executor = Callable[[Operator, ResolvedJob, Task, Worker], TaskResult]
