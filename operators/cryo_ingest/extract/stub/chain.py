"""The `stub` extractor (SPEC §6): a deterministic synthetic chain, written as Cryo writes Parquet.

Every value is a pure function of (chain_id, block number, kind of row, index of the row in its
block), so a block's rows are the same whichever chunk holds it. Randomness comes from splitmix64's
finaliser over pyarrow uint64 arrays: a chunk is computed column by column, never row by row.
Columns that must agree with each other (an input and its byte counts; a value as binary, string and
float; a create and its code) are drawn together from small fixed pools, which also lets the files
compress as a real chain's do.

The chain, documented for benchmarks and tests:
- each block has 0 to 8 transactions (uniform: mean 4, one block in nine empty);
- each transaction has 1 to 3 logs and 1 to 3 traces: a top-level call (or create, one transaction in
  sixteen) and its direct subcalls; every transaction succeeds;
- block n has timestamp 1,700,000,000 + n and its parent is block n - 1 (`parent_hashes`); Cryo's
  default blocks columns carry no parent hash, so the files show the chain only through block hashes;
- a log's and a trace's `transaction_hash` and `transaction_index` are those of a transaction of the
  same block; a block's `gas_used` is the sum of its transactions'; fees follow the block's base fee.

Same inputs, same bytes: the values do not depend on the machine (the hashes take the words' bytes
in little-endian order, which every platform pyarrow ships for has), and write options are pinned.
Parquet's footer names the pyarrow version that wrote it (`created_by`, which pyarrow does not let
us set), so files are byte-identical only between machines with the same pyarrow.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cache, cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from trace_operators.contract import Partition
from trace_operators.planning import split_range

from cryo_ingest.extract.cryo_schemas import SCHEMAS
from cryo_ingest.publish.versions import chunk_file_name

#: Bump whenever the bytes written for the same inputs change: it is part of the config hash.
STUB_VERSION = "1"
DATASETS: tuple[str, ...] = ("blocks", "transactions", "logs", "traces")

GENESIS_TIMESTAMP = 1_700_000_000
#: Timestamps and block numbers are uint32 in Cryo's files.
MAX_BLOCK = 2**32 - 1 - GENESIS_TIMESTAMP
MAX_TRANSACTIONS = 8
MAX_LOGS = 3
MAX_TRACES = 3
GWEI = 10**9

_MASK = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15
#: SPEC §3's compression names, as pyarrow spells them.
_CODECS = {
    "lz4": "lz4",
    "snappy": "snappy",
    "uncompressed": "none",
    "zstd": "zstd",
    "gzip": "gzip",
    "brotli": "brotli",
}
_LEVELLED = {"zstd", "gzip", "brotli"}


class _Kind(IntEnum):
    """The kind of a row, part of its seed so that rows of different kinds never share one."""

    BLOCK = 0
    TRANSACTION = 1
    LOG = 2
    TRACE = 3


class _Draw(IntEnum):
    """One independent random stream per purpose (from 16 up, clear of a hash's lanes 0 to 3)."""

    TX_COUNT = 16
    LOG_COUNT = 17
    TRACE_COUNT = 18
    AUTHOR = 19
    EXTRA_DATA = 20
    BASE_FEE = 21
    NONCE = 22
    FROM = 23
    TO = 24
    IS_CREATE = 25
    HAS_VALUE = 26
    VALUE = 27
    CALL = 28
    INIT = 29
    TX_TYPE = 30
    TIP = 31
    EXECUTION_GAS = 32
    SPARE_GAS = 33
    LOG_ADDRESS = 34
    EVENT = 35
    TOPIC1 = 36
    TOPIC2 = 37
    TOPIC3 = 38
    LOG_DATA = 39
    CALLEE = 40
    CALL_TYPE = 41
    OUTPUT = 42
    CREATED_ADDRESS = 43


# --- vectorised pseudo-randomness -------------------------------------------------------------------


@cache
def _u64(value: int) -> pa.Scalar:
    """A uint64 scalar: a bare int would make pyarrow promote uint64 arrays to int64.

    Cached: a chunk asks for the same few dozen scalars hundreds of times, and each new one costs a
    type lookup and two allocations while holding the GIL.
    """
    return pa.scalar(value & _MASK, pa.uint64())


def _mix(x: pa.Array) -> pa.Array:
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit over the output."""
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, _u64(30))), _u64(0xBF58476D1CE4E5B9))
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, _u64(27))), _u64(0x94D049BB133111EB))
    return pc.bit_wise_xor(x, pc.shift_right(x, _u64(31)))


def _mix_int(x: int) -> int:
    """`_mix` of one Python int."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _arange(n: int) -> pa.Array:
    """0 .. n-1 as uint64."""
    return pc.indices_nonzero(pa.repeat(True, n))


def _draw(seed: pa.Array, stream: _Draw, below: int) -> pa.Array:
    """A uniform uint64 in [0, below) per seed (below < 2**32), one independent stream per purpose.

    Seeds are already full splitmix64 outputs, so one xorshift-multiply round separates the streams;
    the top 32 bits of the product scale to [0, below) without a division (Lemire's method).
    """
    x = pc.add(seed, _u64(stream * _GOLDEN))
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, _u64(32))), _u64(0xD6E8FEB86659FD93))
    return pc.shift_right(pc.multiply(pc.shift_right(x, _u64(32)), _u64(below)), _u64(32))


