"""The follow loop: at each wake-up of its trigger, the partitions up to the safe head, in block order, each checked.

Partitions run one after another: a partition's continuity is checked against the committed block before it,
which exists only once the one before it has committed. Catching up a long history is `run`'s work, with
`max_concurrency`; follow then resumes from what is committed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryo_ingest.follow.chain import parent_hash, safe_head
from cryo_ingest.follow.committed import BLOCKS, Tip, block_hash, committed_tip
from cryo_ingest.job.config import CryoSpec
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.publish.layout import MAX_FILES_PER_PARTITION, target
from cryo_ingest.read import JobView
from trace_operators.contract import FatalError, Operator, Partition, ResolvedJob, RetryableError, TaskResult
from trace_operators.dag.checks import find_job
from trace_operators.dag.documents import load_document
from trace_operators.dag.sources import BLOCK_FOLLOWER, CRON, KIND_NAMES, Trigger, next_tick, trigger_of
from trace_operators.runtime.executors import Executor
from trace_operators.runtime.progress import Progress
from trace_operators.runtime.runner import Runner, RunSummary
from trace_operators.runtime.taskpath import Worker, run_task

#: Seconds between looks at the safe head for a block follower's threshold.
POLL_SECONDS = 2.0


class DeepReorg(FatalError):
    """A new block's parent is not the committed block before it: the chain changed below the safe head."""


def follow_trigger(dag: Path, job: Mapping[str, Any]) -> Trigger:
    """The cron source or block follower the job takes as input; `FatalError` when it has none, or several."""
    doc, _ = load_document(dag)  # `load_job` has validated it
    data = doc.data if doc else None
    found = []
    for item in job.get("inputs") or ():
        upstream = find_job(data, item["from"].get("job")) if "job" in item["from"] else None
        trigger = trigger_of(upstream) if upstream else None
        if trigger is not None and trigger.kind in (CRON, BLOCK_FOLLOWER):
            found.append(trigger)
    if len(found) != 1:
        many = f"{len(found)} of them" if found else "none"
        raise FatalError(
            f"follow drives a job with one input from {KIND_NAMES[CRON]} or {KIND_NAMES[BLOCK_FOLLOWER]}; job "
            f"{job['name']} has {many} (a manual source's range requests run with: run --events FILE)"
        )
    return found[0]


def emitted(trigger: Trigger, last: int, safe: int, most: int) -> list[Partition]:
    """What a wake-up emits after committed block `last`, up to `safe`, in partitions of at most `most` blocks.

    A cron tick emits everything up to the safe head; a threshold, each whole run of threshold_blocks.
    """
    if trigger.kind == CRON:
        ranges = [Partition(last + 1, safe)] if safe > last else []
    else:
        size = trigger.threshold_blocks
        ranges = [Partition(first, first + size - 1) for first in range(last + 1, safe - size + 2, size)]
    return [piece for emitted_range in ranges for piece in emitted_range.split(most)]


