"""The progress line of a run on a terminal (tqdm): published blocks, chunks in flight, blocks/s, ETA; silent elsewhere.

Only what was published counts as done. The chunks a partition has whole in staging show as in flight, and
leave the count when its attempt fails: a failed or retried partition adds nothing. Log records are written
through tqdm (see `logs`), which clears the line first and redraws it after.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from tqdm import tqdm

from trace_operators.contract import TaskResult

#: The most redraws a second: chunks of a fast stub run finish thousands a second.
REDRAW_SECONDS = 0.2


class Progress:
    """Partitions done out of `partitions`, and the `blocks` of the run published, in flight, a second and left."""

    def __init__(self, partitions: int, blocks: int, stream: TextIO) -> None:
        self._partitions, self._blocks = partitions, blocks
        self._done = self._failed = self._published = self._chunks = 0
        #: Per task, the blocks of each chunk it has whole in staging, not yet published.
        self._flight: dict[str, list[int]] = {}
        self._began = time.monotonic()
        self._drawn = float("-inf")
        self._lock = threading.Lock()
        self._bar = tqdm(
            total=blocks,
            file=stream,
            disable=not stream.isatty(),
            bar_format="{percentage:3.0f}%|{bar:20}| {desc}",
            desc=self.line(),
            dynamic_ncols=True,
            leave=True,
        )

    def chunk(self, task_id: str, blocks: int) -> None:
        """A chunk of `task_id`'s attempt is whole in staging (`Worker.on_chunk`)."""
        with self._lock:
            self._flight.setdefault(task_id, []).append(blocks)
            self._draw()

    def retrying(self, result: TaskResult) -> None:
        """The attempt failed and will be retried: its chunks leave the count."""
        with self._lock:
            self._flight.pop(result.task_id, None)
            self._draw()

    def update(self, result: TaskResult) -> None:
        """The partition ended: its blocks count as done only if it was published."""
        with self._lock:
            chunks = self._flight.pop(result.task_id, [])
            self._done += 1
            if result.outcome == "success":
                self._published += result.metrics.blocks
                self._chunks += len(chunks)
            else:
                self._failed += 1
            self._draw(force=True)  # a partition's end is rare beside its chunks, and its log line redraws anyway

    def line(self) -> str:
        """What the line says after the bar."""
        flying = sum(map(sum, self._flight.values()))
        moved = self._published + flying
        rate = moved / max(time.monotonic() - self._began, 1e-9)
        to_go = 0 if self._done == self._partitions else self._blocks - moved  # what failed is not to go
        left = tqdm.format_interval(to_go / rate) if rate else "?"
        failed = f" ({self._failed} failed)" if self._failed else ""
        in_flight = sum(map(len, self._flight.values()))
        return (
            f"{self._done}/{self._partitions} partitions{failed}, {self._published:,}/{self._blocks:,} blocks "
            f"published, {self._chunks:,} chunks + {in_flight:,} in flight, {rate:,.0f} blocks/s, ETA {left}"
        )

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._bar.disable or not (force or now - self._drawn >= REDRAW_SECONDS):
            return
        self._drawn = now
        self._bar.n = self._published
        self._bar.set_description_str(self.line(), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        """Leave the line as it last was and end it, so that what is printed next starts a line of its own."""
        with self._lock:
            self._draw(force=True)
            self._bar.close()
