"""Where a publication lives (SPEC §5): every key and file name comes from here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryo_ingest.publish.versions import dataset_version
from trace_operators.contract import FatalError, ObjectStore, Partition

if TYPE_CHECKING:
    from cryo_ingest.job.config import CryoSpec

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
#: What a job may ask for: the Query Service reads at most 1024 keys a manifest; the platform caps a range at
#: 256 files. Validation holds jobs to it.
MAX_FILES_PER_PARTITION = 256
#: Bounds on one partition that a task may not pass, far above what a job may ask for.
MAX_BLOCKS = 10_000_000
MAX_CHUNKS = 10_000


@dataclass(frozen=True, order=True)
class Chunk:
    """An inclusive block range written as one Parquet file per dataset, as Cryo's chunks are."""

    first: int
    last: int

    def file_name(self, chain_id: int, dataset: str) -> str:
        """Cryo's own name for the chunk's file, with the inclusive range."""
        return f"{chain_id}__{dataset}__{self.first:08d}_to_{self.last:08d}.parquet"


def files_needed(blocks: int, chunk_size: int) -> int:
    """How many chunk files `blocks` blocks make in chunks of `chunk_size`, the last one shorter."""
    return -(-blocks // chunk_size)


def plan_chunks(partition: Partition, chunk_size: int) -> list[Chunk]:
    """Chunks of `chunk_size` blocks from the partition's start, the last one shorter, as Cryo cuts them."""
    if type(chunk_size) is not int or chunk_size < 1:
        raise FatalError(f"chunk_size must be an integer of at least 1, not {chunk_size!r}")
    if partition.blocks > MAX_BLOCKS or files_needed(partition.blocks, chunk_size) > MAX_CHUNKS:
        raise FatalError(
            f"blocks {partition.start}..{partition.end} in chunks of {chunk_size} exceed one partition's bounds "
            f"({MAX_BLOCKS:,} blocks, {MAX_CHUNKS:,} files)"
        )
    return [Chunk(p.start, p.end) for p in partition.split(chunk_size)]


@dataclass(frozen=True)
class Target:
    """Where and as what one dataset of one partition is published."""

    output_index: int
    dataset: str
    chain_id: int
    start: int
    end: int
    dataset_uuid: str
    dataset_version: str
    config_hash: str
    #: Full object key prefix of the version, ending in `/`.
    prefix: str
    extractor: str
    extractor_version: str
    #: The full object key of every chunk file the version holds, in block order.
    file_keys: tuple[str, ...]


def targets(spec: CryoSpec, partition: Partition, store: ObjectStore, uuids: Mapping[int, str]) -> list[Target]:
    """One target per dataset of the job, in output order; `uuids` are the runtime's, by output index."""
    out = []
    chunks = plan_chunks(partition, spec.chunk_size)
    for index, dataset in enumerate(spec.datasets):
        hash_ = spec.config_hashes[index]
        uuid_ = uuids.get(index) or spec.default_uuids[index]
        version = dataset_version(uuid_, spec.chain_id, dataset, partition.start, partition.end, hash_)
        prefix = store.key(version_prefix(spec.chain_id, dataset, partition.start, partition.end, version))
        out.append(
            Target(
                index,
                dataset,
                spec.chain_id,
                partition.start,
                partition.end,
                uuid_,
                version,
                hash_,
                prefix,
                spec.extractor,
                spec.extractor_version,
                tuple(prefix + chunk.file_name(spec.chain_id, dataset) for chunk in chunks),
            )
        )
    return out


def chain_prefix(chain_id: int) -> str:
    """Relative key prefix of everything published for a chain, ending in `/`."""
    return f"cryo/{chain_id}/"


def version_prefix(chain_id: int, dataset: str, start: int, end: int, version: str) -> str:
    """Relative key prefix of one version, ending in `/`."""
    return f"{chain_prefix(chain_id)}{dataset}/{start}_{end}/{version}/"
