"""What follow asks the node itself: the safe head, and a block's parent hash."""

from __future__ import annotations

from typing import Any

from cryo_ingest.extract.cryo.node import NodeError, rpc_call
from cryo_ingest.job.endpoints import Endpoint
from trace_operators.contract import RetryableError

_METHOD = "eth_getBlockByNumber"


def safe_head(endpoint: Endpoint, finality_depth: int) -> int:
    """The node's `finalized` block where it has one, else its head less `finality_depth`; -1 when none is safe."""
    try:
        finalized = rpc_call(endpoint, _METHOD, "finalized", False)
    except NodeError:
        finalized = None  # a node without finality (a chain before the merge, some dev nodes) errs or answers null
    if finalized is not None:
        return _number(endpoint, finalized, "the finalized block")
    try:
        head = int(rpc_call(endpoint, "eth_blockNumber"), 16)
    except NodeError as error:
        raise RetryableError(f"pool {endpoint.pool} answered eth_blockNumber with an error: {error}") from None
    except (TypeError, ValueError):
        raise RetryableError(f"pool {endpoint.pool} answered eth_blockNumber with something not a number") from None
    return max(head - finality_depth, -1)


def parent_hash(endpoint: Endpoint, number: int) -> bytes:
    """The parent hash of block `number` as the node has it; `RetryableError` when it cannot say."""
    try:
        block = rpc_call(endpoint, _METHOD, hex(number), False)
    except NodeError as error:
        raise RetryableError(f"pool {endpoint.pool} answered {_METHOD} with an error: {error}") from None
    if block is None:
        raise RetryableError(f"pool {endpoint.pool} has no block {number}")
    if _number(endpoint, block, f"block {number}") != number:
        raise RetryableError(f"pool {endpoint.pool} answered {_METHOD} for block {number} with another block")
    try:
        return _hash(block["parentHash"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RetryableError(f"pool {endpoint.pool} answered block {number} without a parent hash") from None


def _number(endpoint: Endpoint, block: Any, what: str) -> int:
    try:
        return int(block["number"], 16)
    except (KeyError, TypeError, ValueError):
        raise RetryableError(f"pool {endpoint.pool} answered {_METHOD} for {what} with something not a block") from None


def _hash(text: str) -> bytes:
    value = bytes.fromhex(text.removeprefix("0x"))
    if len(value) != 32:
        raise ValueError(f"{len(value)} bytes, not 32")
    return value
