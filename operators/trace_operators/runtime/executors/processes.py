"""Attempts in worker processes, for extractors that compute in-process (the stub): the GIL held between
pyarrow's calls lets threads scale 1.7x on two cores, processes scale 2x.

The workers are forked when the executor opens, before the runner starts its threads, so each inherits the
operator, the resolved job and the worker already made (store, staging, redacting logger); a task travels to
them pickled, its result back. The run's cancellation reaches them through a shared event, their chunks'
progress comes back through a queue, each attempt's before its result. A worker ignores SIGINT and SIGTERM:
a terminal's Ctrl-C reaches the whole process group, and it is the run's cancellation that stops an attempt,
at its next checkpoint, as retryable; leaving the executor on an error (a second Ctrl-C) cancels what is
still running.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.queues import SimpleQueue
from multiprocessing.synchronize import Event as SharedEvent

from trace_operators.contract import Operator, ResolvedJob, TaskResult
from trace_operators.runtime.executors import Executor
from trace_operators.runtime.taskpath import Worker, failure, run_task
from trace_operators.runtime.tasks import Task

#: How often a waiting attempt looks at the run's cancellation, in seconds.
_POLL_SECONDS = 0.05
#: A chunk a worker reports, (task id, blocks); blocks None ends the attempt's reports, None ends the relay.
_Report = tuple[str, int | None] | None


@dataclass(frozen=True)
class _Inherited:
    """What a forked worker process runs its attempts with."""

    operator: Operator
    resolved: ResolvedJob
    worker: Worker
    cancel: SharedEvent
    chunks: SimpleQueue[_Report]
    parent: int


#: In a worker, what it was forked with (handed to its initializer, never pickled).
_inherited: list[_Inherited] = []
#: In a worker, its own copy of the run's cancellation, set when the shared event is.
_cancelled = threading.Event()


@contextmanager
def in_processes(operator: Operator, resolved: ResolvedJob, worker: Worker, processes: int) -> Iterator[Executor]:
    """An executor running each attempt in one of `processes` worker processes, forked now."""
    context = multiprocessing.get_context("fork")
    cancel, chunks = context.Event(), context.SimpleQueue()
    inherited = _Inherited(operator, resolved, worker, cancel, chunks, os.getpid())
    reporters: dict[str, tuple[Callable[[str, int], None], threading.Event]] = {}
    relay = threading.Thread(target=_relay, args=(chunks, reporters), name="chunk-relay", daemon=True)
    pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker, initargs=(inherited,))
    try:
        pool.submit(_ready).result()  # forks every worker now, while this process has no other thread
        relay.start()

        def execute(operator: Operator, resolved: ResolvedJob, task: Task, worker: Worker) -> TaskResult:
            reported = threading.Event()
            reporters[task.task_id] = (worker.on_chunk, reported)
            try:
                result, whole = _await(pool.submit(_attempt, task), worker, cancel, task)
                if whole:  # the progress of every chunk is told before the attempt's outcome
                    reported.wait(_POLL_SECONDS * 100)  # bounded: a failing `on_chunk` must not hang the run
                return result
            finally:
                reporters.pop(task.task_id, None)

        yield execute
    finally:
        cancel.set()  # nothing is left to run but what an error interrupted
        pool.shutdown(cancel_futures=True)
        chunks.put(None)
        if relay.is_alive():
            relay.join()


def _await(future: Future[TaskResult], worker: Worker, cancel: SharedEvent, task: Task) -> tuple[TaskResult, bool]:
    """The attempt's result, and whether its worker finished it; the run's cancellation is passed on meanwhile."""
    while not wait([future], _POLL_SECONDS, FIRST_COMPLETED).done:
        if worker.cancel.is_set():
            cancel.set()
    try:
        return future.result(), True
    except BrokenProcessPool as error:  # a worker killed (out of memory, a signal): the attempt may pass again
        return failure(task.task_id, task.attempt, RuntimeError(f"the worker process died: {error}")), False


def _relay(
    chunks: SimpleQueue[_Report], reporters: dict[str, tuple[Callable[[str, int], None], threading.Event]]
) -> None:
    """Hand each chunk a worker reports to its attempt's `on_chunk`, until told to stop."""
    while (message := chunks.get()) is not None:
        task_id, blocks = message
        if (reporter := reporters.get(task_id)) is None:
            continue
        report, reported = reporter
        if blocks is None:
            reported.set()
        else:
            report(task_id, blocks)


def _start_worker(inherited: _Inherited) -> None:
    """In each worker as it starts: no SIGINT nor SIGTERM, and the shared cancellation watched."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    _inherited.append(inherited)
    threading.Thread(target=_watch, args=(inherited,), name="cancel", daemon=True).start()


def _watch(inherited: _Inherited) -> None:
    """Pass the run's cancellation on; leave when the parent is gone (killed), as nothing would ask for more."""
    while not inherited.cancel.wait(_POLL_SECONDS * 20):
        if os.getppid() != inherited.parent:
            os._exit(1)  # staging and the store's temporary files are swept by the next run, as after any crash
    _cancelled.set()


def _ready() -> None:
    return None


def _attempt(task: Task) -> TaskResult:
    """One attempt in a worker process, with the worker it was forked with."""
    [found] = _inherited
    worker = replace(
        found.worker, cancel=_cancelled, on_chunk=lambda task_id, blocks: found.chunks.put((task_id, blocks))
    )
    try:
        return run_task(found.operator, found.resolved, task, worker)
    finally:
        found.chunks.put((task.task_id, None))
