"""Cryo's tables against the node's headers: a node or gateway that answers wrongly makes Cryo write wrong tables.

Cryo takes every answer at its word: `[]` from `eth_getLogs`, `eth_getBlockReceipts` or `trace_block`
drops rows, another block's body writes that block. What the headers give cheaply settles it: each row's
block hash and transaction are the node's (every dataset with those columns); each block has the node's
number of transactions; logs are there exactly where the block's bloom is not empty, and each log's
address and topics are in it; every transaction has traces. Datasets with neither a block nor a
transaction hash column (`vm_traces`) get only the checks of `tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cryo_ingest.checks.bloom import in_bloom
from cryo_ingest.checks.columns import block_pairs, by_block, disagreement, is_hex, lowest, rows_per_block
from cryo_ingest.extract.cryo.headers import Header
from cryo_ingest.publish.layout import Chunk

Headers = Mapping[int, Header]


@dataclass(frozen=True)
class _Check:
    """A comparison and the columns it reads: it runs only on files that hold them all."""

    columns: tuple[str, ...]
    #: What disagrees, or None.
    compare: Callable[[pa.Table, Chunk, Headers], str | None]


def check_against_node(
    files: Mapping[str, Sequence[Path]], chunks: Sequence[Chunk], headers: Headers, pool: str
) -> None:
    """`RetryableError` for the first chunk file that disagrees with the node's headers of its blocks.

    A check whose column is not in the file (the job excluded it) is skipped.
    """
    for dataset, paths in files.items():
        checks = [*_EVERY_DATASET, *_DATASET.get(dataset, ())]
        for chunk, path in zip(chunks, paths, strict=True):
            file = pq.ParquetFile(path)
            names = set(file.schema_arrow.names)
            runs = [check for check in checks if set(check.columns) <= names]
            if not runs:
                continue
            table = file.read(columns=list(dict.fromkeys(name for check in runs for name in check.columns)))
            for check in runs:
                if detail := check.compare(table, chunk, headers):
                    raise disagreement(dataset, chunk, "the node", pool, detail)


def _block_hashes(table: pa.Table, chunk: Chunk, headers: Headers) -> str | None:
    for number, hashes in by_block(table, "block_hash").items():
        header = headers.get(number)  # a row outside the range is `tables`' to report
        if header is not None and hashes != {header.hash}:
            other = min(hashes - {header.hash})
            return f"block {number}'s hash is 0x{other.hex()}, the node's 0x{header.hash.hex()}"
    return None


def _known_transactions(table: pa.Table, chunk: Chunk, headers: Headers) -> str | None:
    have = block_pairs(table, "transaction_hash", chunk.first, chunk.last)
    unknown = have.join(_node_transactions(headers, chunk, have), _PAIR, join_type="left anti")
    if unknown.num_rows:
        number, value = lowest(unknown, "transaction_hash")
        return f"transaction 0x{value.hex()} of block {number} is not one of the node's"
    return None


def _node_transactions(headers: Headers, chunk: Chunk, like: pa.Table) -> pa.Table:
    """The node's (block_number, transaction_hash) pairs of the chunk, typed as the pairs of `like`."""
    numbers = range(chunk.first, chunk.last + 1)
    counts = [headers[n].transaction_count for n in numbers]
    joined = b"".join(headers[n].transactions for n in numbers)
    hashes: pa.Array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), sum(counts), [None, pa.py_buffer(joined)])
    wanted = like.schema.field("transaction_hash").type
    if is_hex(wanted):  # 0x strings, in lower case as `block_pairs` has them
        hashes = pa.array(["0x" + joined[i : i + 32].hex() for i in range(0, len(joined), 32)], wanted)
    numbered = [n for n, count in zip(numbers, counts) for _ in range(count)]
    blocks = pa.array(numbered, like.schema.field("block_number").type)
    return pa.table({"block_number": blocks, "transaction_hash": pc.cast(hashes, wanted)})


def _transaction_counts(table: pa.Table, chunk: Chunk, headers: Headers) -> str | None:
    counts = rows_per_block(table)
    for number in range(chunk.first, chunk.last + 1):
        have, want = counts.get(number, 0), headers[number].transaction_count
        if have != want:
            return f"block {number} has {have} transaction(s), the node's has {want}"
    return None


def _every_transaction_traced(table: pa.Table, chunk: Chunk, headers: Headers) -> str | None:
    traced = block_pairs(table, "transaction_hash", chunk.first, chunk.last)
    missing = _node_transactions(headers, chunk, traced).join(traced, _PAIR, join_type="left anti")
    if missing.num_rows:
        number, value = lowest(missing, "transaction_hash")
        return f"transaction 0x{value.hex()} of block {number} has no traces"
    return None


def _logs_where_bloom(table: pa.Table, chunk: Chunk, headers: Headers) -> str | None:
    counts = rows_per_block(table)
    for number in range(chunk.first, chunk.last + 1):
        bloom = headers[number].bloom
        if bloom and number not in counts:
            return f"block {number}'s bloom is not empty but no logs were extracted"
        if not bloom and number in counts:
            return f"block {number}'s bloom is empty but {counts[number]} log(s) were extracted"
    return None


def _logs_in_bloom(column: str, table: pa.Table, chunk: Chunk, headers: Headers) -> str | None:
    for number, values in by_block(table, column).items():
        header = headers.get(number)
        if header is not None and (absent := [v for v in values if not in_bloom(header.bloom, v)]):
            return f"the {column} 0x{min(absent).hex()} of a log of block {number} is not in the block's bloom"
    return None


_PAIR = ["block_number", "transaction_hash"]
_EVERY_DATASET = (
    _Check(("block_number", "block_hash"), _block_hashes),
    _Check(("block_number", "transaction_hash"), _known_transactions),
)
_DATASET: dict[str, tuple[_Check, ...]] = {
    "transactions": (_Check(("block_number",), _transaction_counts),),
    "logs": (
        _Check(("block_number",), _logs_where_bloom),
        *(
            _Check(("block_number", column), partial(_logs_in_bloom, column))
            for column in ("address", "topic0", "topic1", "topic2", "topic3")
        ),
    ),
    "traces": (_Check(("block_number", "transaction_hash"), _every_transaction_traced),),
}