def _random_bytes(seed: pa.Array, width: int, stream: int = 0) -> pa.Array:
    """`width` (at most 32) pseudo-random bytes per seed; with stream 0 the first 8 are a bijection of it."""
    position = _arange(len(seed) * 4)
    lane = pc.bit_wise_and(position, _u64(3))
    offset = pc.multiply(pc.add(lane, _u64(4 * stream)), _u64(_GOLDEN))
    words = _mix(pc.add(pc.take(seed, pc.shift_right(position, _u64(2))), offset))
    hashes = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), len(seed), [None, words.buffers()[1]])
    return (hashes if width == 32 else pc.binary_slice(hashes, 0, width)).cast(pa.large_binary())


def _expand(counts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Children of parents with `counts[i]` children each: (parent of each child, offsets).

    `offsets[i]` is the position of parent i's first child (int64, one more entry than parents).
    """
    total = pc.cumulative_sum(counts.cast(pa.int64()))
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), total])
    lists = pa.LargeListArray.from_arrays(offsets, pa.nulls(offsets[-1].as_py()))
    return pc.list_parent_indices(lists), offsets


def _position_in(offsets: pa.Array, parent: pa.Array) -> pa.Array:
    """Each child's position among the children of its parent, as uint64."""
    first = pc.take(offsets, parent).cast(pa.uint64())
    return pc.subtract(_arange(len(parent)), first)


def _sum_by(values: pa.Array, offsets: pa.Array) -> pa.Array:
    """Per parent, the sum of its children's `values` (uint64), children laid out by `offsets`."""
    running = pa.concat_arrays([pa.array([0], pa.uint64()), pc.cumulative_sum(values)])
    return pc.subtract(pc.take(running, offsets[1:]), pc.take(running, offsets[:-1]))


# --- fixed pools of mutually consistent values, referred to by index --------------------------------

N_EOAS = 4096
N_CONTRACTS = 256
N_CALLS = 240
N_INITS = 16
_CALL_TYPES = ["call"] * 5 + ["staticcall"] * 2 + ["delegatecall"]


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


@dataclass(frozen=True)
class _Pools:
    """Everything rows draw from, by index; the same for every chain id.

    `addresses` holds the EOAs, then the contracts. The `input_*` columns hold the call data of calls,
    then the init code of creates, with their byte counts, intrinsic gas and the code a create deploys.
    """

    addresses: pa.Array
    address_words: pa.Array
    authors: pa.Array
    extra_data: pa.Array
    value_binary: pa.Array
    value_string: pa.Array
    value_f64: pa.Array
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
def _pools() -> _Pools:
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
    return _Pools(
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
        call_types=pa.array(_CALL_TYPES, string),
        action_types=pa.array(["call", "create"], string),
        outputs=pa.array([b"" if i % 2 else _word(_digest("output", i)) for i in range(16)], binary),
        trace_addresses=pa.array(["", "0", "1"], string),
    )


# --- one chunk of the chain -------------------------------------------------------------------------

_NULL = pa.scalar(None, pa.uint64())


def _where(mask: pa.Array, index: pa.Array | pa.Scalar, otherwise: pa.Array | pa.Scalar = _NULL) -> pa.Array:
    """Pool indices chosen row by row; a null index takes a null value."""
    return pc.if_else(mask, index, otherwise)


def _contract(seed: pa.Array, stream: _Draw) -> pa.Array:
    """The address-pool index of a contract, drawn per row."""
    return pc.add(_draw(seed, stream, N_CONTRACTS), _u64(N_EOAS))


def _table(dataset: str, columns: dict[str, pa.Array]) -> pa.Table:
    """A table with Cryo's schema; integers are narrowed to it with overflow checks."""
    schema = SCHEMAS[dataset]
    assert columns.keys() == set(schema.names), columns.keys() ^ set(schema.names)
    return pa.Table.from_pydict(columns, schema=schema)


class _Chunk:
    """The four datasets of one inclusive block range; each column is computed once, when first used.

    Rows refer to pool entries by uint64 index until a table is built: choosing between indices is
    cheap, choosing between byte strings is not.
    """

    def __init__(self, chain_id: int, first: int, last: int) -> None:
        _check_range(first, last)
        self.chain_id = chain_id
        self._chain_seed = _u64(_mix_int((chain_id * _GOLDEN) & _MASK))
        self.block_number = pc.add(_arange(last - first + 1), _u64(first))
        self.pools = _pools()

    def _seed(self, block_number: pa.Array, kind: _Kind, index: pa.Array | None = None) -> pa.Array:
        """Distinct rows get distinct seeds: (block, kind, index < 256) is packed losslessly, then mixed."""
        key = pc.bit_wise_or(pc.shift_left(block_number, _u64(10)), _u64(kind << 8))
        if index is not None:
            key = pc.bit_wise_or(key, index)
        return _mix(pc.bit_wise_xor(key, self._chain_seed))

    def _chain_ids(self, n: int) -> pa.Array:
        return pa.repeat(pa.scalar(self.chain_id, pa.uint64()), n)

    # blocks

    @cached_property
    def block_seed(self) -> pa.Array:
        return self._seed(self.block_number, _Kind.BLOCK)

    @cached_property
    def block_hash(self) -> pa.Array:
        return _random_bytes(self.block_seed, 32)

    @cached_property
    def base_fee(self) -> pa.Array:
        return pc.add(_draw(self.block_seed, _Draw.BASE_FEE, GWEI), _u64(GWEI // 2))

    def blocks(self) -> pa.Table:
        seed, pools = self.block_seed, self.pools
        return _table(
            "blocks",
            {
                "block_hash": self.block_hash,
                "author": pc.take(pools.authors, _draw(seed, _Draw.AUTHOR, len(pools.authors))),
                "block_number": self.block_number,
                "gas_used": _sum_by(self.gas_used, self.tx_offsets),
                "extra_data": pc.take(pools.extra_data, _draw(seed, _Draw.EXTRA_DATA, len(pools.extra_data))),
                "timestamp": pc.add(self.block_number, _u64(GENESIS_TIMESTAMP)),
                "base_fee_per_gas": self.base_fee,
                "chain_id": self._chain_ids(len(seed)),
            },
        )

    # transactions

    @cached_property
    def _tx_layout(self) -> tuple[pa.Array, pa.Array]:
        return _expand(_draw(self.block_seed, _Draw.TX_COUNT, MAX_TRANSACTIONS + 1))

    @property
    def tx_block(self) -> pa.Array:
        """Per transaction, the position of its block in the chunk."""
        return self._tx_layout[0]

    @property
    def tx_offsets(self) -> pa.Array:
        """Per block, the position of its first transaction (and the count of all at the end)."""
        return self._tx_layout[1]

    @cached_property
    def tx_index(self) -> pa.Array:
        return _position_in(self.tx_offsets, self.tx_block)

    @cached_property
    def tx_block_number(self) -> pa.Array:
        return pc.take(self.block_number, self.tx_block)

    @cached_property
    def tx_seed(self) -> pa.Array:
        return self._seed(self.tx_block_number, _Kind.TRANSACTION, self.tx_index)

    @cached_property
    def tx_hash(self) -> pa.Array:
        return _random_bytes(self.tx_seed, 32)

    @cached_property
    def is_create(self) -> pa.Array:
        return pc.equal(_draw(self.tx_seed, _Draw.IS_CREATE, 16), _u64(0))

    @cached_property
    def from_index(self) -> pa.Array:
        return _draw(self.tx_seed, _Draw.FROM, N_EOAS)

    @cached_property
    def to_index(self) -> pa.Array:
        return _where(self.is_create, _NULL, _contract(self.tx_seed, _Draw.TO))

    @cached_property
    def addresses(self) -> pa.Array:
        """The pool's addresses, then the address each transaction of the chunk would create."""
        return pa.concat_arrays([self.pools.addresses, _random_bytes(self.tx_seed, 20, _Draw.CREATED_ADDRESS)])

    @cached_property
    def created_index(self) -> pa.Array:
        return pc.add(_arange(len(self.tx_seed)), _u64(len(self.pools.addresses)))

    @cached_property
    def callee_index(self) -> pa.Array:
        """The contract a transaction calls or creates."""
        return _where(self.is_create, self.created_index, self.to_index)

    @cached_property
    def value_index(self) -> pa.Array:
        """Three transactions in four move no value (pool entry 0)."""
        values = len(self.pools.value_string)
        moving = pc.equal(_draw(self.tx_seed, _Draw.HAS_VALUE, 4), _u64(0))
        return _where(moving, pc.add(_draw(self.tx_seed, _Draw.VALUE, values - 1), _u64(1)), _u64(0))

    @cached_property
    def input_index(self) -> pa.Array:
        init = pc.add(_draw(self.tx_seed, _Draw.INIT, N_INITS), _u64(N_CALLS))
        return _where(self.is_create, init, _draw(self.tx_seed, _Draw.CALL, N_CALLS))

    @cached_property
    def intrinsic_gas(self) -> pa.Array:
        return pc.take(self.pools.intrinsic_gas, self.input_index)

    @cached_property
    def gas_used(self) -> pa.Array:
        execution = pc.add(_draw(self.tx_seed, _Draw.EXECUTION_GAS, 150_000), _u64(20_000))
        return pc.add(self.intrinsic_gas, execution)

    @cached_property
    def gas_limit(self) -> pa.Array:
        return pc.add(self.gas_used, _draw(self.tx_seed, _Draw.SPARE_GAS, 100_000))

    def transactions(self) -> pa.Table:
        seed, pools = self.tx_seed, self.pools
        tx_type = pc.take(pools.tx_types, _draw(seed, _Draw.TX_TYPE, len(pools.tx_types)))
        dynamic = pc.equal(tx_type, pa.scalar(2, pa.uint32()))
        tip = _draw(seed, _Draw.TIP, 2 * GWEI)
        base_fee = pc.take(self.base_fee, self.tx_block)
        return _table(
            "transactions",
            {
                "block_number": self.tx_block_number,
                "transaction_index": self.tx_index,
                "transaction_hash": self.tx_hash,
                "nonce": _draw(seed, _Draw.NONCE, 1 << 16),
                "from_address": pc.take(pools.addresses, self.from_index),
                "to_address": pc.take(pools.addresses, self.to_index),
                "value_binary": pc.take(pools.value_binary, self.value_index),
                "value_string": pc.take(pools.value_string, self.value_index),
                "value_f64": pc.take(pools.value_f64, self.value_index),
                "input": pc.take(pools.input_data, self.input_index),
                "gas_limit": self.gas_limit,
                "gas_used": self.gas_used,
                "gas_price": pc.add(base_fee, tip),
                "transaction_type": tx_type,
                "max_priority_fee_per_gas": _where(dynamic, tip),
                "max_fee_per_gas": _where(dynamic, pc.add(pc.multiply(base_fee, _u64(2)), tip)),
                "success": pa.repeat(True, len(seed)),
                "n_input_bytes": pc.take(pools.input_bytes, self.input_index),
                "n_input_zero_bytes": pc.take(pools.input_zero_bytes, self.input_index),
                "n_input_nonzero_bytes": pc.take(pools.input_nonzero_bytes, self.input_index),
                "chain_id": self._chain_ids(len(seed)),
            },
        )

    # logs and traces: children of transactions

    def _child_counts(self, stream: _Draw, most: int) -> pa.Array:
        """Per transaction, how many logs or traces it has: 1 to `most`."""
        return pc.add(_draw(self.tx_seed, stream, most), _u64(1))

    def _children(self, counts: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Per child row: its transaction, its position in that transaction and in the block."""
        tx, offsets = _expand(counts)
        first_in_block = pc.take(offsets, pc.take(self.tx_offsets, pc.take(self.tx_block, tx)))
        in_block = pc.subtract(_arange(len(tx)), first_in_block.cast(pa.uint64()))
        return tx, _position_in(offsets, tx), in_block

    def _tx_columns(self, tx: pa.Array) -> dict[str, pa.Array]:
        """The columns a log or trace shares with its transaction."""
        return {
            "block_number": pc.take(self.tx_block_number, tx),
            "transaction_index": pc.take(self.tx_index, tx),
            "transaction_hash": pc.take(self.tx_hash, tx),
            "chain_id": self._chain_ids(len(tx)),
        }

    def logs(self) -> pa.Table:
        tx, _, log_index = self._children(self._child_counts(_Draw.LOG_COUNT, MAX_LOGS))
        pools = self.pools
        seed = self._seed(pc.take(self.tx_block_number, tx), _Kind.LOG, log_index)
        event = _draw(seed, _Draw.EVENT, len(pools.event_topic0))
        topic_count = pc.take(pools.event_topic_count, event)

        def topic(k: int, stream: _Draw) -> pa.Array:
            """An EOA as a 32-byte word, where the event has a k-th topic."""
            present = pc.greater(topic_count, _u64(k))
            return pc.take(pools.address_words, _where(present, _draw(seed, stream, N_EOAS)))

        return _table(
            "logs",
            {
                **self._tx_columns(tx),
                "log_index": log_index,
                "address": pc.take(pools.addresses, _contract(seed, _Draw.LOG_ADDRESS)),
                "topic0": pc.take(pools.event_topic0, event),
                "topic1": topic(1, _Draw.TOPIC1),
                "topic2": topic(2, _Draw.TOPIC2),
                "topic3": topic(3, _Draw.TOPIC3),
                "data": pc.take(pools.log_data, _draw(seed, _Draw.LOG_DATA, len(pools.log_data))),
            },
        )

    def traces(self) -> pa.Table:
        """Per transaction a top-level call or create, then its direct subcalls to contracts of the pool."""
        counts = self._child_counts(_Draw.TRACE_COUNT, MAX_TRACES)
        tx, in_tx, trace_index = self._children(counts)
        pools, n = self.pools, len(tx)
        seed = self._seed(pc.take(self.tx_block_number, tx), _Kind.TRACE, trace_index)
        top = pc.equal(in_tx, _u64(0))
        create = pc.and_(top, pc.take(self.is_create, tx))
        call = pc.invert(create)
        input_index = pc.take(self.input_index, tx)
        from_index = _where(top, pc.take(self.from_index, tx), pc.take(self.callee_index, tx))
        to_index = _where(top, pc.take(self.to_index, tx), _contract(seed, _Draw.CALLEE))
        call_input = _where(top, input_index, _draw(seed, _Draw.CALL, N_CALLS))
        call_type = _where(top, _u64(0), _draw(seed, _Draw.CALL_TYPE, len(_CALL_TYPES)))
        intrinsic = pc.take(self.intrinsic_gas, tx)
        gas = pc.subtract(pc.take(self.gas_limit, tx), intrinsic)
        gas_used = pc.subtract(pc.take(self.gas_used, tx), intrinsic)
        # A subcall gets at most 63/64 of the gas left; its siblings and it use at most half the parent's.
        child_gas = pc.divide(pc.multiply(gas, _u64(63)), _u64(64))
        child_gas_used = pc.divide(gas_used, _u64(4))
        return _table(
            "traces",
            {
                **self._tx_columns(tx),
                "action_from": pc.take(self.addresses, from_index),
                "action_to": pc.take(self.addresses, to_index),
                "action_value": pc.take(pools.value_string, _where(top, pc.take(self.value_index, tx), _u64(0))),
                "action_gas": _where(top, gas, child_gas),
                "action_input": pc.take(pools.input_data, _where(call, call_input)),
                "action_call_type": pc.take(pools.call_types, _where(call, call_type)),
                "action_init": pc.take(pools.input_data, _where(create, input_index)),
                "action_reward_type": pa.nulls(n, pa.large_string()),
                "action_type": pc.take(pools.action_types, create.cast(pa.uint8())),
                "result_gas_used": _where(top, gas_used, child_gas_used),
                "result_output": pc.take(pools.outputs, _where(call, _draw(seed, _Draw.OUTPUT, len(pools.outputs)))),
                "result_code": pc.take(pools.deployed_code, _where(create, input_index)),
                "result_address": pc.take(self.addresses, _where(create, pc.take(self.created_index, tx))),
                "trace_address": pc.take(pools.trace_addresses, in_tx),
                "subtraces": _where(top, pc.subtract(pc.take(counts, tx), _u64(1)), _u64(0)),
                "block_hash": pc.take(self.block_hash, pc.take(self.tx_block, tx)),
                "error": pa.nulls(n, pa.large_string()),
            },
        )


# --- public interface -------------------------------------------------------------------------------

#: Columns whose values are (nearly) all distinct: a dictionary would only cost time and bytes.
_DISTINCT = {
    "blocks": {"block_hash", "block_number", "gas_used", "timestamp", "base_fee_per_gas"},
    "transactions": {
        "transaction_hash",
        "nonce",
        "gas_limit",
        "gas_used",
        "gas_price",
        "max_priority_fee_per_gas",
        "max_fee_per_gas",
    },
    "logs": {"transaction_hash"},
    "traces": {"transaction_hash", "action_gas", "result_gas_used"},
}


def chunk_table(dataset: str, chain_id: int, first: int, last: int) -> pa.Table:
    """The rows of `dataset` for blocks `first..last` (inclusive), with Cryo's default schema."""
    return getattr(_Chunk(chain_id, first, last), _check_dataset(dataset))()


def parent_hashes(chain_id: int, first: int, last: int) -> pa.Array:
    """The parent hash of each block `first..last`: the previous block's hash; 32 zero bytes for block 0."""
    if first > 0:
        return _Chunk(chain_id, first - 1, last - 1).block_hash
    genesis_parent = pa.array([bytes(32)], pa.large_binary())
    return pa.concat_arrays([genesis_parent, _Chunk(chain_id, 0, last - 1).block_hash]) if last else genesis_parent


def write_chunks(
    datasets: Sequence[str],
    chain_id: int,
    start: int,
    end: int,
    chunk_size: int,
    out_dir: Path,
    compression: str = "lz4",
    compression_level: int | None = None,
    row_group_size: int | None = None,
    on_chunk: Callable[[], None] = lambda: None,
) -> dict[str, list[Path]]:
    """Write one Parquet file per chunk of `chunk_size` blocks per dataset, for blocks `start..end` inclusive.

    Chunks start at `start` (the last may be shorter). `out_dir` must exist (its owner sets its mode).
    Each file appears whole, under its final name.
    `on_chunk` is called after each chunk's files are written (the last one's too); an exception from
    it stops the work, leaving only whole files behind.
    Returns each dataset's files in block order. Memory follows the chunk, not the range.
    """
    for dataset in datasets:
        _check_dataset(dataset)
    _check_range(start, end)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    options = _parquet_options(compression, compression_level)
    written: dict[str, list[Path]] = {dataset: [] for dataset in datasets}
    for piece in split_range(Partition(start, end), chunk_size):
        first, last = piece.start, piece.end
        chunk = _Chunk(chain_id, first, last)
        for dataset in datasets:
            table = getattr(chunk, dataset)()
            path = Path(out_dir) / chunk_file_name(chain_id, dataset, first, last)
            _write_parquet(table, path, dataset, row_group_size, options)
            written[dataset].append(path)
        on_chunk()
    return written


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"the stub extractor has no dataset {dataset!r}; it has {', '.join(DATASETS)}")
    return dataset


def _check_range(first: int, last: int) -> None:
    if not 0 <= first <= last <= MAX_BLOCK:
        raise ValueError(f"block range {first}..{last} is not within 0..{MAX_BLOCK} in order")


def _parquet_options(compression: str, level: int | None) -> dict[str, object]:
    """pyarrow's codec options for SPEC §3's names. Cryo's `lz4` is Parquet's LZ4_RAW, as pyarrow's is."""
    if compression not in _CODECS:
        raise ValueError(f"unknown compression {compression!r}; expected one of {', '.join(_CODECS)}")
    if level is not None and compression not in _LEVELLED:
        raise ValueError(f"compression {compression!r} takes no level")
    return {"compression": _CODECS[compression], "compression_level": level}


def _write_parquet(
    table: pa.Table, path: Path, dataset: str, row_group_size: int | None, options: dict[str, object]
) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    distinct = _DISTINCT[dataset]
    try:
        pq.write_table(
            table,
            partial,
            # Like Cryo, one row group per file unless told otherwise.
            row_group_size=row_group_size or max(1, table.num_rows),
            # Pinned rather than left to pyarrow's defaults, which have changed between releases.
            version="2.6",
            data_page_version="1.0",
            use_dictionary=[name for name in table.column_names if name not in distinct],
            write_statistics=[f.name for f in table.schema if f.type != pa.large_binary()],
            **options,
        )
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
