"""`cryo-ingest task`: the container entry the platform runtime calls, good tasks and hostile ones."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

JOB = {
    "name": "cryo_bootstrap",
    "operator": "cryo_ingest",
    "config": {
        "chain_id": 10143,
        "datasets": ["blocks", "txs", "logs", "traces"],
        "rpc_pool": "monad",
        "chunk_size": 300,
    },
    "outputs": 4,
}


def task(**overrides) -> str:
    body = {
        "task_id": "t-0001",
        "attempt": 1,
        "job": JOB,
        "partition": {"partition_key": "1000-1999", "start": 1000, "end": 1999},
    }
    return json.dumps({**body, **overrides})


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def start_task(env: dict[str, str], cwd: Path, text: str, output: int) -> subprocess.Popen[str]:
    """`cryo-ingest task` in a process of its own, reading its task from a file, as the container does."""
    path = cwd / "task.json"
    path.write_text(text)
    return subprocess.Popen(
        [sys.executable, "-m", "cryo_ingest", "task", str(path)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        text=True,
    )


def test_good_task_then_retry(cli, tmp_path: Path) -> None:
    done = cli("task", "-", input=task())
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == "success" and result["error_message"] is None
    published = result["datasets_published"]
    assert [(p["output_index"], p["dataset"]) for p in published] == [
        (0, "blocks"),
        (1, "transactions"),
        (2, "logs"),
        (3, "traces"),
    ]
    first = published[0]
    assert (first["range_start"], first["range_end"], first["row_count"]) == (1000, 1999, 1000)
    assert first["storage_ref"] == {
        "scheme": "file",
        "bucket": str(tmp_path / "cryo-data"),
        "prefix": f"cryo/10143/blocks/1000_1999/{first['dataset_version']}/",
        "glob": "*.parquet",
    }
    assert sorted(p.name for p in (tmp_path / "cryo-data" / first["storage_ref"]["prefix"]).iterdir()) == [
        "10143__blocks__00001000_to_00001299.parquet",
        "10143__blocks__00001300_to_00001599.parquet",
        "10143__blocks__00001600_to_00001899.parquet",
        "10143__blocks__00001900_to_00001999.parquet",
        "_SUCCESS",
        "_manifest.json",
    ]
    assert files_under(tmp_path / "staging") == set()

    retry = json.loads(cli("task", "-", input=task(attempt=2), check=True).stdout)
    assert retry["attempt"] == 2 and retry["metrics"]["datasets_reused"] == 4
    assert retry["datasets_published"] == published


def test_runtime_dataset_uuids_are_used(cli) -> None:
    outputs = [{"output_index": i, "dataset_uuid": f"00000000-0000-4000-8000-00000000000{i}"} for i in range(4)]
    result = json.loads(cli("task", "-", input=task(outputs=outputs), check=True).stdout)
    assert [p["dataset_uuid"] for p in result["datasets_published"]] == [o["dataset_uuid"] for o in outputs]


def test_one_dataset_missing_is_redone_alone(cli, tmp_path: Path) -> None:
    result = json.loads(cli("task", "-", input=task(), check=True).stdout)
    logs = tmp_path / "cryo-data" / result["datasets_published"][2]["storage_ref"]["prefix"]
    (logs / "_SUCCESS").unlink()
    kept = {p: p.stat().st_mtime_ns for p in (tmp_path / "cryo-data").rglob("*") if "/logs/" not in str(p)}
    again = json.loads(cli("task", "-", input=task(attempt=2), check=True).stdout)
    assert again["metrics"]["datasets_reused"] == 3
    assert again["datasets_published"] == result["datasets_published"]
    assert {p: p.stat().st_mtime_ns for p in kept} == kept


@pytest.mark.parametrize(
    "text, message",
    [
        (task(task_id="../../etc"), "task_id"),
        (task(task_id="a/b"), "task_id"),
        (task(attempt=0), "attempt must be an integer from 1 to 10000, not 0"),
        (task(attempt="1"), 'attempt must be an integer from 1 to 10000, not "1"'),
        (task(partition=None), "task partition is missing"),
        (task(partition={"start": 10, "end": 5}), "task partition: blocks 10..5 are not a range"),
        (task(partition={"start": -1, "end": 5}), "task partition: blocks -1..5 are not a range"),
        (task(outputs=[{"output_index": 0, "dataset_uuid": "not-a-uuid"}]), "dataset_uuid of output 0 must be a UUID"),
        (
            task(outputs=[{"output_index": i, "dataset_uuid": "00000000-0000-4000-8000-000000000000"} for i in (1, 1)]),
            "task outputs list output_index 1 twice",
        ),
        (
            task(outputs=[{"output_index": 4, "dataset_uuid": "00000000-0000-4000-8000-000000000000"}]),
            "task outputs name output_index 4, but job cryo_bootstrap has 4 outputs (0 to 3)",
        ),
        ("{not json", "task is not valid JSON"),
        ("[]", "task must be a JSON object"),
        (
            task(
                job={**JOB, "config": {**JOB["config"], "rpc_pool": "https://user:pw@rpc.example.org/v2/" + "Zk9" * 8}}
            ),
            "invalid job: config.rpc_pool: [secret.url-credentials]",
        ),
        (
            task(job={**JOB, "config": {**JOB["config"], "datasets": ["blocks", "contracts"]}, "outputs": 2}),
            "the stub extractor writes only blocks, transactions, logs, traces, not contracts",
        ),
    ],
)
def test_hostile_or_broken_task_is_fatal(cli, tmp_path: Path, text: str, message: str) -> None:
    done = cli("task", "-", input=text)
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["outcome"] == "fatal_error" and result["datasets_published"] == []
    assert message in result["error_message"]
    assert "Traceback" not in done.stdout + done.stderr
    assert "Zk9Zk9Zk9" not in done.stdout + done.stderr and "user:pw" not in done.stdout + done.stderr
    assert {p for p in tmp_path.rglob("*") if p.is_file()} <= files_under(tmp_path / "staging")
    assert not (tmp_path / "cryo-data").exists()


def test_unreadable_task_file(cli) -> None:
    done = cli("task", "missing.json")
    assert done.returncode == 1
    assert (
        json.loads(done.stdout)["error_message"] == "cannot read the task file missing.json: No such file or directory"
    )


def test_a_hostile_task_id_is_refused_even_when_the_partition_is_published(cli, tmp_path: Path) -> None:
    cli("task", "-", input=task(), check=True)
    done = cli("task", "-", input=task(task_id="../../../../tmp/x"))
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["outcome"] == "fatal_error" and result["datasets_published"] == []
    assert result["error_message"].startswith("task_id must be 1 to 128 characters")


def test_timeout_seconds_is_the_task_deadline(cli, tmp_path: Path) -> None:
    # A million blocks take the stub half a minute or more; a second is far less.
    job = {**JOB, "timeout_seconds": 1, "config": {**JOB["config"], "chunk_size": 10_000}}
    done = cli("task", "-", input=task(job=job, partition={"start": 0, "end": 999_999}))
    assert done.returncode == 75
    result = json.loads(done.stdout)
    assert result["outcome"] == "retryable_error" and result["error_message"] == "the task ran past its deadline"
    assert files_under(tmp_path / "staging") == set()
    assert not list((tmp_path / "cryo-data").rglob("_SUCCESS"))


def test_sigterm_cancels_the_task_which_reports_and_cleans_up(env: dict[str, str], tmp_path: Path) -> None:
    """As ECS stops a container: SIGTERM, then a result on stdout, staging removed, exit 75."""
    job = {**JOB, "config": {**JOB["config"], "chunk_size": 10_000}}
    process = start_task(env, tmp_path, task(job=job, partition={"start": 0, "end": 999_999}), subprocess.PIPE)
    staging = tmp_path / "staging"
    deadline = time.monotonic() + 120
    while not any(p.suffix == ".parquet" for p in files_under(staging)):
        assert time.monotonic() < deadline and process.poll() is None, "the task ended before staging anything"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 75, err
    result = json.loads(out)
    assert result["outcome"] == "retryable_error" and result["error_message"] == "the task was cancelled"
    assert "Traceback" not in err
    assert files_under(staging) == set()
    assert not list((tmp_path / "cryo-data").rglob("_SUCCESS"))


def test_killed_mid_publish_then_rerun_publishes_the_same_bytes(env: dict[str, str], tmp_path: Path, cli) -> None:
    big = task(partition={"start": 0, "end": 59999}, job={**JOB, "config": {**JOB["config"], "chunk_size": 1000}})
    victim = tmp_path / "victim"
    victim.mkdir()
    process = start_task(env, victim, big, subprocess.DEVNULL)
    store = victim / "cryo-data"
    deadline = time.monotonic() + 120
    while not (store.exists() and any(store.rglob("*.parquet"))):
        assert time.monotonic() < deadline and process.poll() is None, "the task ended before publishing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list(store.rglob("_SUCCESS"))) < 4, "killed too late to test anything"

    rerun = subprocess.run(
        [sys.executable, "-m", "cryo_ingest", "task", "-"],
        cwd=victim,
        env=env,
        input=big,
        capture_output=True,
        text=True,
        check=True,
    )
    clean = cli("task", "-", input=big, check=True)
    versions = [
        [(p["dataset_version"], p["row_count"], p["bytes"]) for p in json.loads(d)["datasets_published"]]
        for d in (rerun.stdout, clean.stdout)
    ]
    assert versions[0] == versions[1]
    victim_files = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    clean_store = tmp_path / "cryo-data"
    clean_files = {str(p.relative_to(clean_store)): p.read_bytes() for p in clean_store.rglob("*") if p.is_file()}
    assert victim_files == clean_files