@dataclass
class Follower:
    """One job, its trigger, and what it has done so far."""

    operator: Operator
    resolved: ResolvedJob
    job: Mapping[str, Any]
    worker: Worker
    trigger: Trigger
    poll_seconds: float = POLL_SECONDS
    #: The last outcome of each partition run, by partition key: a retry replaces a failure.
    results: dict[str, TaskResult] = field(default_factory=dict)
    busy_seconds: float = 0.0
    #: Where each attempt runs (`run --executor`): in this process by default.
    execute: Executor = run_task

    def __post_init__(self) -> None:
        if self.spec.endpoint is None:
            raise FatalError("follow asks a node for the safe head, and the stub chain has none: use --extractor cryo")
        if BLOCKS not in self.spec.datasets:
            raise FatalError(
                "follow checks each new block's parent against the committed blocks' hashes: add blocks to datasets"
            )

    @property
    def spec(self) -> CryoSpec:
        spec: CryoSpec = self.resolved.spec
        return spec

    @property
    def endpoint(self) -> Endpoint:
        assert self.spec.endpoint is not None  # checked when built
        return self.spec.endpoint

    def summary(self) -> RunSummary:
        summary = RunSummary(len(self.results), self.busy_seconds)
        for result in self.results.values():
            summary.add(result)
        return summary

    def run(self) -> Tip:
        """Follow until cancelled or past end_block; the last committed block. `DeepReorg` stops it, as a fatal task."""
        fixed = self.resolved.range
        view = JobView(self.job, self.worker.store, self.spec.extractor)
        tip = committed_tip(view, fixed.start if fixed else None)
        self.worker.logger.info("following %s from block %d (%s)", self.resolved.name, tip.block + 1, self._source())
        for _ in self._wakeups():
            try:
                tip = self._step(tip)
            except RetryableError as error:
                self.worker.logger.warning("%s; trying again at the next wake-up", error)
            if fixed is not None and tip.block >= fixed.end:
                self.worker.logger.info("committed through end_block %d: nothing left to follow", fixed.end)
                break
        return tip

    def _source(self) -> str:
        if self.trigger.kind == CRON:
            return f"cron source {self.trigger.job}, {self.trigger.schedule!r} UTC"
        size = self.trigger.threshold_blocks
        return f"block_follower {self.trigger.job}, every {size} block{'s' if size > 1 else ''}"

    def _wakeups(self) -> Iterator[None]:
        """A cron source's ticks, or a look at the head every `poll_seconds`, until cancelled."""
        cancel = self.worker.cancel
        while not cancel.is_set():
            if self.trigger.kind == CRON:
                now = datetime.now(UTC)  # cron schedules are in UTC: no clock change to fire twice or never
                if cancel.wait((next_tick(self.trigger.schedule, now) - now).total_seconds()):
                    return
                yield
            else:
                yield
                cancel.wait(self.poll_seconds)

    def _step(self, tip: Tip) -> Tip:
        """Run what the trigger emits now, in order; the new last committed block."""
        safe = safe_head(self.endpoint, self.spec.finality_depth_blocks)
        if self.resolved.range is not None:
            safe = min(safe, self.resolved.range.end)
        most = self.resolved.partition_size or MAX_FILES_PER_PARTITION * self.spec.chunk_size
        partitions = emitted(self.trigger, tip.block, safe, most)
        if not partitions:
            return tip
        first, last = partitions[0].start, partitions[-1].end
        self.worker.logger.info("safe head %d: blocks %d..%d in %d partitions", safe, first, last, len(partitions))
        progress = Progress(len(partitions), sum(p.blocks for p in partitions), sys.stderr)
        runner = Runner(
            self.operator, self.resolved, self.job, self.worker, on_done=progress.update, execute=self.execute
        )
        try:
            for partition in partitions:
                if self.worker.cancel.is_set():
                    break
                self._check_continuity(tip, partition)
                began = time.monotonic()
                result = runner.run_one(partition)
                self.busy_seconds += time.monotonic() - began
                self.results[partition.partition_key] = result
                if result.outcome == "fatal_error":
                    raise FatalError(f"partition {partition.partition_key} failed: {result.error_message}")
                if result.outcome != "success":
                    break  # the next wake-up starts again from the same block
                tip = Tip(partition.end, block_hash(self.worker.store, self._last_file(partition), partition.end))
        finally:
            progress.close()
        self.worker.logger.info("%s", tip.text())
        return tip

    def _check_continuity(self, tip: Tip, partition: Partition) -> None:
        if tip.hash is None:  # nothing committed before it
            return
        parent = parent_hash(self.endpoint, partition.start)
        if parent != tip.hash:
            raise DeepReorg(
                f"block {partition.start}'s parent on pool {self.endpoint.pool} is 0x{parent.hex()}, but the "
                f"committed block {tip.block} is 0x{tip.hash.hex()}: the chain changed below the safe head (a reorg "
                f"deeper than the finality depth); nothing past block {tip.block} was published. The committed "
                "blocks from the fork on hold the old branch"
            )

    def _last_file(self, partition: Partition) -> str:
        """The key of the blocks file the partition just committed its last block in."""
        index = self.spec.datasets.index(BLOCKS)
        return target(self.spec, partition, self.worker.store, index).file_keys[-1]
