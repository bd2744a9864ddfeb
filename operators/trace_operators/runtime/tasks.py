"""A task as the runtime hands it over (SPEC §8), checked field by field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trace_operators.contract import FatalError, Partition

MAX_TASK_BYTES = 1 << 20


@dataclass(frozen=True)
class Task:
    task_id: str
    attempt: int
    job: Mapping[str, Any]
    partition: Partition
    #: `dataset_uuid` per output index, when the runtime assigns them.
    dataset_uuids: dict[int, str] = field(default_factory=dict)


def _int(value: Any, where: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise FatalError(f"task {where} must be an integer >= {minimum}, not {json.dumps(value)[:40]}")
    return value


def _partition(raw: Any) -> Partition:
    if not isinstance(raw, Mapping):
        raise FatalError('task partition is missing: expected {"partition_key": "0-999", "start": 0, "end": 999}')
    start, end = _int(raw.get("start"), "partition.start", 0), _int(raw.get("end"), "partition.end", 0)
    if end < start:
        raise FatalError(f"task partition ends before it starts: start {start}, end {end} (end is inclusive)")
    key = raw.get("partition_key", "")
    if not isinstance(key, str):
        raise FatalError("task partition.partition_key must be a string")
    return Partition(start, end, key)


def _outputs(raw: Any) -> dict[int, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(
        isinstance(o, Mapping) and isinstance(o.get("dataset_uuid"), str) and o.get("dataset_uuid") for o in raw
    ):
        raise FatalError('task outputs must be a list of {"output_index": N, "dataset_uuid": "..."}')
    return {_int(o.get("output_index"), "outputs[].output_index", 0): o["dataset_uuid"] for o in raw}


def parse_task(text: str | bytes) -> Task:
    """A `Task` from its JSON; anything malformed is a `FatalError` saying what and where."""
    if len(text) > MAX_TASK_BYTES:
        raise FatalError(f"task JSON is larger than {MAX_TASK_BYTES} bytes")
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise FatalError(f"task is not valid JSON: {error}") from None
    if not isinstance(raw, Mapping):
        raise FatalError("task must be a JSON object with task_id, attempt, job and partition")
    task_id = raw.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise FatalError("task task_id must be a non-empty string")
    job = raw.get("job")
    if not isinstance(job, Mapping):
        raise FatalError("task job must be the job block, a JSON object")
    return Task(
        task_id,
        _int(raw.get("attempt"), "attempt", 1),
        job,
        _partition(raw.get("partition")),
        _outputs(raw.get("outputs")),
    )
