"""A small deterministic test chain, built on an anvil node over plain JSON-RPC.

The chain holds every kind of activity the Cryo datasets read: value transfers of transaction types
0, 1 and 2, contract deployments, logs with one to four topics, ERC-20 and ERC-721 shaped Transfer
events, internal calls, internal value transfers and internal CREATEs, reverted transactions, blocks
with several transactions and empty blocks. Every transaction gives its nonce, gas and fees, and
blocks are mined by hand at a fixed timestamp interval, so the same node build makes the same block
hashes on every run.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

#: keccak256("Transfer(address,address,uint256)"), the topic0 of ERC-20 and ERC-721 transfers.
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
GWEI = 10**9
#: Blocks mined after the deployment block (block 1); the head is `1 + ACTIVITY_BLOCKS`.
ACTIVITY_BLOCKS = 89


class RpcError(Exception):
    """The node answered a JSON-RPC error."""


def rpc(url: str, method: str, *params: Any, timeout: float = 10) -> Any:
    """One JSON-RPC call; returns `result` or raises `RpcError`."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.load(response)
    if "error" in answer:
        raise RpcError(f"{method}: {answer['error']}")
    return answer["result"]


# --- a tiny EVM assembler: mnemonics and `push(value)` items, so each contract reads as opcodes ---

OPCODES = {
    "STOP": 0x00,
    "CALLER": 0x33,
    "CALLVALUE": 0x34,
    "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36,
    "CALLDATACOPY": 0x37,
    "CODECOPY": 0x39,
    "POP": 0x50,
    "MSTORE": 0x52,
    "SSTORE": 0x55,
    "GAS": 0x5A,
    "DUP1": 0x80,
    "LOG0": 0xA0,
    "LOG1": 0xA1,
    "LOG2": 0xA2,
    "LOG3": 0xA3,
    "LOG4": 0xA4,
    "CREATE": 0xF0,
    "CALL": 0xF1,
    "RETURN": 0xF3,
    "REVERT": 0xFD,
}


