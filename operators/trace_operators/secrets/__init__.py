"""Secrets in DAG YAML: finding them, and redacting them from every message."""

from trace_operators.secrets.detectors import mask, redact_text, scan

__all__ = ["mask", "redact_text", "scan"]
