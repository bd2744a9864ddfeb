"""The types an operator and the platform runtime exchange (SPEC §2 and §8)."""

from __future__ import annotations

import logging
import reprlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, overload, runtime_checkable

Severity = Literal["error", "warning"]
Outcome = Literal["success", "retryable_error", "fatal_error"]
#: A location inside a document: mapping keys and sequence indices from its root.
Path_ = tuple[str | int, ...]


class TaskError(Exception):
    """A failure that ends a task; its message must already be redacted."""

    retryable = False


class FatalError(TaskError):
    """Retrying cannot help: the job, the task or the environment is wrong."""


class RetryableError(TaskError):
    """A later attempt may succeed: RPC, network and object-store failures."""

    retryable = True


class Cancelled(RetryableError):
    """The task was cancelled or ran past its deadline."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a job block, located by its path inside the block."""

    rule: str
    message: str
    path: Path_ = ()
    hint: str = ""
    severity: Severity = "error"
    #: Point at the key itself rather than its value (an unknown or forbidden key).
    at_key: bool = False
    #: For a value spanning several lines: how many newlines of it come before the problem.
    line_offset: int = 0


@dataclass(frozen=True)
class Partition:
    """An inclusive block range, as partition events carry it; any other pair of numbers is refused."""

    start: int
    end: int
    partition_key: str = ""

    def __post_init__(self) -> None:
        if type(self.start) is not int or type(self.end) is not int or not 0 <= self.start <= self.end:
            # reprlib: a hostile task's megabyte of string or digits must not become a megabyte of message.
            raise FatalError(
                f"blocks {reprlib.repr(self.start)}..{reprlib.repr(self.end)} are not a range: start and end are "
                "integers with 0 <= start <= end (end is inclusive)"
            )
        if not self.partition_key:
            object.__setattr__(self, "partition_key", f"{self.start}-{self.end}")

    @property
    def blocks(self) -> int:
        return self.end - self.start + 1

    def split(self, size: int | None) -> Pieces:
        """Consecutive pieces of `size` blocks from the start, the last one shorter; the whole range for None."""
        if size is not None and size < 1:
            raise ValueError(f"size must be >= 1, not {size}")
        return Pieces(self.start, self.end, size or self.blocks)


class Pieces(Sequence[Partition]):
    """A range's consecutive partitions of `size` blocks, each made when asked for.

    A plan of a million partitions is three numbers until it is iterated, and iterating holds one at a time.
    """

    __slots__ = ("_firsts", "end", "size")

    def __init__(self, start: int, end: int, size: int) -> None:
        self._firsts, self.end, self.size = range(start, end + 1, size), end, size

    @property
    def blocks(self) -> int:
        """The blocks of every piece together."""
        return len(range(self._firsts.start, self.end + 1))

    def __len__(self) -> int:
        return len(self._firsts)

    @overload
    def __getitem__(self, index: int) -> Partition: ...

    @overload
    def __getitem__(self, index: slice) -> list[Partition]: ...

    def __getitem__(self, index: int | slice) -> Partition | list[Partition]:
        if isinstance(index, slice):
            return [self._piece(first) for first in self._firsts[index]]
        return self._piece(self._firsts[index])

    def __iter__(self) -> Iterator[Partition]:
        return map(self._piece, self._firsts)

    def __repr__(self) -> str:
        return f"Pieces({self._firsts.start}..{self.end} by {self.size}: {len(self)})"

    def _piece(self, first: int) -> Partition:
        return Partition(first, min(first + self.size - 1, self.end))


@dataclass(frozen=True)
class ResolvedJob:
    """A validated job with its defaults applied; `spec` is the operator's own typed config."""

    name: str
    operator: str
    max_concurrency: int
    timeout_seconds: int | None
    max_attempts: int
    range: Partition | None
    partition_size: int | None
    #: How many outputs the job has: a task's output indices must be below it.
    outputs: int
    spec: Any
    #: What no message, log line or object may hold: the endpoint's URL and each credential in it.
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class StorageRef:
    scheme: str
    bucket: str
    prefix: str
    glob: str = "*.parquet"

    @property
    def url(self) -> str:
        """`s3://bucket/prefix` or `file:///root/prefix`: where a person or a reader finds it."""
        return f"{self.scheme}://{self.bucket.rstrip('/')}/{self.prefix}"


