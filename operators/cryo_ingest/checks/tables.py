"""Checks that need no node, for every extractor: each block once, no row outside its chunk, the job's chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from cryo_ingest.checks.columns import bounds, disagreement, rows_per_block
from cryo_ingest.publish.layout import Chunk


def check_tables(
    files: Mapping[str, Sequence[Path]], chain_id: int, chunks: Sequence[Chunk], pool: str | None
) -> dict[Path, int]:
    """`RetryableError` for the first chunk file that disagrees with its blocks or the job's chain.

    `files` are each dataset's chunk files in the order of `chunks`; `pool` is the node's, None for the stub.
    A check whose column is not in the file (the job excluded it) is skipped. Returns each file's rows, from
    the footer read for the checks, which the marker lists.
    """
    rows_of: dict[Path, int] = {}
    for dataset, paths in files.items():
        for chunk, path in zip(chunks, paths, strict=True):
            file = pq.ParquetFile(path)
            names, rows = set(file.schema_arrow.names), file.metadata.num_rows
            rows_of[path] = rows
            if "block_number" in names:
                detail = _outside(file, chunk) if rows else None
                if dataset == "blocks" and not detail:
                    detail = _coverage(file, chunk)  # an empty file too: every block is missing
                if detail:
                    raise disagreement(dataset, chunk, "the range", pool, detail)
            if rows and "chain_id" in names and (detail := _chain(file, chain_id)):
                raise disagreement(dataset, chunk, "the job's chain", pool, detail)
    return rows_of


def _outside(file: pq.ParquetFile, chunk: Chunk) -> str | None:
    lowest, highest, nulls = bounds(file, "block_number")
    if nulls:
        return f"{nulls} row(s) have no block_number"
    if lowest < chunk.first or highest > chunk.last:
        return f"rows of block {lowest if lowest < chunk.first else highest} are outside it"
    return None


def _coverage(file: pq.ParquetFile, chunk: Chunk) -> str | None:
    """Each block of the chunk exactly once: Cryo writes whatever body a node gives for a number."""
    table = file.read(columns=["block_number"])
    blocks = chunk.last - chunk.first + 1
    # `_outside` found every row inside the chunk: as many rows as blocks, all distinct, is each block once.
    if table.num_rows == blocks and pc.count_distinct(table.column("block_number")).as_py() == blocks:
        return None
    counts = rows_per_block(table)
    wrong = [
        f"block {n} is missing" if counts.get(n, 0) == 0 else f"block {n} is there {counts[n]} times"
        for n in range(chunk.first, chunk.last + 1)
        if counts.get(n, 0) != 1
    ]
    return " and ".join(wrong[:3]) + (f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else "") if wrong else None


def _chain(file: pq.ParquetFile, chain_id: int) -> str | None:
    """The job's chain in every row: Cryo asks the node's chain id itself, after the operator's own check."""
    lowest, highest, nulls = bounds(file, "chain_id")
    if nulls:
        return f"{nulls} row(s) have no chain_id"
    if lowest != chain_id or highest != chain_id:
        return f"chain_id is {lowest if lowest != chain_id else highest}, not {chain_id}"
    return None
