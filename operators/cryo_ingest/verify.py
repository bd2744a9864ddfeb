"""`verify`: the deep check of every committed prefix of a job's range, and what a repair must republish."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cryo_ingest.job.config import CryoSpec
from cryo_ingest.publish.audit import deep_problems, look
from cryo_ingest.publish.layout import SUCCESS, Target, targets
from trace_operators.contract import ObjectStore, Partition

#: Prefixes checked at once: each check is a few GETs of whole files, IO-bound.
WORKERS = 8


@dataclass(frozen=True)
class Damage:
    """A committed prefix whose files or markers are not what `_SUCCESS` says."""

    partition: Partition
    target: Target
    url: str
    problems: tuple[str, ...]

    def text(self) -> str:
        t = self.target
        return f"damaged {t.dataset} {t.start}..{t.end} {self.url}: {'; '.join(self.problems)}"

    def to_json(self) -> dict[str, Any]:
        t = self.target
        return {"dataset": t.dataset, "start": t.start, "end": t.end, "url": self.url, "problems": list(self.problems)}


@dataclass(frozen=True)
class Report:
    """What `verify` found over a range: committed prefixes checked, prefixes not committed, damage."""

    committed: int
    missing: int
    damaged: tuple[Damage, ...]

    def text(self) -> str:
        clean = self.committed - len(self.damaged)
        return (
            f"{self.committed} committed prefixes checked: {clean} clean, {len(self.damaged)} damaged; "
            f"{self.missing} not committed (run the job to publish them)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "committed": self.committed,
            "missing": self.missing,
            "damaged": [d.to_json() for d in self.damaged],
        }


def verify(spec: CryoSpec, partitions: Sequence[Partition], store: ObjectStore) -> Report:
    """Check every dataset version of the job's current config over `partitions`, file by file."""
    pairs = [(p, t) for p in partitions for t in targets(spec, p, store, {})]
    with ThreadPoolExecutor(WORKERS) as pool:
        found = list(pool.map(lambda pair: _problems(store, pair[1]), pairs))
    damaged = tuple(
        Damage(p, t, store.ref(t.prefix).url, problems) for (p, t), problems in zip(pairs, found) if problems
    )
    missing = sum(problems is None for problems in found)
    return Report(len(pairs) - missing, missing, damaged)


def uncommit(store: ObjectStore, damaged: Sequence[Damage]) -> list[Partition]:
    """Remove the marker of each damaged prefix, so that a run republishes it; the partitions to run, in order."""
    store.delete([d.target.prefix + SUCCESS for d in damaged])
    return sorted({d.partition for d in damaged}, key=lambda p: p.start)


def _problems(store: ObjectStore, target: Target) -> tuple[str, ...] | None:
    """None when the prefix has no `_SUCCESS`; else what is wrong with it, nothing when it is clean."""
    found = look(store, target)
    if not found.marked:
        return None
    if found.files is None:
        return (str(found.problem),)
    return tuple(deep_problems(store, found.files))
