"""The last committed block of a job, from the current view: where follow resumes, and the hash it continues from."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from cryo_ingest.read import JobView
from cryo_ingest.read.catalog import Stored
from cryo_ingest.read.view import current_keys
from trace_operators.contract import FatalError, ObjectStore, Partition

#: The dataset follow reads block hashes from: the committed data, not a state of its own, is the truth.
BLOCKS = "blocks"


@dataclass(frozen=True)
class Tip:
    """The last committed block and its hash as the committed `blocks` hold it; no hash when nothing is committed."""

    block: int
    hash: bytes | None = None

    def text(self) -> str:
        if self.hash is None:
            return f"nothing committed from block {self.block + 1} on"
        return f"committed through block {self.block}"


def committed_tip(view: JobView, start: int | None) -> Tip:
    """The last block up to which every dataset is published without a gap from `start`.

    Without a `start` (the job's start_block), from the first block any dataset has committed, else block 0.
    """
    listed = {dataset: view.versions(dataset) for dataset in view.spec.datasets}
    if start is None:
        start = min((versions[0].read.start for versions in listed.values() if versions), default=0)
    last = min(_contiguous(versions, start) for versions in listed.values())
    if last < start:
        return Tip(start - 1)
    holding = next(v for v in listed[BLOCKS] if v.read.start <= last <= v.read.end)
    [key] = current_keys(view.spec, [holding], Partition(last, last))
    return Tip(last, block_hash(view.store, key, last))


def _contiguous(versions: Sequence[Stored], start: int) -> int:
    """The last block of the run of `versions` (in block order, none overlapping) that begins at or before `start`."""
    last = start - 1
    for version in versions:
        if version.read.end <= last:
            continue
        if version.read.start > last + 1:
            break
        last = version.read.end
    return last


def block_hash(store: ObjectStore, key: str, number: int) -> bytes:
    """Block `number`'s hash from the committed `blocks` file at `key`."""
    import pyarrow.parquet as pq

    data = store.get_bytes(key)
    if data is None:
        raise FatalError(f"the committed blocks file {key} is missing: run cryo-ingest verify --repair")
    file = pq.ParquetFile(io.BytesIO(data))
    if "block_hash" not in file.schema_arrow.names:
        raise FatalError(
            "follow checks each new block's parent against the committed block_hash of blocks, which this job "
            "excludes: keep the block_hash column"
        )
    table = file.read(columns=["block_number", "block_hash"]).to_pydict()
    for found, hash_ in zip(table["block_number"], table["block_hash"]):
        if found == number and hash_ is not None:
            # `hex: true` writes hashes as 0x-prefixed text.
            return hash_ if isinstance(hash_, bytes) else bytes.fromhex(hash_.removeprefix("0x"))
    raise FatalError(f"the committed blocks file {key} has no hash of block {number}: run cryo-ingest verify")
