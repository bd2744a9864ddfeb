"""What an extractor is asked for and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol

from trace_operators.contract import TaskContext


@dataclass(frozen=True)
class OutputOptions:
    """Options that change the bytes written: part of the config hash."""

    include_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    u256_types: tuple[str, ...] | None = None
    hex: bool = False
    compression: str = "lz4"
    compression_level: int | None = None
    row_group_size: int | None = None


@dataclass(frozen=True)
class Throughput:
    """Options that change only how fast Cryo reads: not in the config hash."""

    requests_per_second: int | None = None
    max_concurrent_requests: int | None = None
    max_concurrent_chunks: int | None = None
    max_retries: int | None = None
    initial_backoff_ms: int | None = None
    inner_request_size: int | None = None


@dataclass(frozen=True)
class Endpoint:
    """An RPC endpoint of a pool; the URL is a secret and never shown."""

    pool: str
    url: str = field(repr=False)
    #: The environment variable it came from, safe to name in messages.
    source: str = ""


@dataclass(frozen=True)
class ExtractRequest:
    chain_id: int
    datasets: tuple[str, ...]
    #: Inclusive block range of the partition.
    start: int
    end: int
    chunk_size: int
    output: OutputOptions
    throughput: Throughput
    out_dir: Path
    endpoint: Endpoint | None = None


class Extractor(Protocol):
    name: str
    version: str

    def extract(self, request: ExtractRequest, ctx: TaskContext) -> dict[str, list[Path]]:
        """Write one Parquet file per chunk and dataset into `request.out_dir`.

        Files are named `{chain_id}__{dataset}__{first:08d}_to_{last:08d}.parquet`, chunks of
        `chunk_size` blocks from `start`. Raise `RetryableError` or `FatalError` with a redacted message.
        """
        ...
