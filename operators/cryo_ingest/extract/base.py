"""What an extractor is asked for and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.job.options import OutputOptions, Throughput
from trace_operators.contract import RetryableError, TaskContext


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


class PartialExtraction(RetryableError):
    """Some datasets failed; `whole` holds the files of those whose every chunk was written, to publish now.

    The retry then extracts only the rest: a 503 on `trace_block` does not make blocks and logs be fetched again.
    """

    def __init__(self, message: str, whole: dict[str, list[Path]]) -> None:
        super().__init__(message)
        self.whole = whole


class Extractor(Protocol):
    name: str
    version: str

    def extract(self, request: ExtractRequest, ctx: TaskContext) -> dict[str, list[Path]]:
        """Write one Parquet file per chunk and dataset into `request.out_dir`.

        Files are named `{chain_id}__{dataset}__{first:08d}_to_{last:08d}.parquet`, chunks of
        `chunk_size` blocks from `start`. Raise `RetryableError` (`PartialExtraction` when some datasets are
        whole) or `FatalError`, naming the pool, never the URL.
        """
        ...
