"""SIGINT and SIGTERM as a cancellation: the work stops at its next checkpoint and reports, rather than dying."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def cancel_on_signals(cancel: threading.Event) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM set `cancel`; yields the signals received, in order.

    A second signal acts as it would have without this (Ctrl-C twice raises KeyboardInterrupt): a way
    out when the work does not reach a checkpoint. Call from the main thread, as Python requires.
    """
    received: list[int] = []
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}

    def handle(number: int, frame: FrameType | None) -> None:
        received.append(number)
        cancel.set()
        for restored, handler in previous.items():
            signal.signal(restored, handler)

    for number in STOP_SIGNALS:
        signal.signal(number, handle)
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
