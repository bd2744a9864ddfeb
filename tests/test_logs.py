"""Logs an operator can use: one JSON event per partition outcome and per retry, UTC times, secrets redacted."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from trace_operators.runtime import logs

from tests.conftest import ROOT
from tests.test_progress import blocked, dag, prefix_of

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def events(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr as JSON, its time checked and taken out, its seconds checked and taken out."""
    found = []
    for line in stderr.splitlines():
        entry = json.loads(line)
        assert TIME.fullmatch(entry.pop("time")), line
        if "seconds" in entry:
            assert isinstance(entry.pop("seconds"), float), line
        found.append(entry)
    return sorted(found, key=lambda e: (e.get("task_id", ""), e.get("attempt", 0), e["level"]))


def fields(task: str, attempt: int, outcome: str, **more: Any) -> dict[str, Any]:
    first, last = (int(n) for n in task.split("-"))
    return {
        "job": "p7",
        "task_id": f"p7-{task}",
        "partition": task,
        "start": first,
        "end": last,
        "attempt": attempt,
        "outcome": outcome,
        "datasets": [],
        "rows": 0,
        "bytes": 0,
        **more,
    }


def test_times_are_iso_8601_in_utc_to_the_millisecond() -> None:
    assert logs.utc_time(0.1234) == "1970-01-01T00:00:00.123Z"
    assert logs.utc_time(1_796_212_800.5) == "2026-12-02T12:00:00.500Z"


def test_a_successful_run_logs_one_event_per_partition(cli, tmp_path: Path) -> None:
    path = dag(tmp_path, 1999)
    done = cli("run", str(path), "--job", "p7", "--log-format", "json", check=True)
    sizes = {
        p.parent.parent.name: sum(f["bytes"] for f in json.loads(p.read_text())["files"])
        for p in (tmp_path / "cryo-data").rglob("_SUCCESS")
    }
    found = events(done.stderr)
    for entry in found:
        assert re.fullmatch(
            r"published p7-\d+-\d+: 1,000 blocks, 1,000 rows, 0\.\d MB in \d+\.\d\d s", entry.pop("message")
        )
    assert found == [
        {
            "level": "info",
            "logger": "cryo_ingest",
            **fields(key, 1, "published", datasets=["blocks"], rows=1000, bytes=sizes[folder]),
        }
        for key, folder in (("0-999", "0_999"), ("1000-1999", "1000_1999"))
    ]

    section = re.search(r"^## Running partitions\n(.*?)^## ", (ROOT / "README.md").read_text(), re.S | re.M)
    example = json.loads(re.search(r"```json\n(\{\"time.*?)\n```", section[1], re.S)[1])  # type: ignore[index]
    assert list(example) == list(json.loads(done.stderr.splitlines()[0]))  # the README shows every field

    again = cli("run", str(path), "--job", "p7", "--log-format", "json", check=True)
    assert [(e["outcome"], e["message"], e["datasets"], e["rows"]) for e in events(again.stderr)] == [
        ("reused", f"reused p7-{key}: every dataset was already published", ["blocks"], 1000)
        for key in ("0-999", "1000-1999")
    ]


def test_a_retry_and_the_failure_after_it_are_events(cli, tmp_path: Path) -> None:
    path = dag(tmp_path, 999)
    config = json.loads(path.read_text())
    config["jobs"][0]["max_attempts"] = 2
    path.write_text(json.dumps(config))
    prefix = prefix_of(cli, path, "0-999")
    blocked(tmp_path / "cryo-data", prefix)
    done = cli("run", str(path), "--job", "p7", "--log-format", "json")
    assert done.returncode == 1, done.stderr
    error = f"local store put '{prefix}10143__blocks__00000000_to_00000099.parquet' failed: File exists"
    found = events(done.stderr)
    retry = next(e for e in found if e.get("outcome") == "retrying")
    assert re.fullmatch(rf"retrying p7-0-999 in \d+\.\d s: {re.escape(error)}", retry.pop("message"))
    assert retry == {"level": "info", "logger": "cryo_ingest", **fields("0-999", 1, "retrying")}
    assert [e for e in found if "outcome" not in e] == [  # the task path's own line for each failed attempt
        {"level": "warning", "logger": "cryo_ingest", "message": f"task p7-0-999 failed: {error}"}
    ] * 2
    [failed] = [e for e in found if e.get("outcome") == "failed-retryable"]
    assert failed == {
        "level": "error",
        "logger": "cryo_ingest",
        "message": f"failed p7-0-999 (retryable, attempt 2): {error}",
        **fields("0-999", 2, "failed-retryable"),
    }


def test_a_fatal_failure_is_an_event(cli, tmp_path: Path) -> None:
    """A partition key that makes the task id too long: the runner's own check, fatal at once."""
    key = "k" * 126
    requests = tmp_path / "events.jsonl"
    requests.write_text(json.dumps({"partition_key": key, "start": 0, "end": 99}) + "\n")
    done = cli("run", str(dag(tmp_path, 999)), "--job", "p7", "--events", str(requests), "--log-format", "json")
    assert done.returncode == 1
    [*_, failed] = events(done.stderr)
    message = failed.pop("message")
    assert message.startswith(f"failed p7-{key} (fatal): task_id must be 1 to 128 characters")
    assert failed == {
        "level": "error",
        "logger": "cryo_ingest",
        "job": "p7",
        "task_id": f"p7-{key}",
        "partition": key,
        "start": 0,
        "end": 99,
        "attempt": 1,
        "outcome": "failed-fatal",
        "datasets": [],
        "rows": 0,
        "bytes": 0,
    }


def test_text_logs_keep_human_lines(cli, tmp_path: Path) -> None:
    done = cli("run", str(dag(tmp_path, 999)), "--job", "p7", check=True)
    assert re.fullmatch(r"INFO published p7-0-999: 1,000 blocks, 1,000 rows, 0\.\d MB in \d+\.\d\d s\n", done.stderr)


def test_every_field_of_an_event_is_redacted(capsys) -> None:
    secret = "http://user:pa55word@10.0.0.1:8545/v2/" + "Ab3" * 8
    logger = logs.configure("cryo_ingest", "json", secrets=[secret])
    logs.event(
        logger, logging.ERROR, f"failed at {secret}", {"task_id": secret, "datasets": [secret, "blocks"], "rows": 7}
    )
    entry = json.loads(capsys.readouterr().err)
    assert "pa55word" not in json.dumps(entry) and "Ab3Ab3" not in json.dumps(entry)
    assert entry["message"].startswith("failed at ") and entry["datasets"][1] == "blocks" and entry["rows"] == 7
    assert entry["task_id"] != secret and entry["datasets"][0] != secret
