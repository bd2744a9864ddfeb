"""The bounds of a partition and of a task: what `validate` refuses, `task`, `run` and `plan` refuse too, fatally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cryo_ingest.extract.stub.shape import MAX_BLOCK as STUB_LAST_BLOCK
from cryo_ingest.publish.layout import MAX_BLOCK_NUMBER
from trace_operators.runtime.tasks import MAX_TASK_BYTES, MAX_TASK_DEPTH

JOB: dict[str, Any] = {
    "name": "bounds",
    "operator": "cryo_ingest",
    "config": {"chain_id": 10143, "datasets": ["blocks"], "rpc_pool": "monad", "chunk_size": 10},
    "outputs": 1,
}
NOT_A_RANGE = "are not a range: start and end are integers with 0 <= start <= end (end is inclusive)"
NOT_AN_OBJECT = "task must be a JSON object with task_id, attempt, job and partition"
TOO_DEEP = f"task JSON nests more than {MAX_TASK_DEPTH} levels of arrays and objects"
TOO_LARGE = (
    "task JSON is larger than 1,048,576 bytes (1 MiB): a task holds one job block and one partition; "
    "hand over the task, not data"
)
PAST_U32 = "is past 4,294,967,295, the last block number Cryo can hold (u32)"


def task(start: Any = 0, end: Any = 99, job: dict[str, Any] = JOB) -> dict[str, Any]:
    return {"task_id": "t-0001", "attempt": 1, "job": job, "partition": {"start": start, "end": end}}


def with_config(**config: Any) -> dict[str, Any]:
    return {**JOB, "config": {**JOB["config"], **config}}


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def run_task(cli, tmp_path: Path, body: bytes) -> tuple[int, dict[str, Any], str]:
    """`cryo-ingest task FILE`, the task's bytes in a file as the container gets it: exit, result, stderr."""
    path = tmp_path / "task.json"
    path.write_bytes(body)
    done = cli("task", str(path))
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def fatal(cli, tmp_path: Path, body: bytes) -> str:
    """The error message of a task refused before anything is written: exit 1, fatal, no traceback."""
    code, result, output = run_task(cli, tmp_path, body)
    assert (code, result["outcome"], result["datasets_published"]) == (1, "fatal_error", [])
    assert "Traceback" not in output
    assert files_under(tmp_path / "staging") == [] and not (tmp_path / "cryo-data").exists()
    return str(result["error_message"])


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- files per partition ---


@pytest.mark.parametrize(
    "end, chunk_size, message",
    [
        (
            2569,
            10,
            "blocks 0..2569: 2,570 blocks in chunks of 10 make 257 Parquet files per dataset; at most 256 are "
            "allowed: split the range into partitions of at most 2,560 blocks, or raise chunk_size to at least 11",
        ),
        (  # a task of 3,000 chunk files once published a manifest of 3,000 keys
            29_999,
            10,
            "blocks 0..29999: 30,000 blocks in chunks of 10 make 3,000 Parquet files per dataset; at most 256 "
            "are allowed: split the range into partitions of at most 2,560 blocks, or raise chunk_size to at "
            "least 118",
        ),
        (  # a stub task of 2.3 billion blocks once wrote until the disk was full
            2_299_999_999,
            1000,
            "blocks 0..2299999999: 2,300,000,000 blocks in chunks of 1,000 make 2,300,000 Parquet files per "
            "dataset; at most 256 are allowed: split the range into partitions of at most 256,000 blocks, or "
            "raise chunk_size to at least 8,984,375",
        ),
    ],
)
def test_a_partition_of_more_than_256_files_is_fatal(
    cli, tmp_path: Path, end: int, chunk_size: int, message: str
) -> None:
    assert fatal(cli, tmp_path, encoded(task(0, end, with_config(chunk_size=chunk_size)))) == message


def test_a_partition_of_256_files_publishes_a_manifest_of_256_keys(cli, tmp_path: Path) -> None:
    code, result, _ = run_task(cli, tmp_path, encoded(task(0, 2559)))
    assert (code, result["outcome"]) == (0, "success")
    prefix = tmp_path / "cryo-data" / result["datasets_published"][0]["storage_ref"]["prefix"]
    assert len(json.loads((prefix / "_manifest.json").read_text())["parquet_keys"]) == 256


# --- block numbers ---


@pytest.mark.parametrize(
    "start, end, message",
    [
        (
            MAX_BLOCK_NUMBER,
            MAX_BLOCK_NUMBER + 1,
            f"blocks 4294967295..4294967296: block 4,294,967,296 {PAST_U32}: end the range at block "
            "4,294,967,295 or below",
        ),
        (
            0,
            2**64,
            f"blocks 0..18446744073709551616: block 18,446,744,073,709,551,616 {PAST_U32}: end the range at "
            "block 4,294,967,295 or below",
        ),
        # The last block Cryo holds passes the bound; the stub's own columns end earlier.
        (
            MAX_BLOCK_NUMBER,
            MAX_BLOCK_NUMBER,
            f"blocks 4294967295..4294967295 go past the stub's last block, {STUB_LAST_BLOCK}",
        ),
    ],
)
def test_block_numbers_cryo_cannot_hold_are_fatal(cli, tmp_path: Path, start: int, end: int, message: str) -> None:
    assert fatal(cli, tmp_path, encoded(task(start, end))) == message


