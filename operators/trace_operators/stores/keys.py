"""Object keys: plain `/`-separated names that cannot escape a local root."""

from __future__ import annotations


def check_key(key: str, *, prefix: bool = False) -> str:
    """Refuse a key that is not plain `/`-separated names (it could escape a local root); return it.

    With `prefix`, the empty key and a trailing `/` are allowed too.
    """
    if prefix and key == "":
        return key
    body = key[:-1] if prefix and key.endswith("/") else key
    if "\\" in key or "\x00" in key or any(part in ("", ".", "..") for part in body.split("/")):
        raise ValueError(
            f"invalid object key {key!r}: keys are '/'-separated names, with no leading '/', no empty, "
            "'.' or '..' part and no backslash"
        )
    return key


def join_key(prefix: str, relative: str) -> str:
    return prefix + check_key(relative, prefix=True)
