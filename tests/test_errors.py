"""Failures say why: a failed Cryo chunk gives the node's own reason, a rate limit is retried, a full disk named."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from trace_operators.runtime.runner import BACKOFF_CAP, backoff

from tests.anvil import Node, RpcProxy
from tests.faultproxy import Fault, Request, Reset, Respond

POOL = "testpool"
POOL_VARIABLE = "TRACE_RPC_POOL_TESTPOOL_URL"
USERINFO, SECRET_PATH = "alice:pw-s3cret", "/v2/PATHKEY123?apikey=QUERYKEY456"
#: What Cryo makes of an answer with no body (an HTTP 503 or 429 from a proxy or a load balancer).
NO_BODY = "Deserialization Error: EOF while parsing a value at line 1 column 0. Response: (1x)"
STAGING_HINT = "free space there or set TRACE_CRYO_STAGING_DIR to a larger one"


def job(**config: Any) -> dict[str, Any]:
    return {
        "name": "errors",
        "operator": "cryo_ingest",
        "max_attempts": 3,
        "scaling": {"max_concurrency": 2},
        "config": {"chain_id": 10143, "datasets": ["blocks"], "rpc_pool": POOL, "chunk_size": 5, **config},
        "outputs": len(config.get("datasets", ["blocks"])),
    }


def task(end: int = 9, **config: Any) -> str:
    return json.dumps({"task_id": "t-0001", "attempt": 1, "job": job(**config), "partition": {"start": 0, "end": end}})


def block_call(request: Request, number: int) -> dict[str, Any] | None:
    """The call of Cryo's `request` asking for block `number`, if it has one."""
    # Only Cryo's: the operator's own checks (Python's urllib) read the same blocks, and they are not under test.
    if (request.header("User-Agent") or "").startswith("Python-urllib"):
        return None
    for call in request.calls:
        params = call.get("params") or []
        if call["method"] == "eth_getBlockByNumber" and params and int(params[0], 16) == number:
            return call
    return None


def fault_on_block(proxy: RpcProxy, number: int, fault: Any, times: int | None = None) -> list[int]:
    """Answer Cryo's `eth_getBlockByNumber` of block `number` with `fault`, `times` times or always; served count."""
    served = [0]

    def rule(request: Request) -> Fault | None:
        call = block_call(request, number)
        if call is None or (times is not None and served[0] >= times):
            return None
        served[0] += 1
        return fault(call) if callable(fault) else fault

    proxy.rules.insert(0, rule)  # first: the proxy's own rules rewrite every answer, and the first fault decides
    return served


