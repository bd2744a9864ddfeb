"""Free text: masking every secret in a message, and the secrets of a YAML comment."""

from __future__ import annotations

from functools import lru_cache

from trace_operators.contract import Problem
from trace_operators.secrets.detectors import hits, inspect
from trace_operators.secrets.masking import mask_spans


@lru_cache(maxsize=4096)
def mask_secrets(text: str) -> str:
    """`text` with every secret in it masked (`mask` of itself), wherever it sits; text without one comes back as
    it is, and masking twice changes nothing (cached: the same messages recur in every job)."""
    # Every shape counts here, hash fields or not: a message says nothing of where its words came from.
    return mask_spans(text, [span for hit in hits(text, False) for span in hit.spans])


def scan_comment(text: str) -> list[Problem]:
    """The secret in one YAML comment's text (without its `#`), at path (); a URL without credentials is none."""
    finding = inspect(text, False, False)
    if finding is None:
        return []
    return [Problem(finding.rule, finding.message, (), finding.hint, line_offset=finding.line)]
