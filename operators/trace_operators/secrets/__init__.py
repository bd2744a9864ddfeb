"""Secrets in DAG YAML (SPEC §3: they never appear there): finding them, and redacting them from every message."""

from trace_operators.secrets.masking import mask
from trace_operators.secrets.redaction import redact_text
from trace_operators.secrets.walk import scan

__all__ = ["mask", "redact_text", "scan"]