def rpc_error(message: str, code: int = -32000, status: int = 200) -> Any:
    """A JSON-RPC error answer with `code` and `message`, under HTTP `status`."""

    def answer(call: dict[str, Any]) -> Respond:
        body = {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": code, "message": message}}
        return Respond(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    return answer


def run_cryo_task(cli, url: str, text: str) -> tuple[int, dict[str, Any], str]:
    done = cli("task", "-", "--extractor", "cryo", input=text, extra_env={POOL_VARIABLE: url})
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- (a) the node's own reason ---


@pytest.mark.parametrize(
    "fault, reason",
    [
        (
            rpc_error("block 3 is pruned on this node"),
            "(code: -32000, message: block 3 is pruned on this node, data: None) (1x)",
        ),
        (
            Respond(503, b"<html>\n<body>\nService Unavailable\n</body>\n</html>\n", {"Content-Type": "text/html"}),
            "Deserialization Error: expected value at line 1 column 1. Response: <html> <body> Service Unavailable "
            "</body> </html> (1x)",
        ),
        (Respond(503), NO_BODY),
        # Cryo's reason names the URL it asked: the task path redacts the endpoint's path and query from it.
        (
            Reset(None, forward=False),
            "error sending request for url (http://127.0.0.1:{port}/v2/<redacted>?apikey=<redacted>): connection "
            "error: Connection reset by peer (os error 104) (1x)",
        ),
    ],
    ids=["json-rpc-error", "html-503", "empty-503", "reset"],
)
def test_a_failed_chunk_carries_the_nodes_reason_redacted(
    cli, rpc_proxy: RpcProxy, tmp_path: Path, fault: Any, reason: str
) -> None:
    fault_on_block(rpc_proxy, 3, fault)
    code, result, output = run_cryo_task(cli, rpc_proxy.url(USERINFO, SECRET_PATH), task())
    assert (code, result["outcome"], result["datasets_published"]) == (75, "retryable_error", [])
    assert result["error_message"] == (
        f"Cryo failed 1 chunk(s) reading pool {POOL}; missing: blocks 0..4 (blocks); Cryo's errors: "
        f"Failed to get block: {reason.format(port=rpc_proxy.port)}"
    )
    for secret in ("alice", "pw-s3cret", "PATHKEY123", "QUERYKEY456"):
        assert secret not in output
    assert files_under(tmp_path / "staging") == [] and not list((tmp_path / "cryo-data").rglob("_SUCCESS"))


# --- (b) what Cryo retries, and what the operator retries ---


@pytest.mark.parametrize(
    "fault",
    [
        rpc_error("too many requests", code=429, status=429),
        rpc_error("exceeded project rate limit", code=-32005),
        rpc_error("header not found"),
    ],
    ids=["code-429", "code-32005", "header-not-found"],
)
def test_cryo_itself_retries_rate_limits_it_can_read_and_header_not_found(cli, rpc_proxy: RpcProxy, fault: Any) -> None:
    """Cryo's retries go by the JSON-RPC error's code or message, whatever the HTTP status: within one attempt."""
    served = fault_on_block(rpc_proxy, 3, fault, times=2)
    code, result, _ = run_cryo_task(cli, rpc_proxy.url(), task(max_retries=3, initial_backoff_ms=10))
    assert (code, result["outcome"], result["attempt"], served) == (0, "success", 1, [2])


@pytest.mark.parametrize(
    "fault, reason",
    [
        (Respond(429), NO_BODY),
        (rpc_error("too many requests", status=429), "(code: -32000, message: too many requests, data: None) (1x)"),
    ],
    ids=["empty", "other-code"],
)
def test_a_429_cryo_cannot_read_fails_the_chunk_and_the_task_as_retryable(
    cli, rpc_proxy: RpcProxy, fault: Any, reason: str
) -> None:
    """Cryo does not retry it, even with retries to spare: the task fails as retryable, for the dispatcher to retry."""
    served = fault_on_block(rpc_proxy, 3, fault, times=1)
    code, result, _ = run_cryo_task(cli, rpc_proxy.url(), task(max_retries=3, initial_backoff_ms=10))
    assert (code, result["outcome"], served) == (75, "retryable_error", [1])
    assert result["error_message"] == (
        f"Cryo failed 1 chunk(s) reading pool {POOL}; missing: blocks 0..4 (blocks); Cryo's errors: "
        f"Failed to get block: {reason}"
    )


def test_the_runner_retries_empty_429s_with_backoff_until_the_run_succeeds(
    cli, rpc_proxy: RpcProxy, tmp_path: Path
) -> None:
    served = fault_on_block(rpc_proxy, 13, Respond(429), times=2)
    dag = tmp_path / "dag.yaml"
    dag.write_text(json.dumps({"name": "errors", "jobs": [job(start_block=0, end_block=49, partition_size=25)]}))
    done = cli("run", str(dag), "--job", "errors", "--extractor", "cryo", extra_env={POOL_VARIABLE: rpc_proxy.url()})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("2/2 partitions published, 50 blocks, 50 rows, ")
    assert served == [2]
    failed = (
        f"Cryo failed 1 chunk(s) reading pool {POOL}; missing: blocks 10..14 (blocks); Cryo's errors: "
        f"Failed to get block: {NO_BODY}"
    )
    retries = [line for line in done.stderr.splitlines() if line.startswith("INFO retrying")]
    assert [re.sub(r" in \d+\.\d s: ", " in … s: ", line) for line in retries] == [
        f"INFO retrying errors-0-24 in … s: {failed}"
    ] * 2
    published = sorted(p.parent.parent.name for p in (tmp_path / "cryo-data").rglob("_SUCCESS"))
    assert published == ["0_24", "25_49"]


def test_the_runners_backoff_has_full_jitter() -> None:
    for attempt, most in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, BACKOFF_CAP), (60, BACKOFF_CAP)):
        delays = [backoff(attempt) for _ in range(100)]
        assert all(0.0 <= delay <= most for delay in delays), attempt
        assert len(set(delays)) > 90, attempt  # spread over the whole interval, not one value


# --- (c) a full disk ---


