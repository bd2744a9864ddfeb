"""Output and throughput options of a job: what changes the bytes written, and what only the speed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from trace_operators.contract import FatalError


@dataclass(frozen=True)
class Codec:
    """A Parquet codec as SPEC §3 names it, and as pyarrow spells it; levelled codecs know their range."""

    pyarrow: str
    #: (lowest, highest, Cryo's level when none is given); None for a codec that takes no level.
    levels: tuple[int, int, int] | None = None


#: Every codec a job may name: Cryo writes each of them, and so does the stub through pyarrow.
CODECS: dict[str, Codec] = {
    "lz4": Codec("lz4"),  # Parquet's LZ4_RAW, in Cryo and in pyarrow alike
    "snappy": Codec("snappy"),
    "uncompressed": Codec("none"),
    "zstd": Codec("zstd", (1, 22, 3)),
    "gzip": Codec("gzip", (0, 10, 6)),
    "brotli": Codec("brotli", (0, 11, 1)),
}


@dataclass(frozen=True)
class Compression:
    """A codec and its optional level, as `zstd:3` or `lz4` in a job's config."""

    codec: str = "lz4"
    level: int | None = None

    def __post_init__(self) -> None:
        known = CODECS.get(self.codec)
        if known is None:
            raise FatalError(
                f"compression {self.codec!r} is not one Cryo writes: use {', '.join(CODECS)}, "
                "the last three with an optional level as zstd:3"
            )
        if self.level is None:
            return
        if known.levels is None:
            raise FatalError(f"compression {self.codec} takes no level")
        lowest, highest, _ = known.levels
        if type(self.level) is not int or not lowest <= self.level <= highest:
            raise FatalError(f"{self.codec} compression takes a level from {lowest} to {highest}, not {self.level!r}")

    @classmethod
    def parse(cls, text: str) -> Compression:
        """`zstd:3` -> Compression("zstd", 3); `lz4` -> Compression("lz4")."""
        codec, _, level = text.partition(":")
        if level and not level.isdigit():
            raise FatalError(f"compression {text!r}: the level after ':' must be a whole number, as zstd:3")
        return cls(codec, int(level) if level else None)

    def cryo_arg(self) -> list[str]:
        """The list Cryo takes (`["zstd", "3"]`); Cryo rejects a levelled codec without a level, so it gets one."""
        levels = CODECS[self.codec].levels
        if levels is None:
            return [self.codec]
        return [self.codec, str(levels[2] if self.level is None else self.level)]

    def pyarrow_options(self) -> dict[str, object]:
        """pyarrow's `compression` and `compression_level` for `pq.write_table`."""
        return {"compression": CODECS[self.codec].pyarrow, "compression_level": self.level}


#: The default: frozen, so one instance serves every job.
LZ4 = Compression()


@dataclass(frozen=True)
class OutputOptions:
    """Options that change the bytes written: part of the config hash."""

    include_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    u256_types: tuple[str, ...] | None = None
    hex: bool = False
    compression: Compression = LZ4
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
