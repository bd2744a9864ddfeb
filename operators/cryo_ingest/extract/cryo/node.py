"""The endpoint, checked over plain JSON-RPC before Cryo reads it: its chain, its head, its trace methods."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

from cryo_ingest.job.datasets import NEEDS, PROBES
from cryo_ingest.job.endpoints import Endpoint
from trace_operators.contract import FatalError, Partition, RetryableError

#: Seconds for each JSON-RPC call.
RPC_TIMEOUT = 10.0

_log = logging.getLogger(__name__)

#: A JSON-RPC error that means the node lacks a method or a tracer (not that a call failed).
_MISSING = re.compile(
    r"\b(method|tracer)\b.*\b(not found|does not exist|not available|not supported|unsupported)", re.I
)
#: Error codes a node refuses a whole batch with. Each call in it is valid, so only the batch can be at fault:
#: geth answers -32600 "batch too large" past its limit, a node that reads single calls only -32600 or -32700.
_REFUSAL_CODES = frozenset((-32600, -32700))
#: What a node says when the batch, or its answer, is more than it takes (geth's -32003 "response too large").
_REFUSAL = re.compile(r"\bbatch|too large", re.I)
#: HTTP statuses a gateway refuses a request's shape or size with (not the node's state: 429 and 5xx pass).
_REFUSAL_STATUSES = frozenset((400, 413))


class NodeError(Exception):
    """The node answered a JSON-RPC error object."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def missing_method(self) -> bool:
        """Whether the error says the node lacks the method or tracer, rather than that the call failed."""
        return self.code == -32601 or bool(_MISSING.search(str(self)))

    @property
    def refuses_batch(self) -> bool:
        """Whether the error refuses the batch the call came in, or says it was too large."""
        return self.code in _REFUSAL_CODES or bool(_REFUSAL.search(str(self)))

    @property
    def reason(self) -> str:
        """The message, after the code when there is one."""
        return str(self) if self.code is None else f"{self.code}: {self}"


class BatchRefused(Exception):
    """The node refused a JSON-RPC batch as a whole, or said it was too large: a smaller one may pass."""


class HttpStatusError(RetryableError):
    """The node answered with an HTTP error status and no JSON-RPC error."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Node:
    """What one endpoint serves, asked once and kept for the life of the process."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._chain_id: int | None = None
        self._head = -1
        #: The probes (method and parameters, as JSON) the node answered without "no such method".
        self._served: set[str] = set()
        #: The most calls the node took in one batch, once it has refused a larger one.
        self._batch = sys.maxsize
        # Partitions run in threads: one asks while the others wait for its answer.
        self._lock = threading.Lock()

    def check_chain_id(self, chain_id: int) -> None:
        """Fatal when the endpoint serves another chain; retryable when it cannot be asked."""
        with self._lock:
            if self._chain_id is None:
                self._chain_id = self._quantity("eth_chainId")
            served = self._chain_id
        if served != chain_id:
            raise FatalError(f"pool {self.endpoint.pool} serves chain {served}, not chain {chain_id} of this job")

    def check_head(self, partition: Partition) -> None:
        """Retryable when the range reaches past the chain head: the chain may grow, so the head is asked again."""
        with self._lock:
            if partition.end > self._head:
                self._head = self._quantity("eth_blockNumber")
            head = self._head
        if partition.end > head:
            raise RetryableError(
                f"blocks {max(partition.start, head + 1)}..{partition.end} are past the chain head {head} "
                f"of pool {self.endpoint.pool}"
            )

    def check_methods(self, datasets: Iterable[str], block: int) -> None:
        """Fatal when the node lacks a trace method or tracer a dataset needs (one probe per call shape)."""
        needing: dict[str, list[str]] = {}
        for dataset in datasets:
            if dataset in PROBES:
                needing.setdefault(json.dumps(PROBES[dataset]), []).append(dataset)
        with self._lock:
            for shape, names in needing.items():
                if shape not in self._served:
                    self._probe(shape, names, block)

    def _probe(self, shape: str, names: list[str], block: int) -> None:
        method, params = json.loads(shape)
        try:
            rpc_call(self.endpoint, method, hex(block), *params)
        except NodeError as error:
            if error.missing_method:
                raise FatalError(
                    f"pool {self.endpoint.pool} does not serve {method} as {', '.join(names)} need: "
                    f"{NEEDS[names[0]]} ({error})"
                ) from None
            # Any other error is Cryo's to meet: the probe asks only whether the method exists.
        self._served.add(shape)

    def call_each(self, method: str, params: Sequence[Sequence[Any]]) -> list[Any]:
        """`method` once per parameter list, in batches as large as the node takes; the results in order.

        A refused batch is asked again in halves, down to single calls, and the size that passed is kept for
        the process. `NodeError` and `RetryableError` as `rpc_batch`.
        """
        results: list[Any] = []
        while len(results) < len(params):
            size = self._batch
            calls = params[len(results) : len(results) + size]
            if len(calls) == 1:
                results.append(rpc_call(self.endpoint, method, *calls[0]))
                continue
            try:
                results += rpc_batch(self.endpoint, method, calls)
            except BatchRefused as refused:
                self._halve(len(calls), method, refused)
        return results

    def _halve(self, refused_size: int, method: str, refused: BatchRefused) -> None:
        size = refused_size // 2
        with self._lock:
            if size >= self._batch:
                return  # another partition's thread learned as much already
            self._batch = size
        _log.warning(
            "pool %s refused a JSON-RPC batch of %d %s calls (%s); asking %s at a time from now on",
            self.endpoint.pool,
            refused_size,
            method,
            refused,
            size if size > 1 else "one call",
        )

    def _quantity(self, method: str) -> int:
        """The hex number a parameterless method answers; any failure is retryable."""
        pool = self.endpoint.pool
        try:
            return int(rpc_call(self.endpoint, method), 16)
        except NodeError as error:
            raise RetryableError(f"pool {pool} answered {method} with an error: {error}") from None
        except (TypeError, ValueError):
            raise RetryableError(f"pool {pool} answered {method} with something that is not a number") from None


