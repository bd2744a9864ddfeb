"""Cutting a fixed block range into partitions (and partitions into chunks: the same shape)."""

from __future__ import annotations

from trace_operators.contract import Partition


def split_range(span: Partition, size: int | None) -> list[Partition]:
    """Consecutive inclusive pieces of `size` blocks covering `span`; the whole span when size is None."""
    if size is None:
        return [Partition(span.start, span.end)]
    if size < 1:
        raise ValueError(f"size must be >= 1, not {size}")
    return [Partition(first, min(first + size - 1, span.end)) for first in range(span.start, span.end + 1, size)]
