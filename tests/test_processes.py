"""Attempts in forked worker processes: what they publish, the progress they report, their cancellation."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from cryo_ingest.plugin import CryoIngest
from trace_operators.contract import Partition
from trace_operators.runtime.executors.processes import in_processes
from trace_operators.runtime.taskpath import Worker, run_task
from trace_operators.runtime.tasks import Task
from trace_operators.stores import open_store

JOB = {
    "name": "procs",
    "operator": "cryo_ingest",
    "scaling": {"max_concurrency": 2},
    "config": {
        "chain_id": 7,
        "datasets": ["blocks", "transactions"],
        "rpc_pool": "p",
        "chunk_size": 100,
        "start_block": 0,
        "end_block": 99_999,
        "partition_size": 25_000,
    },
}
LOGGER = logging.getLogger("test")


def worker(tmp_path: Path, store: str, **kw) -> Worker:
    return Worker(open_store(str(tmp_path / store)), tmp_path / "staging", LOGGER, **kw)


def published(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_workers_publish_what_a_thread_does_and_report_each_chunk(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    tasks = [Task(f"t-{n}", 1, JOB, Partition(n * 250, n * 250 + 249)) for n in range(2)]
    chunks: list[tuple[str, int]] = []
    reporting = worker(tmp_path, "procs", on_chunk=lambda task_id, blocks: chunks.append((task_id, blocks)))
    with in_processes(operator, resolved, worker(tmp_path, "procs"), 2) as execute:
        results = [execute(operator, resolved, task, reporting) for task in tasks]
    threaded = [run_task(operator, resolved, task, worker(tmp_path, "threads")) for task in tasks]
    assert [r.outcome for r in results] == ["success", "success"]
    # The same versions, rows and bytes, but each in its own store.
    assert [[(p.dataset_version, p.row_count, p.bytes) for p in r.datasets_published] for r in results] == [
        [(p.dataset_version, p.row_count, p.bytes) for p in r.datasets_published] for r in threaded
    ]
    assert published(tmp_path / "procs") == published(tmp_path / "threads")
    # Each attempt's chunks are told before its result, none lost on the way.
    assert chunks == [(task.task_id, blocks) for task in tasks for blocks in (100, 100, 50)]


def test_the_runs_cancellation_stops_an_attempt_in_a_worker(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    cancel = threading.Event()
    pids: list[int] = []

    def chunk(task_id: str, blocks: int) -> None:
        pids.append(os.getpid())  # the relay runs in this process
        cancel.set()

    with in_processes(operator, resolved, worker(tmp_path, "store"), 2) as execute:
        result = execute(
            operator,
            resolved,
            Task("t-1", 1, JOB, Partition(0, 24_999)),
            worker(tmp_path, "store", cancel=cancel, on_chunk=chunk),
        )
    assert result.outcome == "retryable_error" and "cancelled" in (result.error_message or "")
    assert pids and set(pids) == {os.getpid()}
    assert not list((tmp_path / "store").rglob("_SUCCESS"))
    assert not list((tmp_path / "staging").rglob("*.parquet"))
