"""Output and throughput options of a job: what changes the bytes written, and what only the speed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutputOptions:
    """Options that change the bytes written: part of the config hash."""

    include_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    u256_types: tuple[str, ...] | None = None
    hex: bool = False
    compression: Compression = Compression()
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