def rpc_call(endpoint: Endpoint, method: str, *params: Any) -> Any:
    """One JSON-RPC call; `NodeError` for an error answer, `RetryableError` naming the pool otherwise."""
    return _result(endpoint, method, _exchange(endpoint, method, _call(0, method, params)))


def rpc_batch(endpoint: Endpoint, method: str, params: Sequence[Sequence[Any]]) -> list[Any]:
    """Calls of `method`, one per parameter list, in one POST (a JSON-RPC batch); their results in order.

    `BatchRefused` when the node refuses the batch or says it is too large, `NodeError` for the first other error
    answer, `RetryableError` naming the pool for anything else amiss.
    """
    try:
        answer = _exchange(endpoint, method, [_call(i, method, p) for i, p in enumerate(params)])
    except HttpStatusError as error:
        if error.status in _REFUSAL_STATUSES:
            raise BatchRefused(f"HTTP {error.status}") from None
        raise
    if not isinstance(answer, list):
        # A node refusing the batch as a whole answers one error object.
        _check_refusal([answer])
        _result(endpoint, method, answer)
        raise RetryableError(f"pool {endpoint.pool} answered a batch of {method} with something that is not a list")
    by_id = {one.get("id"): one for one in answer if isinstance(one, dict)}
    if any(i not in by_id for i in range(len(params))):
        raise RetryableError(
            f"pool {endpoint.pool} answered a batch of {len(params)} {method} calls without an answer to each"
        )
    _check_refusal(answer)
    return [_result(endpoint, method, by_id[i]) for i in range(len(params))]


def _check_refusal(answers: Sequence[Any]) -> None:
    """`BatchRefused` when one of `answers` is an error refusing the batch it was part of, or the batch as a whole."""
    for answer in answers:
        error = _error(answer)
        if error is not None and error.refuses_batch:
            raise BatchRefused(error.reason)


def _call(id_: int, method: str, params: Sequence[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}


def _exchange(endpoint: Endpoint, method: str, payload: Any) -> Any:
    """POST `payload` as JSON; the parsed answer, or the JSON-RPC error some nodes send with an HTTP error status."""
    try:
        return json.loads(_post(endpoint.url, json.dumps(payload).encode()))
    except urllib.error.HTTPError as error:
        answer = _error_body(error)
        if answer is None:
            message = f"pool {endpoint.pool} answered {method} with HTTP {error.code}"
            raise HttpStatusError(message, error.code) from None
        return answer
    except (OSError, ValueError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise RetryableError(f"pool {endpoint.pool} did not answer {method}: {reason}") from None


def _result(endpoint: Endpoint, method: str, answer: Any) -> Any:
    """The result of one answer object; `NodeError` for an error object, `RetryableError` for anything else."""
    error = _error(answer)
    if error is not None:
        raise error
    if not isinstance(answer, dict) or "result" not in answer:
        raise RetryableError(f"pool {endpoint.pool} answered {method} with something that is not JSON-RPC")
    return answer["result"]


def _error(answer: Any) -> NodeError | None:
    """The error of an answer object that is a JSON-RPC error, else None."""
    fault = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(fault, dict):
        return None
    code = fault.get("code")
    return NodeError(code if type(code) is int else None, str(fault.get("message", "")))


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
        data: bytes = response.read()
        return data


def _error_body(error: urllib.error.HTTPError) -> dict[str, Any] | None:
    """The JSON-RPC error some nodes send with an HTTP error status, if that is what it is."""
    try:
        answer = json.loads(error.read())
    except (OSError, ValueError):
        return None
    return answer if _error(answer) is not None else None
