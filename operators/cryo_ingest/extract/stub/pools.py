"""Fixed pools of mutually consistent values, which rows refer to by uint64 index.

Columns that must agree with each other (an input and its byte counts; a value as binary, string and
float; a create and its code) are drawn together as one index into these pools, which also lets the
files compress as a real chain's do. Choosing between indices is cheap, choosing between byte strings
is not, so rows carry indices until a table is built.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from cryo_ingest.extract.stub.draws import Draw, draw, u64

N_EOAS = 4096
N_CONTRACTS = 256
N_CALLS = 240
N_INITS = 16
CALL_TYPES = ["call"] * 5 + ["staticcall"] * 2 + ["delegatecall"]
NULL = pa.scalar(None, pa.uint64())


@dataclass(frozen=True)
class Pools:
    """Everything rows draw from, by index; the same for every chain id."""

    #: The EOAs, then the contracts.
    addresses: pa.Array
    address_words: pa.Array
    authors: pa.Array
    extra_data: pa.Array
    value_binary: pa.Array
    value_string: pa.Array
    value_f64: pa.Array
    #: From here to `deployed_code`, one entry per input: the call data of calls, then the init code of creates.
    input_data: pa.Array
    input_bytes: pa.Array
    input_zero_bytes: pa.Array
    input_nonzero_bytes: pa.Array
    intrinsic_gas: pa.Array
    deployed_code: pa.Array
    tx_types: pa.Array
    event_topic0: pa.Array
    event_topic_count: pa.Array
    log_data: pa.Array
    call_types: pa.Array
    action_types: pa.Array
    outputs: pa.Array
    trace_addresses: pa.Array


@cache
def pools() -> Pools:
    """The pools, built once per process."""
    eoas = [_digest("eoa", i)[:20] for i in range(N_EOAS)]
    addresses = eoas + [_digest("contract", i)[:20] for i in range(N_CONTRACTS)]
    # Multiples of 10**12 below 2**24 * 10**12 are exact in float64, so value_f64 equals value_string.
    values = [0] + [int.from_bytes(_digest("value", i)[:3], "big") * 10**12 for i in range(1, 1024)]
    codes = [b"".join(_digest(f"code {i}", k) for k in range(1 + i % 4)) for i in range(N_INITS)]
    inputs = [_call_data(i, eoas) for i in range(N_CALLS)] + [_init_code(code) for code in codes]
    zeros = [data.count(0) for data in inputs]
    # 21,000 a transaction, 32,000 more for a create, 4 a zero byte of input and 16 another byte.
    creates = [0] * N_CALLS + [1] * N_INITS
    intrinsic_gas = [21_000 + 32_000 * c + 4 * z + 16 * (len(d) - z) for d, z, c in zip(inputs, zeros, creates)]
    log_data = [b"".join(_word(_digest(f"data {i}", k)[:8]) for k in range(i % 3)) for i in range(256)]
    binary, string = pa.large_binary(), pa.large_string()
    return Pools(
        addresses=pa.array(addresses, binary),
        address_words=pa.array([_word(a) for a in addresses], binary),
        authors=pa.array([_digest("author", i)[:20] for i in range(16)], binary),
        extra_data=pa.array([b"", b"stub", b"\xd8\x83\x01\x0e\x00\x84geth", b"cryo-ingest"], binary),
        value_binary=pa.array([_word(v) for v in values], binary),
        value_string=pa.array([str(v) for v in values], string),
        value_f64=pa.array([float(v) for v in values], pa.float64()),
        input_data=pa.array(inputs, binary),
        input_bytes=pa.array([len(data) for data in inputs], pa.uint32()),
        input_zero_bytes=pa.array(zeros, pa.uint32()),
        input_nonzero_bytes=pa.array([len(d) - z for d, z in zip(inputs, zeros)], pa.uint32()),
        intrinsic_gas=pa.array(intrinsic_gas, pa.uint64()),
        deployed_code=pa.array([None] * N_CALLS + codes, binary),
        tx_types=pa.array([2] * 13 + [0, 0, 1], pa.uint32()),
        event_topic0=pa.array([_digest("event", i) for i in range(32)], binary),
        event_topic_count=pa.array([1 + i % 4 for i in range(32)], pa.uint64()),
        log_data=pa.array(log_data, binary),
        call_types=pa.array(CALL_TYPES, string),
        action_types=pa.array(["call", "create"], string),
        outputs=pa.array([b"" if i % 2 else _word(_digest("output", i)) for i in range(16)], binary),
        trace_addresses=pa.array(["", "0", "1"], string),
    )


def where(mask: pa.Array, index: pa.Array | pa.Scalar, otherwise: pa.Array | pa.Scalar = NULL) -> pa.Array:
    """Pool indices chosen row by row; a null index takes a null value."""
    return pc.if_else(mask, index, otherwise)


def draw_contract(seed: pa.Array, stream: Draw) -> pa.Array:
    """The address-pool index of a contract, drawn per row."""
    return pc.add(draw(seed, stream, N_CONTRACTS), u64(N_EOAS))


def _digest(label: str, index: int) -> bytes:
    return hashlib.sha256(f"cryo-ingest stub {label} {index}".encode()).digest()


def _word(value: int | bytes) -> bytes:
    """A 32-byte ABI word: an int big-endian, or bytes (an address) left-padded with zeros."""
    return value.to_bytes(32, "big") if isinstance(value, int) else value.rjust(32, b"\0")


def _call_data(index: int, eoas: list[bytes]) -> bytes:
    """A selector and 0 to 3 arguments, each an address or a small number."""
    digest = _digest("call", index)
    arguments = (eoas[digest[8 + k] * 16] if digest[12 + k] % 2 else digest[16 + k] for k in range(digest[4] % 4))
    return digest[:4] + b"".join(_word(argument) for argument in arguments)


def _init_code(runtime: bytes) -> bytes:
    """Init code that copies the runtime after its 13-byte prefix into memory and returns it."""
    return bytes.fromhex(f"61{len(runtime):04x}8061000d6000396000f3") + runtime
