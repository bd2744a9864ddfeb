"""A plan is the range's pieces made on demand: a million partitions cost three numbers until iterated."""

from __future__ import annotations

import tracemalloc

import pytest

from trace_operators.contract import Partition, Pieces

MILLION = Partition(0, 1_000_000 * 1000 - 1)


def test_a_million_partitions_are_planned_without_being_made() -> None:
    tracemalloc.start()
    try:
        pieces = MILLION.split(1000)
        assert (len(pieces), pieces.blocks) == (1_000_000, 1_000_000_000)
        assert (pieces[0], pieces[-1], pieces[500_000]) == (
            Partition(0, 999),
            Partition(999_999_000, 999_999_999),
            Partition(500_000_000, 500_000_999),
        )
        assert pieces[2:4] == [Partition(2000, 2999), Partition(3000, 3999)]
        assert tracemalloc.get_traced_memory()[1] < 64 * 1024
    finally:
        tracemalloc.stop()


def test_iterating_holds_one_partition_at_a_time() -> None:
    pieces = Partition(0, 50_000 - 1).split(1)
    tracemalloc.start()
    try:
        count = sum(1 for _ in pieces)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert peak < 64 * 1024  # a list of them would be about 10 MB


@pytest.mark.parametrize(
    "whole, size, expected",
    [
        (Partition(5, 14), 5, [Partition(5, 9), Partition(10, 14)]),
        (Partition(5, 15), 5, [Partition(5, 9), Partition(10, 14), Partition(15, 15)]),
        (Partition(7, 7), 100, [Partition(7, 7)]),
        (Partition(0, 9), None, [Partition(0, 9)]),
    ],
)
def test_pieces_cover_the_range_in_order_the_last_one_shorter(
    whole: Partition, size: int | None, expected: list[Partition]
) -> None:
    pieces = whole.split(size)
    assert isinstance(pieces, Pieces)
    assert (list(pieces), len(pieces), pieces.blocks) == (expected, len(expected), whole.blocks)
    assert list(reversed(pieces)) == expected[::-1] and pieces.index(expected[-1]) == len(expected) - 1


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="size must be >= 1, not 0"):
        Partition(0, 9).split(0)
