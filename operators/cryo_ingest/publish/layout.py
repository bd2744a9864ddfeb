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
#: The most chunk files one partition may need per dataset: the Query Service reads at most 1024 keys a manifest
#: and the platform caps a range at 256 files. Validation holds a job's partition_size to it, `plan_chunks` every
#: partition a task or a run brings.
MAX_FILES_PER_PARTITION = 256
#: The last block number Cryo can hold: it keeps block numbers as u32, in memory and in its files.
MAX_BLOCK_NUMBER = 2**32 - 1


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


def too_many_files(blocks: int, chunk_size: int) -> str | None:
    """What is wrong with a partition of `blocks` blocks in chunks of `chunk_size`, if it needs too many files."""
    files = files_needed(blocks, chunk_size)
    if files <= MAX_FILES_PER_PARTITION:
        return None
    return (
        f"{blocks:,} blocks in chunks of {chunk_size:,} make {files:,} Parquet files per dataset; "
        f"at most {MAX_FILES_PER_PARTITION} are allowed"
    )


def past_last_block(block: int) -> str | None:
    """What is wrong with block number `block`, if Cryo cannot hold it."""
    if block <= MAX_BLOCK_NUMBER:
        return None
    return f"block {block:,} is past {MAX_BLOCK_NUMBER:,}, the last block number Cryo can hold (u32)"


def check_last_block(blocks: Partition) -> None:
    """Fatal when the range reaches past the last block number Cryo can hold."""
    if problem := past_last_block(blocks.end):
        raise FatalError(
            f"blocks {blocks.start}..{blocks.end}: {problem}: end the range at block {MAX_BLOCK_NUMBER:,} or below"
        )


def plan_chunks(partition: Partition, chunk_size: int) -> list[Chunk]:
    """Chunks of `chunk_size` blocks from the partition's start, as Cryo cuts them; fatal past validation's bounds."""
    if type(chunk_size) is not int or chunk_size < 1:
        raise FatalError(f"chunk_size must be an integer of at least 1, not {chunk_size!r}")
    check_last_block(partition)
    if problem := too_many_files(partition.blocks, chunk_size):
        raise FatalError(
            f"blocks {partition.start}..{partition.end}: {problem}: split the range into partitions of at most "
            f"{MAX_FILES_PER_PARTITION * chunk_size:,} blocks, or raise chunk_size to at least "
            f"{files_needed(partition.blocks, MAX_FILES_PER_PARTITION):,}"
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
    chunks = plan_chunks(partition, spec.chunk_size)
    return [target(spec, partition, store, index, uuids.get(index), chunks) for index in range(len(spec.datasets))]


def target(
    spec: CryoSpec,
    partition: Partition,
    store: ObjectStore,
    index: int,
    uuid_: str | None = None,
    chunks: list[Chunk] | None = None,
) -> Target:
    """The target of the job's dataset `index` (the default uuid unless the runtime gave one)."""
    dataset = spec.datasets[index]
    hash_ = spec.config_hashes[index]
    uuid_ = uuid_ or spec.default_uuids[index]
    version = dataset_version(uuid_, spec.chain_id, dataset, partition.start, partition.end, hash_)
    prefix = store.key(version_prefix(spec.chain_id, dataset, partition.start, partition.end, version))
    planned = plan_chunks(partition, spec.chunk_size) if chunks is None else chunks
    return Target(
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
        tuple(prefix + chunk.file_name(spec.chain_id, dataset) for chunk in planned),
    )


def chain_prefix(chain_id: int) -> str:
    """Relative key prefix of everything published for a chain, ending in `/`."""
    return f"cryo/{chain_id}/"


def version_prefix(chain_id: int, dataset: str, start: int, end: int, version: str) -> str:
    """Relative key prefix of one version, ending in `/`."""
    return f"{chain_prefix(chain_id)}{dataset}/{start}_{end}/{version}/"