@dataclass(frozen=True)
class Publication:
    """One dataset version committed to the object store (`datasets_published[]`)."""

    output_index: int
    dataset: str
    dataset_uuid: str
    dataset_version: str
    storage_ref: StorageRef
    config_hash: str
    range_start: int
    range_end: int
    row_count: int
    bytes: int


@dataclass(frozen=True)
class TaskMetrics:
    """What one task cost and moved."""

    seconds: float = 0.0
    blocks: int = 0
    rows: int = 0
    bytes: int = 0
    #: Datasets found already committed, returned without extracting them again.
    datasets_reused: int = 0


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    attempt: int
    outcome: Outcome
    datasets_published: list[Publication] = field(default_factory=list)
    error_message: str | None = None
    metrics: TaskMetrics = field(default_factory=TaskMetrics)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class StoreError(RetryableError):
    """An object-store failure, naming the operation and the object; a later attempt may succeed."""


class StoreAccessError(FatalError):
    """The store refuses who we are or where we point (credentials, bucket, permission): retrying cannot help."""


class ObjectStore(Protocol):
    """Where publications go. Keys are full object keys, `/`-separated; prefixes end in `/`."""

    scheme: str
    #: s3: the bucket name; file: the absolute root directory.
    bucket: str

    def key(self, relative: str) -> str:
        """The full object key of `relative`: the store's own prefix joined with it."""

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def create_bytes(self, key: str, data: bytes) -> bool:
        """Create the object only if no object has the key (S3 `If-None-Match: *`); False when one was there."""

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    def delete(self, keys: Iterable[str]) -> None:
        """Remove the objects; a key with no object is no error."""

    def abort_incomplete(self, prefix: str) -> None:
        """Discard what writers that died left half-uploaded under `prefix` (multipart uploads, temporary files)."""

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """Every object key under `prefix`, with its size in bytes."""

    def ref(self, prefix: str) -> StorageRef: ...


@dataclass
class TaskContext:
    """What the runtime hands `run_partition` besides the job and the partition."""

    task_id: str
    attempt: int
    store: ObjectStore
    staging_root: Path
    logger: logging.Logger
    heartbeat: Callable[[], None] = lambda: None
    #: Told the blocks of each chunk once its files are whole in staging: progress to show, not yet published.
    on_chunk: Callable[[int], None] = lambda blocks: None
    cancel: threading.Event = field(default_factory=threading.Event)
    #: `time.monotonic()` value after which the task must stop; None for no deadline.
    deadline: float | None = None
    #: `dataset_uuid` per output index, when the runtime assigns them.
    dataset_uuids: Mapping[int, str] = field(default_factory=dict)

    def checkpoint(self, during: str = "") -> None:
        """Heartbeat, then raise `Cancelled` if the task was cancelled or is past its deadline.

        `during` says what was running, for the message: "while Cryo ran".
        """
        self.heartbeat()
        suffix = f" {during}" if during else ""
        if self.cancel.is_set():
            raise Cancelled(f"the task was cancelled{suffix}")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Cancelled(f"the task ran past its deadline{suffix}")

    def seconds_left(self, most: float) -> float:
        """`most` seconds, or fewer when the deadline is nearer; never below zero."""
        if self.deadline is None:
            return most
        return max(0.0, min(most, self.deadline - time.monotonic()))


@runtime_checkable
class Operator(Protocol):
    """What a plugin's `trace_operators()` hook returns, one per operator it provides."""

    name: str

    def job_schema(self) -> dict[str, Any]: ...

    def validate_job(self, job: Mapping[str, Any]) -> list[Problem]: ...

    def resolve_job(self, job: Mapping[str, Any], env: Mapping[str, str]) -> ResolvedJob: ...

    def plan(self, resolved: ResolvedJob, range: Partition) -> Sequence[Partition]:
        """The partitions of `range`, in order; a `Sequence` so that a long range need not be held in memory."""
        ...

    def run_partition(self, resolved: ResolvedJob, partition: Partition, ctx: TaskContext) -> TaskResult: ...


@runtime_checkable
class NeedsResources(Protocol):
    """An operator whose tasks hold more of a node than a CPU: an engine reserves it before a task starts.

    Apart from `Operator`, so that an operator without the method is still one.
    """

    def task_resources(self, resolved: ResolvedJob) -> dict[str, float]:
        """What one task of `resolved` holds while it runs: `memory` in bytes, and named shares in units."""
        ...
