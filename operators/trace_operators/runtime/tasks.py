"""A task as the runtime hands it over (SPEC §8), every field checked before anything else happens."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trace_operators.contract import FatalError, Partition

#: A task holds one job block and one partition, a few KiB: 1 MiB leaves room for any job and bounds what is read.
MAX_TASK_BYTES = 1 << 20
#: Levels of arrays and objects a task may nest; a job block needs six (task, job, inputs, item, where, list).
MAX_TASK_DEPTH = 32
MAX_ATTEMPT = 10_000
#: One path segment, never `.` or `..` (the first character is alphanumeric): staging puts it in a path.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TASK_ID_RULE = (
    "task_id must be 1 to 128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"
)


def check_task_id(task_id: object) -> str:
    """The task id, if it is one that cannot reach outside a directory it names; `FatalError` otherwise."""
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise FatalError(f"{TASK_ID_RULE}, not {_show(task_id)}")
    return task_id


def check_attempt(attempt: object) -> int:
    if type(attempt) is not int or not 1 <= attempt <= MAX_ATTEMPT:
        raise FatalError(f"attempt must be an integer from 1 to {MAX_ATTEMPT}, not {_show(attempt)}")
    return attempt


@dataclass(frozen=True)
class Task:
    """One partition of one job, for one attempt; constructing it checks every field, once."""

    task_id: str
    attempt: int
    job: Mapping[str, Any]
    partition: Partition
    #: (output_index, dataset_uuid) pairs, when the runtime assigns the uuids.
    outputs: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        check_task_id(self.task_id)
        check_attempt(self.attempt)
        seen: set[int] = set()
        for index, value in self.outputs:
            if _index(index) in seen:
                raise FatalError(f"task outputs list output_index {index} twice")
            seen.add(index)
            _uuid(value, index)

    @property
    def dataset_uuids(self) -> dict[int, str]:
        """`dataset_uuid` per output index."""
        return dict(self.outputs)

    def to_json(self) -> str:
        """The task as the runtime hands it over (SPEC §8): what `parse_task` reads back to an equal task."""
        partition = self.partition
        task: dict[str, Any] = {
            "task_id": self.task_id,
            "attempt": self.attempt,
            "job": self.job,
            "partition": {"partition_key": partition.partition_key, "start": partition.start, "end": partition.end},
        }
        if self.outputs:
            task["outputs"] = [{"output_index": index, "dataset_uuid": value} for index, value in self.outputs]
        return json.dumps(task)


def _show(value: Any) -> str:
    return json.dumps(value, default=repr)[:60]


def _index(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise FatalError(f"task outputs[].output_index must be an integer >= 0, not {_show(value)}")
    return value


def _uuid(value: Any, index: int) -> str:
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value.lower():
            return value
    except ValueError:
        pass
    raise FatalError(
        f"task outputs[] dataset_uuid of output {index} must be a UUID as 8-4-4-4-12 hex digits, not {_show(value)}"
    )


def _partition(raw: Any) -> Partition:
    if not isinstance(raw, Mapping):
        raise FatalError('task partition is missing: expected {"partition_key": "0-999", "start": 0, "end": 999}')
    key = raw.get("partition_key", "")
    if not isinstance(key, str):
        raise FatalError("task partition.partition_key must be a string")
    try:
        return Partition(raw.get("start"), raw.get("end"), key)  # type: ignore[arg-type]  # Partition checks them
    except FatalError as error:
        raise FatalError(f"task partition: {error}") from None


def _outputs(raw: Any) -> tuple[tuple[Any, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(o, Mapping) for o in raw):
        raise FatalError('task outputs must be a list of {"output_index": N, "dataset_uuid": "..."}')
    return tuple((output.get("output_index"), output.get("dataset_uuid")) for output in raw)


def _nesting(value: Any) -> int:
    """How many levels of arrays and objects `value` nests, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_task(text: str | bytes) -> Task:
    """A `Task` from its JSON; anything malformed is a `FatalError` saying what and where."""
    if len(text) > MAX_TASK_BYTES:
        raise FatalError(
            f"task JSON is larger than {MAX_TASK_BYTES:,} bytes (1 MiB): a task holds one job block and one "
            "partition; hand over the task, not data"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise FatalError(f"task JSON is not UTF-8: {error.reason} at byte {error.start}") from None
    too_deep = FatalError(f"task JSON nests more than {MAX_TASK_DEPTH} levels of arrays and objects")
    try:
        raw = json.loads(text)
    except RecursionError:  # nested past the interpreter's recursion limit
        raise too_deep from None
    except ValueError as error:
        raise FatalError(f"task is not valid JSON: {error}") from None
    if _nesting(raw) > MAX_TASK_DEPTH:
        raise too_deep
    if not isinstance(raw, Mapping):
        raise FatalError("task must be a JSON object with task_id, attempt, job and partition")
    job = raw.get("job")
    if not isinstance(job, Mapping):
        raise FatalError("task job must be the job block, a JSON object")
    # Task checks the fields; read as Any, since they are not yet known to have their types.
    task_id: Any = raw.get("task_id")
    attempt: Any = raw.get("attempt")
    return Task(task_id, attempt, job, _partition(raw.get("partition")), _outputs(raw.get("outputs")))
