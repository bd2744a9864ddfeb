"""Redaction of free text: known secrets and every credential shape go before a message is printed, logged or stored."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from trace_operators.secrets.detectors import (
    AWS_ID,
    AWS_PREFIXES,
    BASIC,
    BEARER,
    JWT,
    may_hold_scheme_credential,
    scheme_credential,
)
from trace_operators.secrets.randomness import HEXISH
from trace_operators.secrets.urls import URL, host_keys, keylike_segment, parse, path_keys, query_pairs, query_secret

REDACTED = "<redacted>"

_PEM_BLOCK = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*-----|\Z)", re.S)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (an error message, a tool's stderr, a log line) without known secrets or any credential shape."""
    # A given URL's parts go wherever they appear: a tool may print the URL normalised, or a part alone.
    for fragment, whole_word in _fragments(tuple(secrets)):
        text = whole_word.sub(REDACTED, text) if whole_word else text.replace(fragment, REDACTED)
    # Each pass only where its shape can be, since every log record comes through here.
    if "://" in text:
        text = URL.sub(_redact_url, text)
    if "-----BEGIN" in text:
        text = _PEM_BLOCK.sub(REDACTED, text)
    if "eyJ" in text:
        text = JWT.sub(REDACTED, text)
    if any(prefix in text for prefix in AWS_PREFIXES):
        text = AWS_ID.sub(REDACTED, text)
    if may_hold_scheme_credential(text):
        for pattern in (BEARER, BASIC):
            text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}" if scheme_credential(m) else m.group(), text)
    return text


@lru_cache(maxsize=64)
def _fragments(secrets: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """Each secret and each of its URL credential parts, longest first, with a whole-word pattern for short ones."""
    parts = set()
    for secret in filter(None, secrets):
        parts.add(secret)
        # Only parts that are credentials on their own: a user name or `network=ethereum` goes inside URLs only.
        for m in URL.finditer(secret):
            url = parse(m)
            if url.userinfo:
                parts.update((url.userinfo, url.userinfo.partition(":")[2]))
            parts.update(seg for seg in url.path.split("/") if keylike_segment(seg, strong=True))
            parts.update(value for name, value in query_pairs(url.query) if query_secret(name, value))
    # Longest first, so that a part inside a longer one does not break it up; short ones as whole words only,
    # so that the text around them survives.
    ordered = sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)
    return tuple((p, None if len(p) >= 8 else _whole_word(p)) for p in ordered)


def _whole_word(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(text)}(?![A-Za-z0-9_])")


def _redact_url(m: re.Match[str]) -> str:
    url = parse(m)
    keys = set(path_keys(url))
    # In a log, a long hex segment goes too: it may be a key as well as an id.
    keys.update(seg for seg in url.path.split("/") if len(seg) >= 16 and HEXISH.fullmatch(seg) and seg[:2] != "0x")
    labels = set(host_keys(url))
    host = ".".join(REDACTED if label in labels else label for label in url.host.split("."))
    text = f"{url.scheme}://" + (f"{REDACTED}@" if url.userinfo is not None else "") + host
    text += f":{url.port}" if url.port else ""
    text += "/".join(REDACTED if seg in keys else seg for seg in url.path.split("/"))
    if url.query is not None:
        text += "?" + _redact_pairs(url.query)
    fragment = m.group("fragment")
    if fragment is not None:  # an OAuth fragment carries `access_token=…`
        text += "#" + (_redact_pairs(fragment) if "=" in fragment else fragment)
    return text


def _redact_pairs(query: str) -> str:
    return "&".join(f"{name}={REDACTED}" if value else name for name, value in query_pairs(query))
