"""The `cryo` extractor: the Rust engine of the `cryo` wheel, run in a child process.

Before Cryo sees anything, the parent checks the range and the options, that the endpoint serves
the job's chain, that the range is not past the head, and that the node has the trace methods the
datasets need. The child then runs `cryo.freeze` under a memory limit, killed on cancellation or at
the deadline. Cryo reports failed chunks only as a count and its Python binding drops the cause of
an error ("failed"), so the parent names failed block ranges from the chunk files that are missing.
Every message that may carry text from the node or from Cryo is redacted of the endpoint's secrets.
"""

from __future__ import annotations

import base64
import http.client
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace_operators.contract import Cancelled, FatalError, Partition, RetryableError, TaskContext
from trace_operators.planning import split_range
from trace_operators.secrets import redact_text

from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.extract.cryo.child_main import COUNTS, URL_VARIABLE
from cryo_ingest.job.datasets import CANONICAL, NEEDS, PROBES, STATUS_SINCE
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.job.options import OutputOptions, Throughput
from cryo_ingest.publish.versions import chunk_file_name

#: Address-space limit of the child (RLIMIT_AS): a bad request fails there, not on the worker.
MEMORY_LIMIT = 4 * 1024**3
#: Bounds on one partition, far above what a job may ask for (SPEC §3 allows 256 files).
MAX_BLOCKS = 10_000_000
MAX_CHUNKS = 10_000
#: Seconds for each JSON-RPC check made before extraction.
RPC_TIMEOUT = 10.0
#: Seconds between heartbeats while the child runs.
POLL_SECONDS = 0.5
#: How much of the child's stderr an error message keeps.
STDERR_LINES = 5
STDERR_CHARS = 1000

#: `u256_types` Cryo 0.3.2 writes for any value: `u32` and `u64` panic on overflow, `decimal128`
#: is not implemented.
U256_TYPES = ("binary", "string", "f32", "f64")
#: Codecs without a level, and codecs with (lowest, highest, default when none is given): Cryo
#: rejects zstd, gzip and brotli without a level.
PLAIN_CODECS = ("lz4", "snappy", "uncompressed")
LEVELLED_CODECS = {"zstd": (1, 22, 3), "gzip": (0, 10, 6), "brotli": (0, 11, 1)}

#: A JSON-RPC error that means the node lacks a method or a tracer (not that a call failed).
_MISSING = re.compile(
    r"\b(method|tracer)\b.*\b(not found|does not exist|not available|not supported|unsupported)", re.I
)


class NodeError(Exception):
    """The node answered a JSON-RPC error object."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def missing_method(self) -> bool:
        return self.code == -32601 or bool(_MISSING.search(str(self)))


class CryoExtractor:
    """Extracts with Cryo from the endpoint of the job's `rpc_pool`."""

    name = "cryo"

    def __init__(self, memory_limit: int = MEMORY_LIMIT) -> None:
        self.version = cryo_version()
        self.memory_limit = memory_limit

    def extract(self, request: ExtractRequest, ctx: TaskContext) -> dict[str, list[Path]]:
        check_datasets(request.chain_id, request.datasets)
        chunks = plan_chunks(request.start, request.end, request.chunk_size)
        runs = cryo_runs(request)
        endpoint = request.endpoint
        if endpoint is None:
            raise FatalError("the cryo extractor needs the RPC endpoint of the job's rpc_pool; none was resolved")
        check_receipt_status(request)
        check_chain_id(endpoint, request.chain_id)
        check_head(endpoint, request.start, request.end)
        check_methods(endpoint, request.datasets, request.start)
        ctx.checkpoint()
        request.out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        result = run_child(runs, endpoint, request.out_dir, ctx, self.memory_limit)
        return collect_files(request, chunks, result)


def cryo_version() -> str:
    """The installed cryo version, read without importing its Rust engine."""
    try:
        return importlib.metadata.version("cryo")
    except importlib.metadata.PackageNotFoundError:
        raise FatalError("the cryo extractor needs the cryo package: pip install 'cryo-ingest[cryo]'") from None