def push(value: int | bytes, width: int = 0) -> bytes:
    """PUSHn of `value`, in the fewest bytes unless `width` is given."""
    data = value if isinstance(value, bytes) else value.to_bytes(width or max(1, (value.bit_length() + 7) // 8), "big")
    return bytes([0x5F + len(data)]) + data


def asm(*items: str | bytes) -> bytes:
    """Assemble mnemonics (str) and already-encoded pushes (bytes)."""
    return b"".join(bytes([OPCODES[item]]) if isinstance(item, str) else item for item in items)


def deployer(runtime: bytes) -> bytes:
    """Init code that returns `runtime`: CODECOPY the bytes after this 13-byte prefix, RETURN them."""
    prefix_length = 13
    prefix = asm(push(len(runtime), 2), "DUP1", push(prefix_length, 2), push(0), "CODECOPY", push(0), "RETURN")
    assert len(prefix) == prefix_length
    return prefix + runtime


#: Emits LOG0..LOG4, each with the calldata as data and topics 1, 2, 3, 4 (as 32-byte words).
#: Stack before LOGn, top first: offset 0, size CALLDATASIZE, topic0, topic1, ...
LOGGER = asm(
    "CALLDATASIZE",
    push(0),
    push(0),
    "CALLDATACOPY",  # memory[0:size] = calldata
    "CALLDATASIZE",
    push(0),
    "LOG0",
    push(1),
    "CALLDATASIZE",
    push(0),
    "LOG1",
    push(2),
    push(1),
    "CALLDATASIZE",
    push(0),
    "LOG2",
    push(3),
    push(2),
    push(1),
    "CALLDATASIZE",
    push(0),
    "LOG3",
    push(4),
    push(3),
    push(2),
    push(1),
    "CALLDATASIZE",
    push(0),
    "LOG4",
    "STOP",
)

#: ERC-20 shaped: calldata (to, amount); storage[to] = amount; Transfer(caller, to) with amount as data.
TOKEN20 = asm(
    push(0x20),
    "CALLDATALOAD",
    push(0),
    "CALLDATALOAD",
    "SSTORE",  # SSTORE(key=to, value=amount)
    push(0x20),
    "CALLDATALOAD",
    push(0),
    "MSTORE",  # memory[0:32] = amount
    push(0),
    "CALLDATALOAD",
    "CALLER",
    push(bytes.fromhex(TRANSFER_TOPIC)),  # topics 2, 1, 0
    push(0x20),
    push(0),
    "LOG3",
    "STOP",
)

#: ERC-721 shaped: calldata (to, token_id); Transfer(caller, to, token_id), all four topics, no data.
TOKEN721 = asm(
    push(0x20),
    "CALLDATALOAD",
    push(0),
    "CALLDATALOAD",
    "CALLER",
    push(bytes.fromhex(TRANSFER_TOPIC)),
    push(0),
    push(0),
    "LOG4",
    "STOP",
)

#: The init code the factory CREATEs: returns the 10-byte runtime `return uint256(42)`.
#: PUSH10 runtime; MSTORE puts it right-aligned in memory[0:32], so it sits at [22:32].
CHILD_RUNTIME = asm(push(42), push(0), "MSTORE", push(32), push(0), "RETURN")
CHILD_INIT = asm(
    push(CHILD_RUNTIME), push(0), "MSTORE", push(len(CHILD_RUNTIME)), push(32 - len(CHILD_RUNTIME)), "RETURN"
)

#: calldata (logger, payee): CALL logger (no value, no data), CALL payee with the call's value,
#: then CREATE a child. CALL's stack, top first: gas, address, value, in offset, in size, out offset,
#: out size; CREATE's: value, offset, size.
FACTORY = asm(
    push(0),
    push(0),
    push(0),
    push(0),
    push(0),
    push(0),
    "CALLDATALOAD",
    "GAS",
    "CALL",
    "POP",
    push(0),
    push(0),
    push(0),
    push(0),
    "CALLVALUE",
    push(0x20),
    "CALLDATALOAD",
    "GAS",
    "CALL",
    "POP",
    push(CHILD_INIT),
    push(0),
    "MSTORE",  # memory[32 - len : 32] = child init code
    push(len(CHILD_INIT)),
    push(32 - len(CHILD_INIT)),
    push(0),
    "CREATE",
    "POP",
    "STOP",
)

#: Always reverts with empty data.
REVERTER = asm(push(0), push(0), "REVERT")

CONTRACTS = {"logger": LOGGER, "token20": TOKEN20, "token721": TOKEN721, "factory": FACTORY, "reverter": REVERTER}


def word(value: int | str) -> str:
    """A 32-byte ABI word (hex, no 0x) of an integer or an address."""
    number = int(value, 16) if isinstance(value, str) else value
    return f"{number:064x}"


@dataclass
class Chain:
    """What the test chain holds, as the builder made it."""

    head: int
    accounts: list[str]
    contracts: dict[str, str]
    #: Transaction hashes per block number, in block order (only blocks that have some).
    tx_hashes: dict[int, list[str]] = field(default_factory=dict)
    empty_blocks: list[int] = field(default_factory=list)
    reverted: list[str] = field(default_factory=list)


class _Builder:
    """Sends transactions with explicit nonces and fees, mines blocks by hand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.accounts: list[str] = rpc(url, "eth_accounts")
        self.nonces = {account: 0 for account in self.accounts}
        self.pending: list[str] = []

    def send(
        self, sender: int, to: str | None, data: str = "", value: int = 0, tx_type: int = 2, gas: int = 300_000
    ) -> str:
        """Queue a transaction of `tx_type` from account `sender`; returns its hash."""
        account = self.accounts[sender]
        tx: dict[str, Any] = {
            "from": account,
            "nonce": hex(self.nonces[account]),
            "gas": hex(gas),
            "value": hex(value),
            "input": "0x" + data,
        }
        if to is not None:
            tx["to"] = to
        if tx_type == 2:
            tx.update(maxFeePerGas=hex(20 * GWEI), maxPriorityFeePerGas=hex(GWEI))
        else:
            tx["gasPrice"] = hex(10 * GWEI)
        if tx_type == 1:
            tx["accessList"] = [{"address": account, "storageKeys": []}]
        self.nonces[account] += 1
        tx_hash = rpc(self.url, "eth_sendTransaction", tx)
        self.pending.append(tx_hash)
        return tx_hash

    def mine(self) -> tuple[int, list[str]]:
        rpc(self.url, "evm_mine")
        number = int(rpc(self.url, "eth_blockNumber"), 16)
        block = rpc(self.url, "eth_getBlockByNumber", hex(number), False)
        assert block["transactions"] == self.pending, (number, block["transactions"], self.pending)
        mined, self.pending = self.pending, []
        return number, mined


def build_chain(url: str) -> Chain:
    """Make the test chain on a fresh anvil started with `--no-mining`; returns what it holds."""
    rpc(url, "anvil_setBlockTimestampInterval", 12)
    builder = _Builder(url)
    # Block 1: every contract, deployed by account 0 with nonces 0..4.
    deployments = {name: builder.send(0, None, deployer(code).hex(), gas=500_000) for name, code in CONTRACTS.items()}
    number, mined = builder.mine()
    chain = Chain(head=number, accounts=builder.accounts, contracts={}, tx_hashes={number: mined})
    for name, tx_hash in deployments.items():
        receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x1", name
        chain.contracts[name] = receipt["contractAddress"]
    for i in range(ACTIVITY_BLOCKS):
        _fill_block(builder, chain, i)
        number, mined = builder.mine()
        chain.head = number
        if mined:
            chain.tx_hashes[number] = mined
        else:
            chain.empty_blocks.append(number)
    return chain


def _fill_block(builder: _Builder, chain: Chain, i: int) -> None:
    """Block i of the activity: a fixed mix chosen by i; every seventh block stays empty."""
    if i % 7 == 3:
        return
    c, accounts = chain.contracts, chain.accounts
    sender, other = 1 + i % 4, accounts[5 + i % 4]
    builder.send(sender, other, value=(i + 1) * GWEI, tx_type=i % 3)
    builder.send(sender, c["logger"], data=word(i) * (i % 3), tx_type=(i + 1) % 3)
    if i % 2 == 0:
        builder.send(sender, c["token20"], data=word(other) + word(1000 + i))
    if i % 3 == 0:
        builder.send(sender, c["token721"], data=word(other) + word(i))
    if i % 4 == 1:
        builder.send(sender, c["factory"], data=word(c["logger"]) + word(other), value=7 * GWEI)
    if i % 5 == 2:
        chain.reverted.append(builder.send(sender, c["reverter"], gas=60_000, tx_type=0))
