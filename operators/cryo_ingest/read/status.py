"""Coverage of a job's range, per dataset: published, damaged and missing runs of blocks, from one listing each."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from cryo_ingest.job.config import CryoSpec
from cryo_ingest.publish.layout import SUCCESS
from cryo_ingest.read.catalog import Stored, catalog
from cryo_ingest.read.view import current_keys, current_versions
from trace_operators.contract import ObjectStore, Partition

#: Markers read at once for `--rows`: each is one small GET.
WORKERS = 32


@dataclass(frozen=True)
class Coverage:
    """One dataset over the range: runs of blocks by state, and what other configs left beside them."""

    dataset: str
    published: tuple[Partition, ...]
    damaged: tuple[Partition, ...]
    missing: tuple[Partition, ...]
    bytes: int
    rows: int | None
    other_versions: int
    other_bytes: int

    @property
    def complete(self) -> bool:
        return not self.damaged and not self.missing

    def to_json(self) -> dict[str, Any]:
        def runs(parts: Sequence[Partition]) -> list[dict[str, int]]:
            return [{"start": p.start, "end": p.end, "blocks": p.blocks} for p in parts]

        return {
            "dataset": self.dataset,
            "complete": self.complete,
            "published": runs(self.published),
            "damaged": runs(self.damaged),
            "missing": runs(self.missing),
            "bytes": self.bytes,
            "rows": self.rows,
            "other_config_versions": self.other_versions,
            "other_config_bytes": self.other_bytes,
        }

    def text(self) -> str:
        lines = [
            f"{self.dataset}: {_blocks(self.published):,} blocks published in {len(self.published)} run(s), "
            f"{_blocks(self.damaged):,} damaged, {_blocks(self.missing):,} missing; {self.bytes / 1e6:,.1f} MB"
            + (f", {self.rows:,} rows" if self.rows is not None else "")
            + (
                f"; {self.other_versions} version(s) of other configs beside them ({self.other_bytes / 1e6:,.1f} MB)"
                if self.other_versions
                else ""
            )
        ]
        for state, parts in (("published", self.published), ("damaged", self.damaged), ("missing", self.missing)):
            lines += [f"  {state:<9} {p.start}..{p.end} ({p.blocks:,} blocks)" for p in parts]
        return "\n".join(lines)


def coverage(
    spec: CryoSpec, store: ObjectStore, dataset: str, within: Partition, grid: Partition | None, rows: bool = False
) -> Coverage:
    """The coverage of `within` by the current config's versions of `dataset` (rows only when asked: a GET each)."""
    stored = [s for s in catalog(spec, store, dataset) if s.start <= within.end and within.start <= s.end]
    view = current_versions(spec, store, dataset, within, grid, stored)
    keys = set(current_keys(spec, view, within))
    published = _merge(_clip(s.read, within) for s in view)
    damaged = _subtract(_merge(_clip(s.partition, within) for s in stored if s.state == "damaged"), published)
    missing = _subtract(_subtract([within], published), damaged)
    others = [s for s in stored if s.state == "other-config"]
    return Coverage(
        dataset,
        tuple(published),
        tuple(damaged),
        tuple(missing),
        sum(size for s in view for name, size in s.objects.items() if s.prefix + name in keys),
        _rows(store, view, keys) if rows else None,
        len(others),
        sum(s.parquet_bytes for s in others),
    )


def _rows(store: ObjectStore, view: Sequence[Stored], keys: set[str]) -> int:
    def rows(stored: Stored) -> int:
        raw = store.get_bytes(stored.prefix + SUCCESS)
        files = json.loads(raw or b"{}").get("files", [])
        return sum(int(f["rows"]) for f in files if f["key"] in keys)

    with ThreadPoolExecutor(WORKERS) as pool:
        return sum(pool.map(rows, view))


def _clip(part: Partition, within: Partition) -> Partition:
    return Partition(max(part.start, within.start), min(part.end, within.end))


def _merge(parts: Iterable[Partition]) -> list[Partition]:
    """Overlapping or adjacent ranges joined into runs, in order."""
    runs: list[Partition] = []
    for part in sorted(parts, key=lambda p: p.start):
        if runs and part.start <= runs[-1].end + 1:
            runs[-1] = Partition(runs[-1].start, max(runs[-1].end, part.end))
        else:
            runs.append(part)
    return runs


def _subtract(runs: Sequence[Partition], taken: Sequence[Partition]) -> list[Partition]:
    """The blocks of `runs` that no range of `taken` holds; both in order and without overlaps."""
    out = []
    for run in runs:
        start = run.start
        for cut in taken:
            if cut.end < start or cut.start > run.end:
                continue
            if cut.start > start:
                out.append(Partition(start, cut.start - 1))
            start = max(start, cut.end + 1)
        if start <= run.end:
            out.append(Partition(start, run.end))
    return out


def _blocks(parts: Sequence[Partition]) -> int:
    return sum(p.blocks for p in parts)
