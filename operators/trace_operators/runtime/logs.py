"""Logging to stderr, as text or JSON lines, with the job's secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

from trace_operators.secrets import redact_text


class _TextFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(levelname)s %(message)s")
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record), self.secrets)


class _JsonFormatter(_TextFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps({k: redact_text(v, self.secrets) for k, v in entry.items()})


def configure(name: str, fmt: str = "text", level: int = logging.INFO, secrets: Iterable[str] = ()) -> logging.Logger:
    """The logger called `name`, writing to stderr (stdout stays for results) and redacting `secrets`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(secrets) if fmt == "json" else _TextFormatter(secrets))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    return logger