@contextmanager
def tiny_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where`: a disk that really fills. Mounting one needs root, as CI runs."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(
            f"cannot mount a {size} tmpfs at {where} (uid {os.geteuid()}): {mounted.stderr.strip()}; "
            "these tests fill a real filesystem and run as root, as CI does",
            pytrace=False,
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=True)


def test_a_full_disk_under_the_stub_names_the_staging_path(cli, tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "tiny", "1m") as tiny:
        staging = tiny / "staging"
        text = task(9999, datasets=["blocks", "transactions", "logs", "traces"], chunk_size=1000)
        done = cli("task", "-", input=text, extra_env={"TRACE_CRYO_STAGING_DIR": str(staging)})
        assert done.returncode == 75, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert (result["outcome"], result["datasets_published"]) == ("retryable_error", [])
        file = rf"{re.escape(str(staging))}/t-0001/1/\d+-\w{{8}}/10143__[a-z]+__\d{{8}}_to_\d{{8}}\.parquet"
        assert re.fullmatch(
            rf"no space left on the staging filesystem, writing {file}: {STAGING_HINT} "
            r"\(Error writing bytes to file\. Detail: \[errno 28\] No space left on device\)",
            result["error_message"],
        ), result["error_message"]
        assert files_under(staging) == []
    assert not list((tmp_path / "cryo-data").rglob("_SUCCESS"))


def test_a_full_disk_under_cryo_names_the_staging_path(cli_process, anvil: Node, tmp_path: Path) -> None:
    """Cryo says only "error writing file": the staging filesystem, found full, says the rest."""
    # The temporary directory is the full one too, as when staging is on /tmp (the default): what the Cryo
    # child prints must reach the worker without the disk.
    with tiny_filesystem(tmp_path / "tiny", "16k") as tiny:
        staging = tiny / "staging"
        env = {"TRACE_CRYO_STAGING_DIR": str(staging), "TMPDIR": str(tiny), POOL_VARIABLE: anvil.url}
        text = task(anvil.head, datasets=["blocks", "transactions", "logs", "traces"], chunk_size=25)
        done = cli_process("task", "-", "--extractor", "cryo", input=text, extra_env=env)
        assert done.returncode == 75, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert (result["outcome"], result["datasets_published"]) == ("retryable_error", [])
        missing = r"blocks \d+\.\.\d+ \([a-z, ]+\)(; blocks \d+\.\.\d+ \([a-z, ]+\))*"
        assert re.fullmatch(
            rf"no space left on the staging filesystem, writing {re.escape(str(staging))}/t-0001/1/\d+-\w{{8}} "
            rf"\(0 bytes free\): {STAGING_HINT}; Cryo failed \d+ chunk\(s\) reading pool {POOL}; missing: "
            rf"{missing}; Cryo's errors: Collect failed: error writing file \(\d+x\)",
            result["error_message"],
        ), result["error_message"]
        assert files_under(staging) == []
    assert not list((tmp_path / "cryo-data").rglob("_SUCCESS"))


# --- (d) a retry redoes only what failed ---


def test_a_retry_extracts_only_the_datasets_that_failed(cli, rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    """A 503 on one `trace_block`: blocks, transactions and logs are published by the failed attempt, not refetched."""
    served = [0]

    def trace_of_block_3(request: Request) -> Fault | None:
        calls = [c for c in request.calls if c["method"] == "trace_block" and int(c["params"][0], 16) == 3]
        if not calls or served[0]:
            return None
        served[0] += 1
        return Respond(503)

    rpc_proxy.rules.insert(0, trace_of_block_3)
    datasets = ["blocks", "transactions", "logs", "traces"]
    dag = tmp_path / "dag.yaml"
    dag.write_text(json.dumps({"name": "errors", "jobs": [job(datasets=datasets, start_block=0, end_block=9)]}))
    done = cli("run", str(dag), "--job", "errors", "--extractor", "cryo", extra_env={POOL_VARIABLE: rpc_proxy.url()})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("1/1 partitions published, 10 blocks, ")
    retries = [line for line in done.stderr.splitlines() if line.startswith("INFO retrying")]
    assert len(retries) == 1 and "missing: blocks 0..4 (traces)" in retries[0], done.stderr
    cryo = Counter(
        call["method"]
        for request in list(rpc_proxy.requests)
        if not (request.header("User-Agent") or "").startswith("Python-urllib")
        for call in request.calls
    )
    # One of each for the three datasets published by the failed attempt; trace_block twice over.
    assert dict(cryo) == {
        "eth_chainId": 2,
        "eth_getBlockByNumber": 10,
        "eth_getBlockReceipts": 10,
        "eth_getLogs": 10,
        "trace_block": 20,
    }
    clean = cli(
        "run",
        str(dag),
        "--job",
        "errors",
        "--extractor",
        "cryo",
        "--store",
        str(tmp_path / "clean"),
        extra_env={POOL_VARIABLE: rpc_proxy.url()},
    )
    assert clean.returncode == 0, clean.stderr
    assert digests(tmp_path / "cryo-data") == digests(tmp_path / "clean") != {}


def digests(store: Path) -> dict[str, str]:
    """SHA-256 of every published object, by its key."""
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files_under(store)}
