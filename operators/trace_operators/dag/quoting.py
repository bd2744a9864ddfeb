"""Values of the document as messages quote them: masked first, then shortened, so a cut never hides a secret."""

from __future__ import annotations

from trace_operators.secrets import mask_secrets

#: Longest quoted value: a message stays one readable line, whatever the document holds.
SHOWN = 40
ELLIPSIS = "..."


def shown(text: str, limit: int = SHOWN) -> str:
    """`text` with its secrets masked, cut to `limit` characters."""
    # Masking after cutting would miss a secret the cut made shorter than its shape: mask the whole value first.
    masked = mask_secrets(text)
    return masked if len(masked) <= limit else masked[: limit - len(ELLIPSIS)] + ELLIPSIS


def quoted(value: object) -> str:
    """A value of the document quoted for a message, whatever it is (a name may be a list or a map)."""
    return repr(shown(value)) if isinstance(value, str) else shown(repr(value))


def listed(names: list[str], most: int = 10) -> str:
    """Names joined by commas, at most `most` of them and a count of the rest."""
    rest = len(names) - most
    return ", ".join(shown(n) for n in names[:most]) + (f" and {rest:,} more" if rest > 0 else "")
