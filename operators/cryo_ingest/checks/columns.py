"""What the checks share: a column's bounds, values as bytes, rows by block, and the message of a failure."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cryo_ingest.publish.layout import Chunk
from trace_operators.contract import RetryableError


def bounds(file: pq.ParquetFile, column: str) -> tuple[Any, Any, int]:
    """Lowest and highest value of `column` and its nulls; from the footer when it has them, else from the values.

    The stub's files keep min and max in their statistics, which spares reading the column; Cryo's (Polars) do not.
    """
    metadata = file.metadata
    found = []
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group)
        stats = next(
            (chunk.column(i).statistics for i in range(chunk.num_columns) if chunk.column(i).path_in_schema == column),
            None,
        )
        if stats is None or not stats.has_min_max or not stats.has_null_count:
            values = file.read(columns=[column]).column(column)
            extremes = pc.min_max(values)
            return extremes["min"].as_py(), extremes["max"].as_py(), values.null_count
        found.append(stats)
    return min(s.min for s in found), max(s.max for s in found), sum(s.null_count for s in found)


def as_bytes(value: bytes | str) -> bytes:
    """A binary value as bytes, also when the job's `hex` option wrote it as a 0x string."""
    return value if isinstance(value, bytes) else bytes.fromhex(value[2:])


def by_block(table: pa.Table, column: str) -> dict[int, set[bytes]]:
    """The distinct non-null values of `column` in each block's rows."""
    pairs = table.select(["block_number", column]).group_by(["block_number", column]).aggregate([])
    grouped: dict[int, set[bytes]] = {}
    for block, value in zip(pairs.column("block_number").to_pylist(), pairs.column(column).to_pylist()):
        if block is not None and value is not None:
            grouped.setdefault(block, set()).add(as_bytes(value))
    return grouped


def block_pairs(table: pa.Table, column: str, first: int, last: int) -> pa.Table:
    """The distinct (block_number, `column`) pairs of blocks `first`..`last`, nulls dropped, 0x strings in lower
    case: what a join compares (a row outside the range is `tables`' to report)."""
    pairs = table.select(["block_number", column]).drop_null()
    number = pairs.column("block_number")
    pairs = pairs.filter(pc.and_(pc.greater_equal(number, first), pc.less_equal(number, last)))
    if is_hex(pairs.schema.field(column).type):
        pairs = pairs.set_column(1, column, pc.utf8_lower(pairs.column(column)))
    return pairs.group_by(["block_number", column]).aggregate([])


def is_hex(kind: pa.DataType) -> bool:
    """Whether a binary column was written as 0x strings (the job's `hex` option)."""
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def lowest(pairs: pa.Table, column: str) -> tuple[int, bytes]:
    """The pair of the lowest block, and in it the lowest value, of a non-empty table of pairs."""
    first = pairs.sort_by([("block_number", "ascending"), (column, "ascending")]).slice(0, 1).to_pylist()[0]
    return first["block_number"], as_bytes(first[column])


def rows_per_block(table: pa.Table) -> dict[int, int]:
    """How many rows each block has."""
    counts = table.column("block_number").value_counts()
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))


def disagreement(dataset: str, chunk: Chunk, reference: str, pool: str | None, detail: str) -> RetryableError:
    """The error for a table of `chunk` that disagrees with `reference`; it names the pool when a node gave it."""
    source, check = (f" (pool {pool})", ", or check the node") if pool else ("", "")
    return RetryableError(
        f"{dataset} of blocks {chunk.first}..{chunk.last} disagree with {reference}{source}: {detail}; retry{check}"
    )
