"""The stub as an `Extractor`: no node, no Cryo, and no pyarrow until it writes."""

from __future__ import annotations

from pathlib import Path

from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.extract.stub.shape import STUB_VERSION
from cryo_ingest.publish.layout import Chunk
from trace_operators.contract import TaskContext


class StubExtractor:
    """The deterministic synthetic chain."""

    name = "stub"
    version = STUB_VERSION

    def extract(self, request: ExtractRequest, ctx: TaskContext) -> dict[str, list[Path]]:
        """Write the request's chunks, reporting each and checking for cancellation and the deadline after it."""
        from cryo_ingest.extract.stub.writer import write_chunks

        def chunk_done(chunk: Chunk) -> None:
            ctx.on_chunk(chunk.last - chunk.first + 1)
            ctx.checkpoint()

        out = request.output
        return write_chunks(
            request.datasets,
            request.chain_id,
            request.start,
            request.end,
            request.chunk_size,
            request.out_dir,
            compression=out.compression,
            row_group_size=out.row_group_size,
            on_chunk=chunk_done,
        )
