"""How a secret appears in a message: never whole."""

from __future__ import annotations

from collections.abc import Iterable

#: A secret's place in a text: [start, end).
Span = tuple[int, int]
#: What `mask` leaves in place of the middle: a text holding it was masked already.
ELLIPSIS = "…"


def mask(secret: str) -> str:
    """At most the first and last two characters: 'sk…9f'; secrets shorter than 8 chars become '…'."""
    return f"{secret[:2]}…{secret[-2:]}" if len(secret) >= 8 else "…"


def mask_spans(text: str, spans: Iterable[Span]) -> str:
    """`text` with each span masked; overlapping spans merge, and one masked already is left as it is."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, at = [], 0
    for start, end in merged:
        secret = text[start:end]
        if ELLIPSIS in secret:  # masking again would not be idempotent: 'ab…yz' would become '…'
            continue
        pieces += [text[at:start], mask(secret)]
        at = end
    return "".join(pieces) + text[at:] if pieces else text
