"""The stub's chunks written as Cryo writes Parquet: one file per chunk and dataset, each appearing whole.

Same inputs, same bytes: the values are deterministic and the write options are pinned. Parquet's
footer names the pyarrow version that wrote it (`created_by`, which pyarrow does not let us set), so
files are byte-identical only between machines with the same pyarrow.
"""

from __future__ import annotations

import bisect
import errno
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cryo_ingest.extract.stub.chunk import TransactionFacts
from cryo_ingest.extract.stub.pools import pools
from cryo_ingest.extract.stub.shape import check_dataset, stub_blocks
from cryo_ingest.extract.stub.tables import BUILDERS
from cryo_ingest.job.options import LZ4, Compression
from cryo_ingest.publish.layout import Chunk, plan_chunks
from cryo_ingest.publish.staging import ROOT_VAR
from trace_operators.contract import RetryableError

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
#: The columns with statistics: what readers prune on and the checks bound (`checks.tables`). As in Cryo's own
#: files, no other column has them: min and max of every column cost a fifth of the writer's time.
_PRUNED = ("block_number", "chain_id")
#: Consecutive chunks are generated together up to this many blocks: each of the few hundred compute calls
#: a table takes costs about as much as a thousand rows of its work, so one call over five chunks pays
#: that once instead of five times (12 µs a block instead of 21) while memory stays bounded.
BATCH_BLOCKS = 5_000


def write_chunks(
    datasets: Sequence[str],
    chain_id: int,
    start: int,
    end: int,
    chunk_size: int,
    out_dir: Path,
    compression: Compression = LZ4,
    row_group_size: int | None = None,
    on_chunk: Callable[[Chunk], None] = lambda chunk: None,
) -> dict[str, list[Path]]:
    """Write one Parquet file per chunk of `chunk_size` blocks per dataset, for blocks `start..end` inclusive.

    Chunks start at `start` (the last may be shorter). `out_dir` must exist (its owner sets its mode).
    `on_chunk` is told each chunk once its files are written (the last one's too); an exception from
    it stops the work, leaving only whole files behind.
    Returns each dataset's files in block order. Memory follows `BATCH_BLOCKS` and the chunk, not the range.
    """
    for dataset in datasets:
        check_dataset(dataset)
    chunks = plan_chunks(stub_blocks(start, end), chunk_size)
    options = compression.pyarrow_options()
    written: dict[str, list[Path]] = {dataset: [] for dataset in datasets}
    for batch in _batches(chunks):
        # A block's rows do not depend on the range they are computed in, so a chunk cut from its batch's
        # tables holds the same values, and its file the same bytes, as one computed alone.
        facts = TransactionFacts(chain_id, batch[0].first, batch[-1].last)
        tables = {dataset: BUILDERS[dataset](facts) for dataset in datasets}
        for chunk in batch:
            for dataset, table in tables.items():
                path = out_dir / chunk.file_name(chain_id, dataset)
                _write_parquet(_rows_of(table, chunk), path, _DISTINCT[dataset], row_group_size, options)
                written[dataset].append(path)
            on_chunk(chunk)
    return written


def preload() -> None:
    """Load pyarrow and build the pools now, once, for the worker processes forked after to inherit."""
    pools()


def _batches(chunks: Sequence[Chunk]) -> Iterator[Sequence[Chunk]]:
    """Runs of consecutive chunks of at most `BATCH_BLOCKS` blocks, or of one chunk when it is longer."""
    begin = 0
    for index, chunk in enumerate(chunks):
        if index > begin and chunk.last - chunks[begin].first + 1 > BATCH_BLOCKS:
            yield chunks[begin:index]
            begin = index
    if chunks:
        yield chunks[begin:]


def _rows_of(table: pa.Table, chunk: Chunk) -> pa.Table:
    """The rows of `chunk`'s blocks, a zero-copy slice: every table is in block order."""
    # Two binary searches: a few dozen lookups, where a pass over the batch's column per chunk cost 5% of a run.
    blocks = table.column("block_number")
    first = bisect.bisect_left(blocks, chunk.first, key=_as_int)
    return table.slice(first, bisect.bisect_right(blocks, chunk.last, lo=first, key=_as_int) - first)


def _as_int(value: pa.Scalar) -> int:
    return int(value.as_py())


def _write_parquet(
    table: pa.Table, path: Path, distinct: set[str], row_group_size: int | None, options: dict[str, object]
) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
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
            write_statistics=[name for name in _PRUNED if name in table.column_names],
            **options,
        )
        os.replace(partial, path)
    except BaseException as error:
        partial.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RetryableError(
                f"no space left on the staging filesystem, writing {path}: free space there or set {ROOT_VAR} "
                f"to a larger one ({error.strerror})"
            ) from None
        raise
