"""Vectorised pseudo-randomness (splitmix64's finaliser over pyarrow uint64 arrays) and the few array
idioms that lay rows out under their parents: a chunk is computed column by column, never row by row.

Every value is a pure function of (chain_id, block number, kind of row, index of the row in its block),
so a block's rows are the same whichever chunk holds it. The hashes take the words' bytes in
little-endian order, which every platform pyarrow ships for has, so values do not depend on the machine.
"""

from __future__ import annotations

from enum import IntEnum
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

_MASK = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15


class Kind(IntEnum):
    """The kind of a row, part of its seed so that rows of different kinds never share one."""

    BLOCK = 0
    TRANSACTION = 1
    LOG = 2
    TRACE = 3


class Draw(IntEnum):
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


# Cached: a chunk asks for the same few dozen scalars hundreds of times, and each new one costs a
# type lookup and two allocations while holding the GIL.
@cache
def u64(value: int) -> pa.Scalar:
    """A uint64 scalar: a bare int would make pyarrow promote uint64 arrays to int64."""
    return pa.scalar(value & _MASK, pa.uint64())


def _mix(x: pa.Array) -> pa.Array:
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit over the output."""
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, u64(30))), u64(0xBF58476D1CE4E5B9))
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, u64(27))), u64(0x94D049BB133111EB))
    return pc.bit_wise_xor(x, pc.shift_right(x, u64(31)))


def _mix_int(x: int) -> int:
    """`_mix` of one Python int."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def chain_seed(chain_id: int) -> pa.Scalar:
    """What sets a chain's rows apart from another chain's."""
    return u64(_mix_int((chain_id * _GOLDEN) & _MASK))


def row_seeds(chain: pa.Scalar, block_number: pa.Array, kind: Kind, index: pa.Array | None = None) -> pa.Array:
    """Distinct rows get distinct seeds: (block, kind, index < 256) is packed losslessly, then mixed."""
    key = pc.bit_wise_or(pc.shift_left(block_number, u64(10)), u64(kind << 8))
    if index is not None:
        key = pc.bit_wise_or(key, index)
    return _mix(pc.bit_wise_xor(key, chain))


#: 0 .. n-1 for the largest n asked yet: every row layout asks for a few, and a slice of it costs nothing.
_counting = [pa.array([], pa.uint64())]


def arange(n: int) -> pa.Array:
    """0 .. n-1 as uint64."""
    if len(_counting[0]) < n:
        _counting[0] = pc.indices_nonzero(pa.repeat(True, max(n, 2 * len(_counting[0]))))
    return _counting[0].slice(0, n)


def draw(seed: pa.Array, stream: Draw, below: int) -> pa.Array:
    """A uniform uint64 in [0, below) per seed (below < 2**32), one independent stream per purpose."""
    # Seeds are already full splitmix64 outputs, so one xorshift-multiply round separates the streams;
    # the top 32 bits of the product scale to [0, below) without a division (Lemire's method).
    x = pc.add(seed, u64(stream * _GOLDEN))
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, u64(32))), u64(0xD6E8FEB86659FD93))
    return pc.shift_right(pc.multiply(pc.shift_right(x, u64(32)), u64(below)), u64(32))


def random_bytes(seed: pa.Array, width: int, stream: int = 0) -> pa.Array:
    """`width` (at most 32) pseudo-random bytes per seed; with stream 0 the first 8 are a bijection of it."""
    position = arange(len(seed) * 4)
    lane = pc.bit_wise_and(position, u64(3))
    offset = pc.multiply(pc.add(lane, u64(4 * stream)), u64(_GOLDEN))
    words = _mix(pc.add(pc.take(seed, pc.shift_right(position, u64(2))), offset))
    hashes = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), len(seed), [None, words.buffers()[1]])
    return (hashes if width == 32 else pc.binary_slice(hashes, 0, width)).cast(pa.large_binary())


def expand(counts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """For `counts[i]` children of parent i: each child's parent, and each parent's first child then the end (int64)."""
    total = pc.cumulative_sum(counts.cast(pa.int64()))
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), total])
    lists = pa.LargeListArray.from_arrays(offsets, pa.nulls(offsets[-1].as_py()))
    return pc.list_parent_indices(lists), offsets


def position_in(offsets: pa.Array, parent: pa.Array) -> pa.Array:
    """Each child's position among the children of its parent, as uint64."""
    first = pc.take(offsets, parent).cast(pa.uint64())
    return pc.subtract(arange(len(parent)), first)


def sum_by(values: pa.Array, offsets: pa.Array) -> pa.Array:
    """Per parent, the sum of its children's `values` (uint64), children laid out by `offsets`."""
    running = pa.concat_arrays([pa.array([0], pa.uint64()), pc.cumulative_sum(values)])
    return pc.subtract(pc.take(running, offsets[1:]), pc.take(running, offsets[:-1]))
