"""How a secret appears in a message: never whole."""

from __future__ import annotations


def mask(secret: str) -> str:
    """At most the first and last two characters: 'sk…9f'; secrets shorter than 8 chars become '…'."""
    return f"{secret[:2]}…{secret[-2:]}" if len(secret) >= 8 else "…"
