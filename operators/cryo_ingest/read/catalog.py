"""What the store holds of one dataset, from one listing: every version prefix, judged by its objects alone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cryo_ingest.job.config import CryoSpec
from cryo_ingest.publish.layout import MANIFEST, SUCCESS, Target, chain_prefix, target
from trace_operators.contract import FatalError, ObjectStore, Partition

_RANGE = re.compile(r"^(\d+)_(\d+)$")

State = Literal["published", "damaged", "incomplete", "other-config"]


@dataclass(frozen=True)
class Stored:
    """One version prefix found under a dataset, with the objects in it (name → size)."""

    start: int
    end: int
    version: str
    prefix: str
    objects: Mapping[str, int]
    state: State
    #: The current config's target of the same range, when this version is that config's.
    target: Target | None
    #: The blocks the view reads of it (whole chunks), when not all of them: the rest is another version's.
    span: tuple[int, int] | None = None

    @property
    def partition(self) -> Partition:
        return Partition(self.start, self.end)

    @property
    def read(self) -> Partition:
        """The blocks of this version the current view reads."""
        return Partition(*self.span) if self.span else self.partition

    @property
    def parquet_bytes(self) -> int:
        return sum(size for name, size in self.objects.items() if name.endswith(".parquet"))


def catalog(spec: CryoSpec, store: ObjectStore, dataset: str) -> list[Stored]:
    """Every version prefix of `dataset` in the store, in block order, judged against the job's current config."""
    base = store.key(f"{chain_prefix(spec.chain_id)}{dataset}/")
    found: dict[tuple[int, int, str], dict[str, int]] = {}
    for key, size in store.list_sizes(base).items():
        parts = key[len(base) :].split("/")
        match = _RANGE.match(parts[0])
        if len(parts) == 3 and match:
            found.setdefault((int(match[1]), int(match[2]), parts[1]), {})[parts[2]] = size
    index = spec.datasets.index(dataset)
    stored = []
    for (start, end, version), objects in sorted(found.items()):
        target = _current_target(spec, store, index, start, end)
        current = target is not None and target.dataset_version == version
        state = _state(target, objects) if current and target is not None else "other-config"
        prefix = f"{base}{start}_{end}/{version}/"
        stored.append(Stored(start, end, version, prefix, objects, state, target if current else None))
    return stored


def _current_target(spec: CryoSpec, store: ObjectStore, index: int, start: int, end: int) -> Target | None:
    """The current config's target for the range, or None for a range it could not publish (another chunking)."""
    try:
        return target(spec, Partition(start, end), store, index)
    except FatalError:
        return None


def _state(target: Target, objects: Mapping[str, int]) -> State:
    """Published when the marker, the manifest and exactly the planned chunk files are there; damaged otherwise."""
    if SUCCESS not in objects:
        return "incomplete"
    expected = {key.rpartition("/")[2] for key in target.file_keys} | {MANIFEST, SUCCESS}
    return "published" if set(objects) == expected else "damaged"
