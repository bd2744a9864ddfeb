"""A one-line progress display for terminals; silent elsewhere."""

from __future__ import annotations

import threading
import time
from typing import TextIO

from trace_operators.contract import TaskResult


class Progress:
    """Partitions done, blocks a second and time left, redrawn in place at most a few times a second."""

    def __init__(self, partitions: int, blocks: int, stream: TextIO) -> None:
        self._total, self._total_blocks, self._stream = partitions, blocks, stream
        self._live = stream.isatty()
        self._done = self._blocks = self._failed = 0
        self._began = self._drawn = time.monotonic()
        self._lock = threading.Lock()

    def update(self, result: TaskResult) -> None:
        with self._lock:
            self._done += 1
            self._failed += result.outcome != "success"
            self._blocks += result.metrics.blocks
            now = time.monotonic()
            if self._live and (now - self._drawn > 0.2 or self._done == self._total):
                self._drawn = now
                self._stream.write("\r" + self._line(now) + "\x1b[K")
                self._stream.flush()

    def _line(self, now: float) -> str:
        rate = self._blocks / max(now - self._began, 1e-9)
        left = (self._total_blocks - self._blocks) / rate if rate else 0
        failed = f", {self._failed} failed" if self._failed else ""
        return (
            f"{self._done}/{self._total} partitions{failed}  {self._blocks:,}/{self._total_blocks:,} blocks  "
            f"{rate:,.0f} blocks/s  ETA {int(left) // 60}:{int(left) % 60:02d}"
        )

    def close(self) -> None:
        if self._live and self._done:
            self._stream.write("\n")
            self._stream.flush()