@pytest.mark.parametrize(
    "start, end, shown",
    [
        (False, True, "False..True"),
        (0, 99.0, "0..99.0"),
        (0, float("inf"), "0..inf"),
        (0, float("nan"), "0..nan"),
        ("0", "99", "'0'..'99'"),
        (None, 99, "None..99"),
        ([0], {"n": 99}, "[0]..{'n': 99}"),
        ("9" * 100_000, 99, "'999999999999...9999999999999'..99"),
    ],
)
def test_a_range_that_is_not_integers_is_fatal(cli, tmp_path: Path, start: Any, end: Any, shown: str) -> None:
    assert fatal(cli, tmp_path, encoded(task(start, end))) == f"task partition: blocks {shown} {NOT_A_RANGE}"


# --- the task JSON ---


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body, message",
    [
        (b"[" * 100_000 + b"]" * 100_000, TOO_DEEP),  # past the interpreter's recursion limit
        (b"[" * 100_000, TOO_DEEP),
        # One level past the bound, deep inside the job: a walk of the job must never meet it.
        (encoded(task(job={**JOB, "x-deep": nested(MAX_TASK_DEPTH - 1)})), TOO_DEEP),
        (b"\xff\xfe{}", "task JSON is not UTF-8: invalid start byte at byte 0"),
        (b'{"task_id": "t-\xc3"}', "task JSON is not UTF-8: invalid continuation byte at byte 15"),
        (b"", "task is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            b'{"task_id": "t-0001",',
            "task is not valid JSON: Expecting property name enclosed in double quotes: " "line 1 column 22 (char 21)",
        ),
        (b"[]", NOT_AN_OBJECT),
        (b'"t-0001"', NOT_AN_OBJECT),
        (b"42", NOT_AN_OBJECT),
        (b"null", NOT_AN_OBJECT),
        (encoded(task()).ljust(MAX_TASK_BYTES + 1), TOO_LARGE),
        (b" " * (64 * MAX_TASK_BYTES), TOO_LARGE),
    ],
    ids=[
        "deep",
        "deep-unclosed",
        "deep-in-job",
        "bad-start-byte",
        "bad-continuation",
        "empty",
        "cut-short",
        "array",
        "string",
        "number",
        "null",
        "one-byte-too-large",
        "64-mib",
    ],
)
def test_a_task_json_of_any_shape_or_size_is_fatal(cli, tmp_path: Path, body: bytes, message: str) -> None:
    assert fatal(cli, tmp_path, body) == message


def test_a_task_at_the_depth_and_size_bounds_runs(cli, tmp_path: Path) -> None:
    deepest = {**task(), "x-annotations": {"levels": nested(MAX_TASK_DEPTH - 2)}}
    code, result, _ = run_task(cli, tmp_path, encoded(deepest).ljust(MAX_TASK_BYTES))
    assert (code, result["outcome"]) == (0, "success")


def test_a_task_too_large_on_stdin_is_fatal(cli) -> None:
    done = cli("task", "-", input=json.dumps(task()).ljust(MAX_TASK_BYTES + 1))
    assert done.returncode == 1
    assert json.loads(done.stdout)["error_message"] == TOO_LARGE


# --- validate, plan and run agree ---


def dag(tmp_path: Path, **config: Any) -> Path:
    path = tmp_path / "dag.yaml"
    path.write_text(json.dumps({"name": "bounds", "jobs": [with_config(**config)]}, indent=2))
    return path


def value_at(path: Path, key: str) -> str:
    """`line:column` of the value of `key` in the file (a JSON document, one key a line)."""
    quoted = f'"{key}": '
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if quoted in line:
            return f"{number}:{line.index(quoted) + len(quoted) + 1}"
    raise AssertionError(f"no {key} in {path}")


def test_validate_refuses_what_the_task_refuses(cli, tmp_path: Path) -> None:
    path = dag(tmp_path, start_block=0, end_block=MAX_BLOCK_NUMBER + 1, partition_size=2560)
    done = cli("validate", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{path}:{value_at(path, 'end_block')}: error [config.range] end_block: block 4,294,967,296 {PAST_U32} "
        "(hint: write at most 4294967295)"
    ]
    # Without partition_size, the fixed range is the one partition.
    path = dag(tmp_path, start_block=0, end_block=2569)
    done = cli("validate", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{path}:{value_at(path, 'end_block')}: error [config.too-many-files] without partition_size the fixed "
        "range is one partition: 2,570 blocks in chunks of 10 make 257 Parquet files per dataset; at most 256 "
        "are allowed (hint: add a partition_size of at most 2560, or raise chunk_size to at least 11)"
    ]

    job = with_config(start_block=0, end_block=MAX_BLOCK_NUMBER + 1, partition_size=100)
    assert fatal(cli, tmp_path, encoded(task(job=job))) == (
        f"invalid job: config.end_block: [config.range] end_block: block 4,294,967,296 {PAST_U32}"
    )


def test_plan_and_run_refuse_blocks_past_u32(cli, tmp_path: Path) -> None:
    path = dag(tmp_path, partition_size=100)
    blocks = ["--start-block", str(MAX_BLOCK_NUMBER - 99), "--end-block", str(MAX_BLOCK_NUMBER + 100)]
    message = (
        f"blocks 4294967196..4294967395: block 4,294,967,395 {PAST_U32}: end the range at block 4,294,967,295 "
        "or below"
    )
    # The whole range is refused before it is split: four billion blocks would be millions of doomed partitions.
    for command in ("plan", "run"):
        done = cli(command, str(path), "--job", "bounds", *blocks)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", f"cryo-ingest {command}: {message}\n")
    assert not (tmp_path / "cryo-data").exists()

    assert cli("run", str(path), "--job", "bounds", "--start-block", "0", "--end-block", "2.5").returncode == 2
