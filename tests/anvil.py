"""pytest plugin: a real anvil node holding the deterministic test chain, and a JSON-RPC proxy to it.

`anvil` (session) starts the binary from npm and builds `tests/chain.py`'s chain once; `other_anvil`
starts a node of another chain; `rpc_proxy` puts a `tests.faultproxy` proxy in front of `anvil` that
accepts any path and user info and can misbehave on purpose (refuse methods, fail blocks, slow down,
pose as another chain, drop receipt statuses, and whatever rule a test adds). A missing binary fails
the tests: it never skips them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chain import Chain, build_chain, rpc
from tests.faultproxy import Delay, Fault, FaultProxy, Request, Respond, rewrite_answers

ROOT = Path(__file__).resolve().parent.parent
ANVIL_BIN = ROOT / ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
CHAIN_ID = 10143
OTHER_CHAIN_ID = 31337


@dataclass
class Node:
    """A running anvil: its URL, chain id and, for the test chain, what the chain holds."""

    url: str
    chain_id: int
    process: subprocess.Popen[bytes]
    chain: Chain | None = None

    @property
    def head(self) -> int:
        assert self.chain is not None
        return self.chain.head

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def anvil_binary() -> Path:
    """The anvil binary: `$TRACE_ANVIL_BIN` or the npm package's; fails the test when it is missing."""
    binary = Path(os.environ.get("TRACE_ANVIL_BIN") or ANVIL_BIN)
    if not os.access(binary, os.X_OK):
        message = f"anvil is missing at {binary}: run make test to install anvil (or set TRACE_ANVIL_BIN)"
        pytest.fail(message, pytrace=False)
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_anvil(chain_id: int) -> Node:
    """anvil on a free loopback port, mining only when asked, in arrival order, with geth-style step traces."""
    port = free_port()
    command = [
        str(anvil_binary()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--timestamp",
        "1700000000",
        "--silent",
        "--no-mining",
        "--order",
        "fifo",
        "--steps-tracing",
    ]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: nobody reads it while anvil runs
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        node = Node(f"http://127.0.0.1:{port}", chain_id, process)
        for _ in range(200):
            try:
                rpc(node.url, "eth_chainId", timeout=1)
                return node
            except OSError:
                if process.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"anvil exited with {process.returncode}: {log.read().decode()[-500:]}", pytrace=False)
                time.sleep(0.05)
    node.stop()
    pytest.fail("anvil did not answer within 10 s", pytrace=False)


@pytest.fixture(scope="session")
def anvil() -> Iterator[Node]:
    """The test chain (`tests/chain.py`) on anvil, chain id 10143, built once per session."""
    node = start_anvil(CHAIN_ID)
    try:
        node.chain = build_chain(node.url)
        yield node
    finally:
        node.stop()


@pytest.fixture
def other_anvil() -> Iterator[Node]:
    """An empty anvil serving chain 31337."""
    node = start_anvil(OTHER_CHAIN_ID)
    try:
        yield node
    finally:
        node.stop()


class RpcProxy(FaultProxy):
    """A `FaultProxy` in front of a JSON-RPC node, with the faults the extractor's tests name as attributes."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, forward_path=False)
        #: Methods answered with geth's "method does not exist" error.
        self.refuse: set[str] = set()
        #: Block numbers whose `eth_getBlockByNumber` gets an HTTP 503.
        self.fail_blocks: set[int] = set()
        #: Seconds to wait before answering each request.
        self.delay = 0.0
        #: The chain id to answer `eth_chainId` with instead of the node's.
        self.chain_id: int | None = None
        #: Drop `status` from receipts and give the pre-Byzantium `root` instead.
        self.strip_status = False
        self.rules += [self._delayed, self._failed, self._rewritten]

    @property
    def calls(self) -> Counter[str]:
        """JSON-RPC calls received, by method (each call of a batch counts)."""
        return Counter(call["method"] for request in list(self.requests) for call in request.calls)

    @property
    def seen(self) -> set[tuple[str, str | None]]:
        """(path with query, Authorization header) of every request."""
        return {(request.path, request.header("Authorization")) for request in list(self.requests)}

    def _delayed(self, request: Request) -> Fault | None:
        return Delay(self.delay) if self.delay else None

    def _failed(self, request: Request) -> Fault | None:
        for call in request.calls:
            params = call.get("params") or []
            number = params[0] if params and str(params[0]).startswith("0x") else None  # not a tag like "finalized"
            if call["method"] == "eth_getBlockByNumber" and number and int(number, 16) in self.fail_blocks:
                return Respond(503)
        return None

    def _rewritten(self, request: Request) -> Fault | None:
        rewritten = set(self.refuse)
        if self.chain_id is not None:
            rewritten.add("eth_chainId")
        if self.strip_status:
            rewritten.update(("eth_getBlockReceipts", "eth_getTransactionReceipt"))
        # None when nothing here applies, so that a rule a test adds after these gets its turn.
        if not any(call["method"] in rewritten for call in request.calls):
            return None
        return rewrite_answers(request, self._answer)

    def _answer(self, call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        method = call["method"]
        if method in self.refuse:
            message = f"the method {method} does not exist/is not available"
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32601, "message": message}}
        if method == "eth_chainId" and self.chain_id is not None:
            return {**answer, "result": hex(self.chain_id)}
        if self.strip_status and method in ("eth_getBlockReceipts", "eth_getTransactionReceipt"):
            receipts = answer.get("result")
            for receipt in receipts if isinstance(receipts, list) else [receipts] if receipts else []:
                receipt.pop("status", None)
                receipt["root"] = "0x" + "11" * 32
        return answer


@pytest.fixture
def rpc_proxy(anvil: Node) -> Iterator[RpcProxy]:
    """A proxy in front of the test chain's anvil; it behaves until a test tells it otherwise."""
    proxy = RpcProxy(anvil.url)
    try:
        yield proxy
    finally:
        proxy.close()
