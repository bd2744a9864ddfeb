"""The PerPartition contract in process: heartbeats, cancellation, deadlines, retries, progress, logs."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from pathlib import Path

import pytest

from cryo_ingest.plugin import CryoIngest
from trace_operators.contract import Partition, RetryableError, TaskMetrics, TaskResult
from trace_operators.runtime import logs
from trace_operators.runtime.progress import Progress
from trace_operators.runtime.runner import Runner
from trace_operators.runtime.taskpath import Worker, run_task
from trace_operators.runtime.tasks import Task
from trace_operators.stores import open_store

from tests.anvil import free_port

JOB = {
    "name": "boot",
    "operator": "cryo_ingest",
    "max_attempts": 3,
    "scaling": {"max_concurrency": 2},
    "config": {
        "chain_id": 7,
        "datasets": ["blocks", "logs"],
        "rpc_pool": "p",
        "chunk_size": 100,
        "start_block": 0,
        "end_block": 999,
        "partition_size": 250,
    },
}
LOGGER = logging.getLogger("test")


def unreachable_s3(tmp_path: Path, cancel: threading.Event | None = None) -> Worker:
    """A worker whose S3 endpoint refuses every connection: a store failure that a later attempt may not meet."""
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    return Worker(open_store("s3://some-bucket", env), tmp_path / "staging", LOGGER, cancel or threading.Event())


def worker(tmp_path: Path, store: str = "store", **kw) -> Worker:
    return Worker(open_store(str(tmp_path / store)), tmp_path / "staging", LOGGER, **kw)


def one_task(tmp_path: Path, partition: Partition, job: dict = JOB, **kw) -> TaskResult:
    """One task through the one task path, as every engine runs it."""
    operator = CryoIngest()
    resolved = operator.resolve_job(job, {})
    return run_task(operator, resolved, Task("task-1", 1, job, partition), worker(tmp_path, **kw))


def test_heartbeat_between_chunks(tmp_path: Path) -> None:
    beats = []
    result = one_task(tmp_path, Partition(0, 549), heartbeat=lambda: beats.append(1))
    assert result.outcome == "success"
    # Six chunks extracted, twelve files published, and the checks before extraction.
    assert len(beats) >= 6 + 12


@pytest.mark.parametrize("how", ["cancel", "deadline"])
def test_cancelled_or_late_task_is_retryable_and_publishes_nothing(tmp_path: Path, how: str) -> None:
    cancel = threading.Event()
    beats = []

    def heartbeat() -> None:
        beats.append(1)
        if len(beats) == 3:
            cancel.set()

    # The deadline comes from the job's timeout_seconds: a second is far less than a million blocks take.
    if how == "cancel":
        result = one_task(tmp_path, Partition(0, 999), heartbeat=heartbeat, cancel=cancel)
    else:
        # In chunks of 10,000 blocks: 100 files, within a partition's bound of 256.
        late = {**JOB, "timeout_seconds": 1, "config": {**JOB["config"], "chunk_size": 10_000}}
        result = one_task(tmp_path, Partition(0, 999_999), late)
    assert result.outcome == "retryable_error"
    assert (
        result.error_message == {"cancel": "the task was cancelled", "deadline": "the task ran past its deadline"}[how]
    )
    assert not list((tmp_path / "store").rglob("_SUCCESS"))
    assert not list((tmp_path / "staging").rglob("*.parquet"))


def test_store_failure_is_retried_with_backoff_then_reported(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    delays: list[int] = []

    def backoff(attempt: int) -> float:
        delays.append(attempt)
        return 0.0

    done = []
    runner = Runner(operator, resolved, JOB, unreachable_s3(tmp_path), on_done=done.append, backoff=backoff)
    summary = runner.run(operator.plan(resolved, resolved.range))
    assert [r.outcome for r in summary.failed] == ["retryable_error"] * 4
    assert [r.attempt for r in summary.failed] == [3] * 4
    assert sorted(delays) == [1] * 4 + [2] * 4
    assert len(done) == 4
    assert "EndpointConnectionError" in summary.failed[0].error_message
    assert summary.text().startswith("0/4 partitions published")


def test_fatal_error_is_not_retried(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    delays: list[int] = []
    runner = Runner(operator, resolved, JOB, worker(tmp_path), backoff=lambda attempt: delays.append(attempt) or 0.0)
    # A task id that could escape the staging root is fatal: retrying cannot help.
    partition = Partition(0, 99, partition_key="../../escape")
    [result] = runner.run([partition]).failed
    assert result.outcome == "fatal_error" and result.attempt == 1 and delays == []
    assert "task_id" in result.error_message


def test_runner_results_in_partition_order_and_bounded_concurrency(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    active, peak = [0], [0]
    lock = threading.Lock()

    def heartbeat() -> None:
        with lock:
            peak[0] = max(peak[0], active[0])

    class Counting(CryoIngest):
        def run_partition(self, resolved, partition, ctx):
            with lock:
                active[0] += 1
            try:
                ctx.heartbeat = heartbeat
                return super().run_partition(resolved, partition, ctx)
            finally:
                with lock:
                    active[0] -= 1

    done: list[TaskResult] = []
    runner = Runner(Counting(), resolved, JOB, worker(tmp_path), on_done=done.append)
    summary = runner.run(operator.plan(resolved, resolved.range))
    assert sorted(r.task_id for r in done) == ["boot-0-249", "boot-250-499", "boot-500-749", "boot-750-999"]
    assert (summary.published, summary.blocks, summary.failed) == (4, 1000, []) and peak[0] <= 2


def test_progress_draws_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen, pipe = Terminal(), io.StringIO()
    for stream in (screen, pipe):
        progress = Progress(2, 500, stream)
        for i in range(2):
            progress.update(TaskResult(f"t{i}", 1, "success", metrics=TaskMetrics(blocks=250)))
        progress.close()
    assert pipe.getvalue() == ""
    last = screen.getvalue().split("\r")[-1]
    assert last.startswith("100%|") and "| 2/2 partitions, 500/500 blocks published, " in last
    assert "ETA 00:00" in last and last.endswith("\n")


def test_json_logs_are_redacted(capsys) -> None:
    secret = "http://user:pa55word@10.0.0.1:8545/v2/" + "Ab3" * 8
    logger = logs.configure("cryo_ingest", "json", secrets=[secret])
    logger.warning("connecting to %s failed", secret)
    entry = json.loads(capsys.readouterr().err)
    assert entry["level"] == "warning" and entry["logger"] == "cryo_ingest"
    assert "pa55word" not in entry["message"] and "Ab3Ab3" not in entry["message"]
    assert entry["message"].startswith("connecting to ")


def test_backoff_waits_on_the_cancellation_not_a_sleep(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job({**JOB, "max_attempts": 5}, {})
    cancel = threading.Event()
    failing = unreachable_s3(tmp_path, cancel)
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        threading.Timer(0.2, cancel.set).start()
        return 3600.0  # an hour: only the cancellation can end this wait

    runner = Runner(operator, resolved, JOB, failing, backoff=backoff)
    finished = threading.Event()
    thread = threading.Thread(target=lambda: (runner.run([Partition(0, 99)]), finished.set()))
    thread.start()
    # A hang guard, not a timing: without the cancellation ending the wait this would take an hour.
    assert finished.wait(120)
    assert waits == [1]


def test_a_cancelled_task_is_not_retried_and_logs_as_cancelled(tmp_path: Path, capsys) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    cancel = threading.Event()

    class Interrupted(CryoIngest):
        def run_partition(self, resolved, partition, ctx):
            cancel.set()  # as a signal does while the task runs: it stops at its next checkpoint
            ctx.checkpoint()

    logger = logs.configure("cryo_ingest", "json")
    store = open_store(str(tmp_path / "store"))
    runner = Runner(
        Interrupted(), resolved, JOB, Worker(store, tmp_path / "staging", logger, cancel), backoff=lambda _: 0
    )
    [result] = runner.run([Partition(0, 99)]).failed
    assert (result.outcome, result.attempt) == ("retryable_error", 1)
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["level"], e["message"], e.get("outcome")) for e in logged] == [
        ("warning", "task boot-0-99 failed: the task was cancelled", None),
        ("warning", "cancelled boot-0-99: the task was cancelled", "cancelled"),
    ]


def test_output_index_beyond_the_job_is_fatal_before_anything_runs(tmp_path: Path) -> None:
    operator = CryoIngest()
    resolved = operator.resolve_job(JOB, {})
    task = Task("task-1", 1, JOB, Partition(0, 99), ((2, "00000000-0000-4000-8000-000000000002"),))
    result = run_task(operator, resolved, task, worker(tmp_path))
    assert result.outcome == "fatal_error"
    assert result.error_message == "task outputs name output_index 2, but job boot has 2 outputs (0 to 1)"
    assert not (tmp_path / "staging").exists() and not (tmp_path / "store").exists()


def test_the_task_path_redacts_every_message_with_the_jobs_secrets(tmp_path: Path, capsys) -> None:
    """Extractors report raw text (Cryo's stderr holds the URL and its Basic header); the task path redacts it once."""
    from dataclasses import replace

    from cryo_ingest.job.endpoints import Endpoint

    url = "http://ingest-user:pw-Quartz-7731@127.0.0.1:9/v2/KeyZ9x8w7v6u5t4s3r2q?apikey=KeyZ9x8w7v6u5t4s3r2qx"
    endpoint = Endpoint("monad", url)
    basic = base64.b64encode(b"ingest-user:pw-Quartz-7731").decode()

    class Failing(CryoIngest):
        def run_partition(self, resolved, partition, ctx):
            raise RetryableError(
                f"Cryo, reading pool monad, exited with 1: sending request for url ({url}): Basic {basic}"
            )

    operator = Failing()
    resolved = replace(operator.resolve_job(JOB, {}), secrets=endpoint.secrets())
    logger = logs.configure("cryo_ingest", "json", secrets=resolved.secrets)
    result = run_task(
        operator,
        resolved,
        Task("task-1", 1, JOB, Partition(0, 9)),
        Worker(open_store(str(tmp_path / "store")), tmp_path / "staging", logger),
    )
    logged = capsys.readouterr().err
    assert result.outcome == "retryable_error" and result.error_message.startswith("Cryo, reading pool monad, exited")
    for secret in ("ingest-user", "pw-Quartz-7731", "KeyZ9x8w7v6u5t4s3r2q", basic):
        assert secret not in result.error_message and secret not in logged
    assert "pool monad" in logged
