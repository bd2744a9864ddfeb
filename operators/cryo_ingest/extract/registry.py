"""Choosing an extractor: `--extractor stub|cryo`, else `TRACE_CRYO_MODE` (`fake` = stub, `real` = cryo)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from cryo_ingest.extract.base import Extractor
from trace_operators.contract import FatalError

MODE_VARIABLE = "TRACE_CRYO_MODE"
_MODES = {"fake": "stub", "stub": "stub", "real": "cryo", "cryo": "cryo"}


def extractor_name(env: Mapping[str, str]) -> str:
    mode = env.get(MODE_VARIABLE) or "fake"
    if mode not in _MODES:
        raise FatalError(f"{MODE_VARIABLE}={mode!r} is not a mode: use fake (the stub) or real (Cryo)")
    return _MODES[mode]


def extractor_version(name: str) -> str:
    """The version of the extractor called `name`, known without building it (nor importing pyarrow or Cryo)."""
    if name == "stub":
        from cryo_ingest.extract.stub import STUB_VERSION

        return STUB_VERSION
    from cryo_ingest.extract.cryo.extractor import cryo_version

    return cryo_version()


@cache
def load_extractor(name: str) -> Extractor:
    """The extractor called `name`, built once per process: extractors keep only what holds for the process."""
    if name == "stub":
        from cryo_ingest.extract.stub import StubExtractor

        return StubExtractor()
    from cryo_ingest.extract.cryo.extractor import CryoExtractor

    return CryoExtractor()