# --- the range and the options, checked before Cryo sees them ---


def check_datasets(chain_id: int, datasets: tuple[str, ...]) -> None:
    """Fatal unless the chain id is one and the datasets are distinct canonical names: each must write its own files."""
    if type(chain_id) is not int or chain_id < 1:
        raise FatalError(f"chain_id must be an integer of at least 1, not {chain_id!r}")
    unknown = [name for name in datasets if name not in CANONICAL]
    if unknown or not datasets or len(set(datasets)) < len(datasets):
        raise FatalError(f"datasets must be distinct names of {', '.join(CANONICAL)}; got {list(datasets)}")


def plan_chunks(start: int, end: int, chunk_size: int) -> list[Partition]:
    """Inclusive chunks of `chunk_size` blocks from `start`, as Cryo cuts `start:end+1`."""
    for name, value in (("start", start), ("end", end), ("chunk_size", chunk_size)):
        if type(value) is not int:
            raise FatalError(f"{name} must be an integer, not {value!r}")
    if not 0 <= start <= end:
        raise FatalError(f"blocks {start}..{end} are not a range: need 0 <= start <= end")
    if chunk_size < 1:
        raise FatalError(f"chunk_size must be at least 1, not {chunk_size}")
    blocks = end - start + 1
    if blocks > MAX_BLOCKS or -(-blocks // chunk_size) > MAX_CHUNKS:
        raise FatalError(
            f"blocks {start}..{end} in chunks of {chunk_size} exceed one partition's bounds "
            f"({MAX_BLOCKS:,} blocks, {MAX_CHUNKS:,} files)"
        )
    return split_range(Partition(start, end), chunk_size)


def cryo_runs(request: ExtractRequest) -> list[dict[str, Any]]:
    """One `cryo.freeze` call per group of datasets sharing their column options.

    Cryo applies `include_columns` and `exclude_columns` to every dataset of a call, so datasets
    with different lists need calls of their own.
    """
    common = {
        "blocks": [f"{request.start}:{request.end + 1}"],
        "chunk_size": request.chunk_size,
        "output_dir": str(request.out_dir),
        "network_name": str(request.chain_id),
        "verbose": False,
        "no_report": True,  # a report would write the RPC URL to disk
        **output_kwargs(request.output),
        **throughput_kwargs(request.throughput),
    }
    output = request.output
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for dataset in request.datasets:
        key = (tuple(output.include_columns.get(dataset, ())), tuple(output.exclude_columns.get(dataset, ())))
        groups.setdefault(key, []).append(dataset)
    return [
        {
            "datasets": datasets,
            "kwargs": {**common, "include_columns": list(include) or None, "exclude_columns": list(exclude) or None},
        }
        for (include, exclude), datasets in groups.items()
    ]


def output_kwargs(output: OutputOptions) -> dict[str, Any]:
    """Cryo's keyword arguments for the options that change the bytes written."""
    kwargs: dict[str, Any] = {
        "hex": output.hex,
        "compression": compression_arg(output.compression, output.compression_level),
    }
    if output.u256_types is not None:
        if not output.u256_types or not set(output.u256_types) <= set(U256_TYPES):
            raise FatalError(
                f"u256_types must be a non-empty list of {', '.join(U256_TYPES)}; " f"got {list(output.u256_types)}"
            )
        kwargs["u256_types"] = list(output.u256_types)
    if output.row_group_size is not None:
        kwargs["row_group_size"] = _positive("row_group_size", output.row_group_size)
    return kwargs


def compression_arg(codec: str, level: int | None) -> list[str]:
    """`zstd`, 3 -> `["zstd", "3"]`, the list form Cryo takes; a levelled codec always gets a level."""
    if codec in PLAIN_CODECS and level is None:
        return [codec]
    if codec in LEVELLED_CODECS:
        lowest, highest, default = LEVELLED_CODECS[codec]
        level = default if level is None else level
        if type(level) is int and lowest <= level <= highest:
            return [codec, str(level)]
        raise FatalError(f"{codec} compression takes a level from {lowest} to {highest}, not {level!r}")
    raise FatalError(
        f"compression {codec!r}{'' if level is None else f' level {level}'} is not one Cryo writes: "
        f"use {', '.join(PLAIN_CODECS)} or {', '.join(LEVELLED_CODECS)} with an optional level"
    )


#: Each `Throughput` field and Cryo's keyword for it.
THROUGHPUT_KWARGS = {
    "requests_per_second": "requests_per_second",
    "max_concurrent_requests": "max_concurrent_requests",
    "max_concurrent_chunks": "max_concurrent_chunks",
    "max_retries": "max_retries",
    "initial_backoff_ms": "initial_backoff",
    "inner_request_size": "inner_request_size",
}


def throughput_kwargs(throughput: Throughput) -> dict[str, Any]:
    """Cryo's keyword arguments for the options that change only how fast it reads."""
    return {
        cryos: _positive(ours, value, allow_zero=ours in ("max_retries", "initial_backoff_ms"))
        for ours, cryos in THROUGHPUT_KWARGS.items()
        if (value := getattr(throughput, ours)) is not None
    }


def _positive(name: str, value: Any, allow_zero: bool = False) -> int:
    if type(value) is not int or value < (0 if allow_zero else 1):
        raise FatalError(f"{name} must be an integer of at least {0 if allow_zero else 1}, not {value!r}")
    return value


def check_receipt_status(request: ExtractRequest) -> None:
    """Refuse `transactions` with the `success` column where the chain's receipts have no status."""
    since = STATUS_SINCE.get(request.chain_id)
    if (
        since is None
        or request.start >= since
        or "transactions" not in request.datasets
        or "success" in request.output.exclude_columns.get("transactions", ())
    ):
        return
    raise FatalError(
        f"receipts of chain {request.chain_id} before block {since:,} carry no status, so Cryo fails every "
        f"transactions chunk of blocks {request.start}..{min(request.end, since - 1)} that has the success "
        "column: add exclude_columns: {transactions: [success]}"
    )


# --- the endpoint, checked over plain JSON-RPC ---


# What an endpoint was found to serve holds for the life of the process: a worker running many
# partitions asks once, not once a partition.
_CHAINS: dict[Endpoint, int] = {}
_HEADS: dict[Endpoint, int] = {}
_METHODS: set[tuple[Endpoint, str]] = set()


def check_chain_id(endpoint: Endpoint, chain_id: int) -> None:
    """Fatal when the endpoint serves another chain; retryable when it cannot be asked."""
    served = _CHAINS.get(endpoint)
    if served is None:
        served = _CHAINS[endpoint] = _quantity(endpoint, "eth_chainId")
    if served != chain_id:
        raise FatalError(f"pool {endpoint.pool} serves chain {served}, not chain {chain_id} of this job")


def check_head(endpoint: Endpoint, start: int, end: int) -> None:
    """Retryable when the range reaches past the chain head: the chain may grow (so a head is asked again)."""
    head = _HEADS.get(endpoint, -1)
    if end > head:
        head = _HEADS[endpoint] = _quantity(endpoint, "eth_blockNumber")
    if end > head:
        raise RetryableError(
            f"blocks {max(start, head + 1)}..{end} are past the chain head {head} of pool {endpoint.pool}"
        )


def _quantity(endpoint: Endpoint, method: str) -> int:
    """The hex number a parameterless method answers; any failure is retryable."""
    try:
        return int(rpc_call(endpoint, method), 16)
    except NodeError as error:
        raise RetryableError(f"pool {endpoint.pool} answered {method} with an error: {error}") from None
    except (TypeError, ValueError):
        raise RetryableError(f"pool {endpoint.pool} answered {method} with something that is not a number") from None


def check_methods(endpoint: Endpoint, datasets: Iterable[str], block: int) -> None:
    """Fatal when the node lacks a trace method or tracer a dataset needs (one probe per call shape)."""
    needing: dict[str, list[str]] = {}
    for dataset in datasets:
        if dataset in PROBES:
            needing.setdefault(json.dumps(PROBES[dataset]), []).append(dataset)
    for shape, names in needing.items():
        if (endpoint, shape) in _METHODS:
            continue
        method, params = json.loads(shape)
        try:
            rpc_call(endpoint, method, hex(block), *params)
            _METHODS.add((endpoint, shape))
        except NodeError as error:
            if error.missing_method:
                raise FatalError(
                    f"pool {endpoint.pool} does not serve {method} as {', '.join(names)} need: "
                    f"{NEEDS[names[0]]} ({redact(str(error), endpoint)})"
                ) from None
            # Any other answer is Cryo's to meet; this probe asks only whether the method exists.


def rpc_call(endpoint: Endpoint, method: str, *params: Any) -> Any:
    """One JSON-RPC call; `NodeError` for an error answer, `RetryableError` naming the pool otherwise."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    try:
        answer = json.loads(_post(endpoint.url, body))
    except urllib.error.HTTPError as error:
        answer = _error_body(error)
        if answer is None:
            raise RetryableError(f"pool {endpoint.pool} answered {method} with HTTP {error.code}") from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise RetryableError(f"pool {endpoint.pool} did not answer {method}: {redact(str(reason), endpoint)}") from None
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        code = error.get("code")
        raise NodeError(code if type(code) is int else None, redact(str(error.get("message", "")), endpoint))
    if not isinstance(answer, dict) or "result" not in answer:
        raise RetryableError(f"pool {endpoint.pool} answered {method} with something that is not JSON-RPC")
    return answer["result"]


def _post(url: str, body: bytes) -> bytes:
    """POST to `url`, sending its user info as Basic authorization (as Cryo does), not in the URL."""
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json"}
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        token = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        url = urllib.parse.urlunsplit(parts._replace(netloc=host))
    request = urllib.request.Request(url, body, headers)
    with urllib.request.urlopen(request, timeout=RPC_TIMEOUT) as response:
        return response.read()


def _error_body(error: urllib.error.HTTPError) -> dict[str, Any] | None:
    """The JSON-RPC error some nodes send with an HTTP error status, if that is what it is."""
    try:
        answer = json.loads(error.read())
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) and isinstance(answer.get("error"), dict) else None


def url_secrets(endpoint: Endpoint) -> list[str]:
    """The parts of the endpoint URL that must not reach a message: user info, path segments, query values."""
    parts = urllib.parse.urlsplit(endpoint.url)
    userinfo = parts.netloc.rpartition("@")[0]
    pieces = [endpoint.url, userinfo, *userinfo.split(":", 1), *parts.path.split("/")]
    pieces += [value for _, value in urllib.parse.parse_qsl(parts.query)]
    pieces += [urllib.parse.unquote(piece) for piece in pieces]
    if userinfo:  # as Cryo sends it, in a Basic authorization header
        pieces.append(base64.b64encode(urllib.parse.unquote(userinfo).encode()).decode())
    # The pool name is public (a gateway URL may carry it as a path segment), and so is an API version.
    return [p for p in dict.fromkeys(pieces) if p and p != endpoint.pool and not re.fullmatch(r"v\d+", p)]


def redact(text: str, endpoint: Endpoint) -> str:
    return redact_text(text, url_secrets(endpoint))


# --- the child process ---


@dataclass(frozen=True)
class ChildResult:
    counts: dict[str, int]
    #: What the child wrote on stderr (Cryo's panics), summarised and redacted.
    said: str


def run_child(
    runs: list[dict[str, Any]], endpoint: Endpoint, out_dir: Path, ctx: TaskContext, memory_limit: int
) -> ChildResult:
    """Run Cryo in a child; its counts, or `RetryableError` with its redacted stderr, or `Cancelled`."""
    request = json.dumps({"memory_limit": memory_limit, "runs": runs}).encode()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRACE_", "AWS_"))}
    # Few malloc arenas: each reserves 64 MiB of address space, which RLIMIT_AS counts.
    env.update({URL_VARIABLE: endpoint.url, "RUST_BACKTRACE": "0", "MALLOC_ARENA_MAX": "2"})
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "cryo_ingest.extract.cryo.child_main"],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            cwd=out_dir,
            env=env,
            start_new_session=True,
        )
        try:
            _send(child, request)
            _wait(child, ctx)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        texts = []
        for file in (stdout, stderr):
            file.seek(0)
            texts.append(file.read().decode(errors="replace"))
        return child_result(child.returncode, *texts, endpoint)


def _send(child: subprocess.Popen[bytes], request: bytes) -> None:
    assert child.stdin is not None
    try:
        child.stdin.write(request)
        child.stdin.close()
    except BrokenPipeError:
        pass  # the child died before reading: its exit status and stderr tell why


def _wait(child: subprocess.Popen[bytes], ctx: TaskContext) -> None:
    """Heartbeat until the child exits; `Cancelled` (the caller kills it) on cancellation or deadline."""
    while True:
        ctx.heartbeat()
        if ctx.cancel.is_set():
            raise Cancelled("the task was cancelled while Cryo ran")
        timeout = POLL_SECONDS
        if ctx.deadline is not None:
            timeout = min(timeout, ctx.deadline - time.monotonic())
            if timeout <= 0:
                raise Cancelled("the task ran past its deadline while Cryo ran")
        try:
            child.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def child_result(returncode: int, stdout: str, stderr: str, endpoint: Endpoint) -> ChildResult:
    """The child's counts line, or `RetryableError` saying how it ended."""
    said = redact(summarise(stderr), endpoint)
    if returncode == 0:
        try:
            counts = json.loads(stdout.strip().splitlines()[-1])
            return ChildResult({key: int(counts[key]) for key in COUNTS}, said)
        except (IndexError, KeyError, TypeError, ValueError):
            pass
    how = f"was killed by {_signal_name(-returncode)}" if returncode < 0 else f"exited with {returncode}"
    if said.endswith("TypeError: failed"):
        said += _NO_CAUSE
    raise RetryableError(f"Cryo, reading pool {endpoint.pool}, {how}: {said or 'no output'}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_NO_CAUSE = (
    " (Cryo's Python binding gives no cause: the node failed a call, or a column of "
    "include_columns or exclude_columns is in none of the datasets)"
)


def summarise(stderr: str) -> str:
    """The last lines of stderr that say something: panics and the exception, not traceback frames."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line[:1].isspace() and not line.startswith(("Traceback ", "note: run with"))
    ]
    return "; ".join(lines[-STDERR_LINES:])[-STDERR_CHARS:]


# --- what Cryo wrote ---


def collect_files(request: ExtractRequest, chunks: list[Partition], result: ChildResult) -> dict[str, list[Path]]:
    """Every chunk file of every dataset, in block order; `RetryableError` naming the missing ranges."""
    files = {
        dataset: [request.out_dir / chunk_file_name(request.chain_id, dataset, c.start, c.end) for c in chunks]
        for dataset in request.datasets
    }
    missing: dict[tuple[int, int], list[str]] = {}
    for dataset, paths in files.items():
        for chunk, path in zip(chunks, paths):
            if not path.is_file():
                missing.setdefault((chunk.start, chunk.end), []).append(dataset)
    n_errored = result.counts["n_errored"]
    if missing or n_errored:
        pool = request.endpoint.pool if request.endpoint else "?"
        ranges = "; ".join(
            f"blocks {first}..{last} ({', '.join(names)})" for (first, last), names in sorted(missing.items())
        )
        said = f"; Cryo said: {result.said}" if result.said else ""
        raise RetryableError(f"Cryo failed {n_errored} chunk(s) reading pool {pool}; missing: {ranges or 'none'}{said}")
    return files
