"""Secrets in DAG YAML (SPEC §3: they never appear there): finding them, and redacting them from every message."""

from trace_operators.secrets.freetext import mask_secrets, scan_comment
from trace_operators.secrets.lines import secret_line
from trace_operators.secrets.masking import mask
from trace_operators.secrets.redaction import redact_text
from trace_operators.secrets.walk import scan

__all__ = ["mask", "mask_secrets", "redact_text", "scan", "scan_comment", "secret_line"]
