"""Choosing an extractor: `--extractor stub|cryo`, else `TRACE_CRYO_MODE` (`fake` = stub, `real` = cryo)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from trace_operators.contract import FatalError, TaskContext

from cryo_ingest.extract.base import Extractor, ExtractRequest

MODE_VARIABLE = "TRACE_CRYO_MODE"
_MODES = {"fake": "stub", "stub": "stub", "real": "cryo", "cryo": "cryo"}


def extractor_name(env: Mapping[str, str]) -> str:
    mode = env.get(MODE_VARIABLE) or "fake"
    if mode not in _MODES:
        raise FatalError(f"{MODE_VARIABLE}={mode!r} is not a mode: use fake (the stub) or real (Cryo)")
    return _MODES[mode]


class StubExtractor:
    """The deterministic synthetic chain: no node, no Cryo."""

    name = "stub"

    def __init__(self) -> None:
        from cryo_ingest.extract import stub

        self._stub = stub
        self.version = stub.STUB_VERSION

    def extract(self, request: ExtractRequest, ctx: TaskContext) -> dict[str, list[Path]]:
        out = request.output
        return self._stub.write_chunks(
            request.datasets,
            request.chain_id,
            request.start,
            request.end,
            request.chunk_size,
            request.out_dir,
            compression=out.compression,
            compression_level=out.compression_level,
            row_group_size=out.row_group_size,
            on_chunk=ctx.checkpoint,
        )


@cache
def load_extractor(name: str) -> Extractor:
    """The extractor called `name`, built once per process; Cryo is imported only when asked for."""
    if name == "stub":
        return StubExtractor()
    from cryo_ingest.extract.cryo.extractor import CryoExtractor

    return CryoExtractor()
