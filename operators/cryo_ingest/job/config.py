"""The job's `config` as typed values, with defaults applied and aliases normalised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from cryo_ingest.job.datasets import canonical
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.job.options import Compression, OutputOptions, Throughput
from cryo_ingest.publish.versions import config_hash, dataset_uuid

DEFAULT_CHUNK_SIZE = 1000
#: Blocks behind the head taken as not yet safe, for a node without a `finalized` block.
DEFAULT_FINALITY_DEPTH = 64


@dataclass(frozen=True)
class CryoSpec:
    """The operator's own part of a resolved job."""

    chain_id: int
    datasets: tuple[str, ...]
    rpc_pool: str
    chunk_size: int
    output: OutputOptions
    throughput: Throughput
    extractor: str = "stub"
    extractor_version: str = ""
    endpoint: Endpoint | None = None
    #: Where `follow` stops short of the head; decides when blocks are published, never what: not hashed.
    finality_depth_blocks: int = DEFAULT_FINALITY_DEPTH

    def hashed_config(self, dataset: str) -> dict[str, Any]:
        """The output-affecting config of one dataset: what its config hash covers."""
        out = self.output
        return {
            "chain_id": self.chain_id,
            "dataset": dataset,
            "chunk_size": self.chunk_size,
            "include_columns": list(out.include_columns.get(dataset, ())),
            "exclude_columns": list(out.exclude_columns.get(dataset, ())),
            "u256_types": list(out.u256_types) if out.u256_types else None,
            "hex": out.hex,
            "compression": out.compression.codec,
            "compression_level": out.compression.level,
            "row_group_size": out.row_group_size,
        }

    @cached_property
    def config_hashes(self) -> tuple[str, ...]:
        """Each dataset's config hash, in output order: the same for every partition, so hashed once per job."""
        return tuple(config_hash(self.hashed_config(d), self.extractor, self.extractor_version) for d in self.datasets)

    @cached_property
    def default_uuids(self) -> tuple[str, ...]:
        """Each dataset's uuid when the runtime assigns none, in output order."""
        return tuple(dataset_uuid(self.chain_id, d) for d in self.datasets)


def _columns(raw: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    return {canonical(name) or name: tuple(cols) for name, cols in (raw or {}).items()}


def spec_from_config(
    config: Mapping[str, Any], extractor: str = "stub", extractor_version: str = "", endpoint: Endpoint | None = None
) -> CryoSpec:
    """Build the typed spec of a config the schema has already accepted."""
    u256 = config.get("u256_types")
    return CryoSpec(
        chain_id=config["chain_id"],
        datasets=tuple(canonical(name) or name for name in config["datasets"]),
        rpc_pool=config["rpc_pool"],
        chunk_size=config.get("chunk_size", DEFAULT_CHUNK_SIZE),
        output=OutputOptions(
            include_columns=_columns(config.get("include_columns")),
            exclude_columns=_columns(config.get("exclude_columns")),
            u256_types=tuple(u256) if u256 else None,
            hex=config.get("hex", False),
            compression=Compression.parse(config.get("compression", "lz4")),
            row_group_size=config.get("row_group_size"),
        ),
        throughput=Throughput(**{f: config.get(f) for f in asdict(Throughput())}),
        extractor=extractor,
        extractor_version=extractor_version,
        endpoint=endpoint,
        finality_depth_blocks=config.get("finality_depth_blocks", DEFAULT_FINALITY_DEPTH),
    )
