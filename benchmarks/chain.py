"""The benchmark chain: 2,000 blocks of 20 transactions on anvil, built once and kept as a state dump.

The test suite's ERC-20 shaped token and its logger are put in place with `anvil_setCode` before
block 1; every block then holds 20 transactions: 8 value transfers (types 0 and 2), 8 token transfers
(a storage write and one log each) and 4 logger calls (five logs each), so 28 logs and 20 traces a
block. Blocks are mined by hand at a fixed timestamp interval, so the same anvil build makes the same
chain every time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import CACHE, ROOT
from tests.chain import LOGGER, TOKEN20, word

ANVIL = ROOT / ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
CHAIN_ID = 10143
BLOCKS = 2_000
TXS_PER_BLOCK = 20
GWEI = 10**9
#: Change when the chain changes: the dump's name carries it, so an old dump is never reused.
CHAIN_VERSION = "1"
STATE = CACHE / f"anvil-{BLOCKS}x{TXS_PER_BLOCK}-v{CHAIN_VERSION}.json"
TOKEN = "0x" + "00" * 18 + "10" + "00"
LOGGER_ADDRESS = "0x" + "00" * 18 + "20" + "00"


@dataclass
class Node:
    """A running anvil."""

    url: str
    process: subprocess.Popen[bytes]


def rpc(url: str, method: str, *params: Any) -> Any:
    return rpc_batch(url, [(method, list(params))])[0]


def rpc_batch(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """One HTTP request carrying a JSON-RPC batch; the results in call order."""
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)])
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answers = sorted(json.load(response), key=lambda a: a["id"])
    errors = [a["error"] for a in answers if "error" in a]
    if errors:
        raise RuntimeError(f"anvil answered errors: {errors[:3]}")
    return [a["result"] for a in answers]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def anvil(*flags: str) -> Iterator[Node]:
    """anvil on a free loopback port, stopped with SIGINT (which writes `--dump-state`) at the end."""
    if not os.access(ANVIL, os.X_OK):
        raise RuntimeError(f"anvil is missing at {ANVIL}: run make test once to install it")
    port = _free_port()
    command = [
        str(ANVIL),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(CHAIN_ID),
        "--timestamp",
        "1700000000",
        "--silent",
        *flags,
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        node = Node(f"http://127.0.0.1:{port}", process)
        try:
            _wait_until_up(node, log)
            yield node
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(node: Node, log: Any) -> None:
    deadline = time.monotonic() + 120  # loading a large state takes a while
    while time.monotonic() < deadline:
        try:
            rpc(node.url, "eth_chainId")
            return
        except OSError:
            if node.process.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"anvil exited with {node.process.returncode}: {log.read().decode()[-500:]}"
                ) from None
            time.sleep(0.05)
    raise RuntimeError("anvil did not answer within 120 s")


def _tx(
    sender: str, nonce: int, to: str | None, data: bytes = b"", value: int = 0, legacy: bool = False, gas: int = 100_000
) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "from": sender,
        "nonce": hex(nonce),
        "gas": hex(gas),
        "value": hex(value),
        "input": "0x" + data.hex(),
    }
    if to is not None:
        tx["to"] = to
    if legacy:
        tx.update(type="0x0", gasPrice=hex(10 * GWEI))
    else:
        tx.update(maxFeePerGas=hex(20 * GWEI), maxPriorityFeePerGas=hex(GWEI))
    return tx


def build(state: Path = STATE) -> Path:
    """Mine the chain on a fresh anvil and write its state dump to `state`."""
    partial = state.with_name(state.name + ".partial")
    partial.unlink(missing_ok=True)
    began = time.monotonic()
    with anvil("--no-mining", "--order", "fifo", "--dump-state", str(partial)) as node:
        rpc(node.url, "anvil_setBlockTimestampInterval", 12)
        accounts: list[str] = rpc(node.url, "eth_accounts")
        nonces = dict.fromkeys(accounts, 0)

        rpc_batch(
            node.url,
            [
                ("anvil_setCode", [TOKEN, "0x" + TOKEN20.hex()]),
                ("anvil_setCode", [LOGGER_ADDRESS, "0x" + LOGGER.hex()]),
            ],
        )
        for number in range(1, BLOCKS + 1):
            rpc_batch(node.url, _block_calls(number, accounts, nonces))
            rpc(node.url, "evm_mine")
        head = int(rpc(node.url, "eth_blockNumber"), 16)
        if head != BLOCKS:
            raise RuntimeError(f"anvil mined {head} blocks, not {BLOCKS}")
    os.replace(partial, state)
    print(f"  built the chain ({BLOCKS:,} blocks x {TXS_PER_BLOCK} txs) in {time.monotonic() - began:.0f} s: {state}")
    return state


def _block_calls(number: int, accounts: list[str], nonces: dict[str, int]) -> list[tuple[str, list[Any]]]:
    """The `eth_sendTransaction` calls of block `number`, senders taking turns with explicit nonces."""
    calls = []
    for k in range(TXS_PER_BLOCK):
        i = number * TXS_PER_BLOCK + k
        sender, payee = accounts[i % len(accounts)], accounts[(number + k) % len(accounts)]
        if k % 10 < 4:
            tx = _tx(sender, nonces[sender], payee, value=(i % 997 + 1) * GWEI, legacy=k % 10 == 0)
        elif k % 10 < 8:
            tx = _tx(sender, nonces[sender], TOKEN, data=bytes.fromhex(word(payee) + word(i)))
        else:
            tx = _tx(sender, nonces[sender], LOGGER_ADDRESS, data=bytes.fromhex(word(i)))
        nonces[sender] += 1
        calls.append(("eth_sendTransaction", [tx]))
    return calls


def ensure_state() -> Path:
    """The cached state dump, built first when missing."""
    return STATE if STATE.exists() else build()


@contextmanager
def loaded() -> Iterator[Node]:
    """anvil serving the benchmark chain from its dump."""
    with anvil("--load-state", str(ensure_state())) as node:
        head = int(rpc(node.url, "eth_blockNumber"), 16)
        if head != BLOCKS:
            raise RuntimeError(f"the state dump {STATE} holds {head} blocks, not {BLOCKS}: delete it to rebuild")
        yield node
