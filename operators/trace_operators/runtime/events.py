"""Range request events as JSON lines, as a manual source sends them: each line checked on its own.

`{"partition_key": "1000-1999", "start": 1000, "end": 1999}` (inclusive; the key is optional and defaults to
`start-end`). Each event is one task, as the dispatcher makes one task per event. A bad line is skipped and
reported with its number, and the good ones run: events are independent requests, delivered at least once, so
one malformed request must not hold the others back; reruns publish nothing twice, so the fixed line can be
sent again with the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from trace_operators.contract import FatalError, Partition
from trace_operators.runtime.tasks import check_task_id

#: An event is under a hundred bytes; a longer line is not one, and is not read into a message.
MAX_LINE_BYTES = 4096
FIELDS = ("partition_key", "start", "end")


@dataclass
class Events:
    """The partitions the lines request, in order and each once, and what was skipped."""

    partitions: list[Partition] = field(default_factory=list)
    #: "line N: why", for each line that is not an event.
    bad: list[str] = field(default_factory=list)
    #: "line N: ...", for each event that repeats an earlier one (at-least-once delivery): run once.
    repeats: list[str] = field(default_factory=list)


def read_events(stream: IO[bytes]) -> Events:
    """Every line of `stream` parsed and checked on its own; blank lines are ignored."""
    events = Events()
    by_range: dict[tuple[int, int], int] = {}
    by_key: dict[str, tuple[int, Partition]] = {}
    for number, line in enumerate(_lines(stream), 1):
        if not line.strip():
            continue
        try:
            partition = parse_event(line)
        except FatalError as error:
            events.bad.append(f"line {number}: {error}")
            continue
        seen = by_key.get(partition.partition_key)
        if seen and (seen[1].start, seen[1].end) != (partition.start, partition.end):
            # One key is one task id, and so one staging directory: two ranges under it would share it.
            events.bad.append(
                f"line {number}: partition_key {partition.partition_key!r} is already line {seen[0]}'s, "
                f"for blocks {seen[1].start}..{seen[1].end}"
            )
        elif (partition.start, partition.end) in by_range:
            first = by_range[partition.start, partition.end]
            events.repeats.append(f"line {number}: blocks {partition.start}..{partition.end} repeat line {first}")
        else:
            by_range[partition.start, partition.end] = number
            by_key[partition.partition_key] = (number, partition)
            events.partitions.append(partition)
    return events


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Each line, cut after MAX_LINE_BYTES + 1 bytes: the rest of a longer line is skipped, never held whole."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


def parse_event(line: bytes) -> Partition:
    """One event's partition; `FatalError` saying what is wrong with the line."""
    if len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        raise FatalError(f"longer than {MAX_LINE_BYTES} bytes: not a range request")
    try:
        raw = json.loads(line)
    except UnicodeDecodeError as error:
        raise FatalError(f"not UTF-8: {error.reason} at byte {error.start}") from None
    except ValueError as error:
        raise FatalError(f"not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise FatalError('not a JSON object: write {"partition_key": "0-999", "start": 0, "end": 999}')
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise FatalError(f"unknown key {unknown[0]!r}: an event has {', '.join(FIELDS)}")
    missing = [name for name in ("start", "end") if name not in raw]
    if missing:
        raise FatalError(f"{missing[0]} is missing: an event has {', '.join(FIELDS)} (the key is optional)")
    key = raw.get("partition_key", "")
    if not isinstance(key, str):
        raise FatalError("partition_key must be a string")
    if key:
        try:
            check_task_id(key)  # it names the task, and so its staging directory
        except FatalError as error:
            raise FatalError(f"partition_key names the task: {error}") from None
    return Partition(raw["start"], raw["end"], key)  # Partition checks start and end
