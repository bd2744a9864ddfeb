"""Logging to stderr, as text or JSON lines, with the job's secrets redacted from every record and field."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from trace_operators.secrets import redact_text

#: The record attribute that carries an event's fields (see `event`).
FIELDS = "fields"


class _TextFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(levelname)s %(message)s")
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record), self.secrets)


class _JsonFormatter(_TextFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, FIELDS, {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps({key: self._redacted(value) for key, value in entry.items()})

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact_text(value, self.secrets)
        if isinstance(value, (list, tuple)):
            return [self._redacted(item) for item in value]
        return value


def utc_time(created: float) -> str:
    """ISO 8601 in UTC to the millisecond, as log pipelines parse it: `2026-12-02T12:00:00.123Z`."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: On a terminal: back to the start of the line, and erase it.
_FRESH_LINE = "\r\x1b[K"


class _BesideProgress:
    """A stream whose writes never land in the middle of a progress line on the terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._start = _FRESH_LINE if stream.isatty() else ""

    def write(self, text: str) -> None:
        from tqdm import tqdm

        # tqdm clears this process's progress line and redraws it after; the line may also be a parent's, drawn
        # on the same terminal while this process is a worker it forked: the record starts a fresh line anyway.
        tqdm.write(self._start + text, file=self.stream, end="")

    def flush(self) -> None:
        self.stream.flush()


def configure(name: str, fmt: str = "text", level: int = logging.INFO, secrets: Iterable[str] = ()) -> logging.Logger:
    """The logger called `name`, writing to stderr (stdout stays for results) and redacting `secrets`."""
    handler = logging.StreamHandler(_BesideProgress(sys.stderr))
    handler.setFormatter(_JsonFormatter(secrets) if fmt == "json" else _TextFormatter(secrets))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    return logger


def event(logger: logging.Logger, level: int, message: str, fields: Mapping[str, Any]) -> None:
    """Log `message` (already formatted) with `fields`: JSON lines carry them as keys, text lines show the message."""
    logger.log(level, "%s", message, extra={FIELDS: dict(fields)})
