"""The current view: the committed files of a job's current config that a reader reads, each block once."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cryo_ingest.job.config import CryoSpec
from cryo_ingest.publish.layout import Chunk, plan_chunks
from cryo_ingest.read.catalog import Stored, catalog
from trace_operators.contract import ObjectStore, Partition


def current_versions(
    spec: CryoSpec,
    store: ObjectStore,
    dataset: str,
    within: Partition | None = None,
    grid: Partition | None = None,
    stored: Sequence[Stored] | None = None,
) -> list[Stored]:
    """The published versions of the current config to read over `within`, none overlapping another, in order.

    Where published partitions overlap, those on the job's own grid win, then the longer; the rest fill what is
    left with their whole chunk files (a version may be read in part: its `span`).
    `stored` is the dataset's catalog when the caller has listed it already.
    """
    listed = catalog(spec, store, dataset) if stored is None else stored
    published = [s for s in listed if s.state == "published" and _meets(s, within)]
    starts: list[int] = []
    ends: list[int] = []
    chosen: list[Stored] = []
    for version in sorted(published, key=lambda s: (not _on_grid(s, grid), s.start - s.end, s.start)):
        run: list[Chunk] = []
        runs: list[list[Chunk]] = []
        for chunk in plan_chunks(version.partition, spec.chunk_size):
            at = bisect.bisect_right(starts, chunk.last)
            if at and ends[at - 1] >= chunk.first:  # a chosen piece holds a block of this chunk
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(chunk)
        if run:
            runs.append(run)
        for piece in runs:
            first, last = piece[0].first, piece[-1].last
            whole = (first, last) == (version.start, version.end)
            chosen.append(version if whole else replace(version, span=(first, last)))
            at = bisect.bisect(starts, first)
            starts.insert(at, first)
            ends.insert(at, last)
    return sorted(chosen, key=lambda s: s.read.start)


def current_keys(spec: CryoSpec, versions: Sequence[Stored], within: Partition | None = None) -> list[str]:
    """The object key of every chunk file of `versions` that holds a block of `within`, in block order."""
    keys = []
    for stored in versions:
        assert stored.target is not None  # a published version is the current config's
        chunks = plan_chunks(stored.partition, spec.chunk_size)
        read = stored.read
        keys += [
            key
            for chunk, key in zip(chunks, stored.target.file_keys)
            if read.start <= chunk.first <= chunk.last <= read.end
            and _meets(Partition(chunk.first, chunk.last), within)
        ]
    return keys


def object_url(store: ObjectStore, key: str) -> str:
    """What DuckDB, polars and pyarrow open as is: a local path, or `s3://bucket/key`."""
    if store.scheme == "file":
        return str(Path(store.bucket, *key.split("/")))
    return f"{store.scheme}://{store.bucket}/{key}"


def _meets(stored: Stored | Partition, within: Partition | None) -> bool:
    return within is None or (stored.start <= within.end and within.start <= stored.end)


def _on_grid(stored: Stored, grid: Partition | None) -> bool:
    """Whether the version is one of the job's own partitions: aligned to its first one and of its size."""
    if grid is None:
        return True
    return (stored.start - grid.start) % grid.blocks == 0 and stored.end - stored.start < grid.blocks
