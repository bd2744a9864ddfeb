"""The node's block headers of a partition, read in JSON-RPC batches (as large as the node takes) on a thread of
their own while Cryo runs.

`eth_getBlockByNumber(n, false)` gives what the checks compare Cryo's tables with: the block's hash, its
logs bloom and its transactions' hashes. The reads overlap Cryo's, so they cost the task next to nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, TimeoutError
from dataclasses import dataclass
from typing import Any

from cryo_ingest.extract.cryo.node import Node, NodeError
from trace_operators.contract import Partition, RetryableError, TaskContext

#: Blocks a request: one POST of a JSON-RPC batch.
BATCH = 100
#: Seconds between heartbeats while waiting for the headers.
POLL_SECONDS = 0.5
_METHOD = "eth_getBlockByNumber"


@dataclass(frozen=True)
class Header:
    """What the node says of one block."""

    hash: bytes
    #: The 2048-bit logs bloom as an integer: bit i of Ethereum's bloom is `1 << i`.
    bloom: int
    #: The transactions' hashes, 32 bytes each, in block order, as one bytes object: a busy partition has
    #: millions, and one object per hash would cost twice the memory.
    transactions: bytes

    @property
    def transaction_count(self) -> int:
        return len(self.transactions) // 32


def fetch_headers(node: Node, partition: Partition, stop: threading.Event) -> dict[int, Header]:
    """The header of every block of `partition`; `RetryableError` naming the pool for a failed or odd answer."""
    pool = node.endpoint.pool
    headers: dict[int, Header] = {}
    for batch in partition.split(BATCH):
        if stop.is_set():
            break
        numbers = range(batch.start, batch.end + 1)
        try:
            blocks = node.call_each(_METHOD, [[hex(n), False] for n in numbers])
        except NodeError as error:
            raise RetryableError(f"pool {pool} answered {_METHOD} with an error: {error}") from None
        for number, block in zip(numbers, blocks):
            headers[number] = _header(pool, number, block)
    return headers


def _header(pool: str, number: int, block: Any) -> Header:
    if block is None:
        raise RetryableError(f"pool {pool} has no block {number} ({_METHOD} answered null)")
    try:
        answered = int(block["number"], 16)
        transactions = b"".join(_hex(h, 32) for h in block["transactions"])
        header = Header(_hex(block["hash"], 32), int.from_bytes(_hex(block["logsBloom"], 256), "big"), transactions)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RetryableError(f"pool {pool} answered {_METHOD} for block {number} with something not a block") from None
    if answered != number:
        raise RetryableError(f"pool {pool} answered {_METHOD} for block {number} with block {answered}")
    return header


def _hex(text: str, size: int) -> bytes:
    value = bytes.fromhex(text.removeprefix("0x"))
    if len(value) != size:
        raise ValueError(f"{len(value)} bytes, not {size}")
    return value


class HeaderFetch:
    """`fetch_headers` on a daemon thread, started before Cryo and awaited after it; `stop` abandons it."""

    def __init__(self, node: Node, partition: Partition) -> None:
        self._stop = threading.Event()
        self._future: Future[dict[int, Header]] = Future()
        # A daemon: a hung node must not keep the worker from exiting.
        threading.Thread(target=self._run, args=(node, partition), daemon=True, name="node-headers").start()

    def _run(self, node: Node, partition: Partition) -> None:
        try:
            self._future.set_result(fetch_headers(node, partition, self._stop))
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits for the result
            self._future.set_exception(error)

    def result(self, ctx: TaskContext) -> dict[int, Header]:
        """The headers, waiting for them with heartbeats; the fetch's error, or `Cancelled`."""
        while True:
            ctx.checkpoint("while the node's headers were read")
            try:
                return self._future.result(ctx.seconds_left(POLL_SECONDS))
            except TimeoutError:
                continue

    def stop(self) -> None:
        """Read no further batch."""
        self._stop.set()
