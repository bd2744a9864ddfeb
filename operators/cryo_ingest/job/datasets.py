"""The datasets the operator accepts: Cryo 0.3.2 datasets that need nothing but a block range.

Each name publishes exactly one table named as itself, so Cryo's multi-datasets (`state_diffs`,
`geth_state_diffs`, `state_reads`, `call_trace_derivatives`, `blocks_and_transactions`) are not
names here: list their members. Datasets that need addresses, calls or a JavaScript tracer
(`balances`, `codes`, `nonces`, `slots`, `eth_calls`, `trace_calls`, `erc20_balances`,
`erc20_metadata`, `erc20_supplies`, `erc721_metadata`, `transaction_addresses`,
`javascript_traces`) are left out. Every name in `CANONICAL` is extracted from a real node by
`tests/test_cryo_extractor.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CANONICAL: tuple[str, ...] = (
    "blocks",
    "transactions",
    "logs",
    "traces",
    "address_appearances",
    "balance_diffs",
    "balance_reads",
    "code_diffs",
    "code_reads",
    "contracts",
    "erc20_transfers",
    "erc721_transfers",
    "four_byte_counts",
    "geth_balance_diffs",
    "geth_calls",
    "geth_code_diffs",
    "geth_nonce_diffs",
    "geth_opcodes",
    "geth_storage_diffs",
    "native_transfers",
    "nonce_diffs",
    "nonce_reads",
    "storage_diffs",
    "storage_reads",
    "vm_traces",
)

#: Other names for a dataset, ours and Cryo's own; each maps to a name in `CANONICAL`.
ALIASES: dict[str, str] = {
    "txs": "transactions",
    "events": "logs",
    "slot_diffs": "storage_diffs",
    "opcode_traces": "vm_traces",
}

_PARITY = "a Parity-style trace API ({method}), as Erigon, Reth and Nethermind serve it"
_GETH = "geth's debug API ({method} with {tracer})"

#: The JSON-RPC method beyond `eth_*` each dataset needs, as Cryo calls it: the method and the
#: parameters after the block number. A node that lacks it fails every chunk of the dataset.
PROBES: dict[str, tuple[str, tuple[Any, ...]]] = {
    **dict.fromkeys(("traces", "contracts", "native_transfers", "address_appearances"), ("trace_block", ())),
    **dict.fromkeys(
        ("balance_diffs", "code_diffs", "nonce_diffs", "storage_diffs"),
        ("trace_replayBlockTransactions", (["stateDiff"],)),
    ),
    "vm_traces": ("trace_replayBlockTransactions", (["vmTrace"],)),
    **dict.fromkeys(
        ("balance_reads", "code_reads", "nonce_reads", "storage_reads"),
        ("debug_traceBlockByNumber", ({"tracer": "prestateTracer"},)),
    ),
    **dict.fromkeys(
        ("geth_balance_diffs", "geth_code_diffs", "geth_nonce_diffs", "geth_storage_diffs"),
        ("debug_traceBlockByNumber", ({"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}},)),
    ),
    "geth_calls": ("debug_traceBlockByNumber", ({"tracer": "callTracer", "tracerConfig": {}},)),
    "four_byte_counts": ("debug_traceBlockByNumber", ({"tracer": "4byteTracer"},)),
    "geth_opcodes": (
        "debug_traceBlockByNumber",
        ({"disableStack": True, "disableStorage": True, "enableMemory": False, "enableReturnData": True},),
    ),
}


def _need(dataset: str) -> str:
    method, params = PROBES[dataset]
    if method.startswith("trace_"):
        text = _PARITY.format(method=method)
        return text + ("; on geth use geth_calls" if dataset == "traces" else "")
    tracer = params[0].get("tracer", "the struct logger")
    return _GETH.format(method=method, tracer=tracer)


#: What each dataset needs of the node beyond blocks, receipts and logs, for warnings and errors.
NEEDS: dict[str, str] = {dataset: _need(dataset) for dataset in PROBES}

#: Chains whose early receipts carry no status (before Byzantium, EIP-658): the first block that
#: has one. Cryo fails every `transactions` chunk before it unless the `success` column is excluded.
STATUS_SINCE: dict[int, int] = {1: 4_370_000, 61: 8_772_000}


def status_gap(chain_id: int, start: int, datasets: Iterable[str], excluded: Iterable[str]) -> int | None:
    """The first block whose receipts carry a status, when `transactions` with its `success` column starts before it.

    `excluded` are the transactions columns the job excludes; None means Cryo can write the range.
    """
    since = STATUS_SINCE.get(chain_id)
    if since is None or start >= since or "transactions" not in datasets or "success" in excluded:
        return None
    return since


def canonical(name: str) -> str | None:
    """The canonical name of a dataset or alias; None when the operator does not accept it."""
    name = ALIASES.get(name, name)
    return name if name in CANONICAL else None
