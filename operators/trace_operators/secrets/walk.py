"""The walk over a YAML-loaded value: one `Problem` per secret-shaped key or value, at its path."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from trace_operators.contract import Path_, Problem
from trace_operators.secrets.detectors import HASH_HINT, POOL_HINT, REMOVE_HINT, Finding, inspect, one_line
from trace_operators.secrets.masking import mask
from trace_operators.secrets.names import has_value, hash_field, is_addresses, key_words, secret_kind
from trace_operators.secrets.randomness import key_shaped


def scan(value: Any, path: Path_ = ()) -> list[Problem]:
    """Every secret-shaped key or value inside a plain YAML-loaded value (dict/list/str/int/float/bool/None)."""
    problems: list[Problem] = []
    _walk(value, tuple(path), False, problems)
    return problems


def _walk(value: Any, path: Path_, hashy: bool, out: list[Problem]) -> None:
    if isinstance(value, str):
        finding = inspect(value, hashy)
        if finding:
            out.append(_problem(finding, path, at_key=False))
    elif isinstance(value, dict):
        for key, item in value.items():
            _entry(key, item, path, hashy, out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, path + (index,), hashy, out)
    elif isinstance(value, int) and not hashy and 224 < value.bit_length() <= 256 and key_shaped(f"{value:064x}"):
        # YAML reads an unquoted 0x… as an integer: a private key written bare arrives here.
        shape = "32-byte integer (an unquoted hex value) outside a hash field, shaped like a private key"
        out.append(Problem("secret.private-key", f"{shape}: {mask(hex(value))}", path, HASH_HINT))


def _entry(key: Any, item: Any, path: Path_, hashy: bool, out: list[Problem]) -> None:
    child = path + (key if isinstance(key, (str, int)) else str(key),)
    if isinstance(key, str):
        kind, holds_hashes, finding = _key_facts(key)
        if kind and has_value(item) and not (kind == "token" and is_addresses(item)):
            out.append(_key_problem(key, item, child, kind))
            return
        if finding:
            out.append(_problem(finding, child, at_key=True))
        hashy = hashy or holds_hashes
    _walk(item, child, hashy, out)


def _problem(finding: Finding, path: Path_, at_key: bool) -> Problem:
    return Problem(finding.rule, finding.message, path, finding.hint, at_key=at_key, line_offset=finding.line)


def _key_problem(key: str, item: Any, path: Path_, kind: str) -> Problem:
    if isinstance(item, dict):
        shown = "a mapping"
    elif isinstance(item, (list, tuple)):
        shown = "a list"
    else:
        shown = mask(str(item))
    name = one_line(key)
    message = f'key "{name}" names a secret and holds a value ({shown})'
    return Problem("secret.key-name", message, path, POOL_HINT if kind == "rpc" else REMOVE_HINT, at_key=True)


@lru_cache(maxsize=4096)
def _key_facts(key: str) -> tuple[str | None, bool, Finding | None]:
    """What a mapping key says (cached: the same keys recur in every job): secret kind, hash field, own shape."""
    words = key_words(key)
    # A mapping key is a name or an id (a tx hash keying a map), never a private key.
    return secret_kind(words), hash_field(words), inspect(key, True)
