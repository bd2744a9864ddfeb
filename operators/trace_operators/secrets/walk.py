"""The walk over a YAML-loaded value: one `Problem` per secret-shaped key or value, at its path."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from trace_operators.contract import Path_, Problem
from trace_operators.secrets.chain_ids import byte_list_keypair
from trace_operators.secrets.detectors import (
    HASH_HINT,
    POOL_HINT,
    REMOVE_HINT,
    Finding,
    inspect,
    int_key_shaped,
    one_line,
)
from trace_operators.secrets.masking import mask
from trace_operators.secrets.mnemonic import LENGTHS, is_mnemonic
from trace_operators.secrets.names import has_value, hash_field, is_addresses, key_words, keyish, pool_name, secret_kind
from trace_operators.secrets.randomness import key_shaped_name
from trace_operators.secrets.topics import EVENT_SIGNATURE, is_topic

# Python prints an int of more digits than this only in hex (str() raises past 4,300 digits).
_DECIMAL_BITS = 4000
# How many items a secret spread over a list has: a mnemonic's words, a keypair's bytes.
_SPREAD_LENGTHS = frozenset((*LENGTHS, 64))


def scan(value: Any, path: Path_ = (), *, in_job: bool = True) -> list[Problem]:
    """Every secret-shaped key or value inside a plain YAML-loaded value (dict/list/str/int/float/bool/None);
    `in_job=False` outside a job block (a DAG's `x-*` fields), where a URL without credentials is no secret."""
    problems: list[Problem] = []
    _walk(value, tuple(path), False, in_job, problems)
    return problems


def _walk(value: Any, path: Path_, hashy: bool, in_job: bool, out: list[Problem]) -> None:
    if isinstance(value, str):
        finding = inspect(value, hashy, in_job)
        if finding:
            out.append(_problem(finding, path, at_key=False))
    elif isinstance(value, dict):
        start = len(out)
        for key, item in value.items():
            _entry(key, item, path, hashy, in_job, out)
        if len(out) > start:
            out[start:] = _without_named_topics(value, path, out[start:])
    elif isinstance(value, (list, tuple)):
        problem = _list_problem(value, path) if len(value) in _SPREAD_LENGTHS else None
        if problem:
            out.append(problem)
            return
        for index, item in enumerate(value):
            _walk(item, path + (index,), hashy, in_job, out)
    elif isinstance(value, int) and not hashy and value.bit_length() > 224 and int_key_shaped(value):
        # YAML reads an unquoted 0x… as an integer: a private key written bare arrives here.
        shape = "32-byte integer (an unquoted hex value) outside a hash field, shaped like a private key"
        out.append(Problem("secret.private-key", f"{shape}: {mask(hex(value))}", path, HASH_HINT))


def _list_problem(items: list[Any] | tuple[Any, ...], path: Path_) -> Problem | None:
    """A secret spread over a list: a mnemonic one word an item, or a keypair one byte an item."""
    if len(items) in LENGTHS and all(isinstance(i, str) for i in items):
        words = [str(i).strip().lower() for i in items]
        if is_mnemonic(words):
            message = f"BIP-39 mnemonic ({len(words)} words, as a list) in a value: {mask(' '.join(words))}"
            return Problem("secret.mnemonic", message, path, REMOVE_HINT)
    if byte_list_keypair(list(items)):
        message = f"Solana keypair (64 bytes, as a list of integers) in a value: {mask(str(list(items)))}"
        return Problem("secret.private-key", message, path, REMOVE_HINT)
    return None


def _without_named_topics(mapping: dict[Any, Any], path: Path_, problems: list[Problem]) -> list[Problem]:
    """Drop a "private key" that is the topic of the event its mapping names: `{signature: Transfer(…), id: 0x…}`."""
    signatures = [v for v in mapping.values() if isinstance(v, str) and EVENT_SIGNATURE.fullmatch(v)]
    if not signatures:
        return problems
    return [p for p in problems if not (p.rule == "secret.private-key" and _named_topic(mapping, path, p, signatures))]


def _named_topic(mapping: dict[Any, Any], path: Path_, problem: Problem, signatures: list[str]) -> bool:
    item = mapping.get(problem.path[-1]) if len(problem.path) == len(path) + 1 else None
    return isinstance(item, str) and is_topic(item.strip(), signatures)


def _entry(key: Any, item: Any, path: Path_, hashy: bool, in_job: bool, out: list[Problem]) -> None:
    if isinstance(key, str):
        child = (*path, key)
        kind, holds_hashes, not_hashes, pool, finding = _key_facts(key)
        if kind and has_value(item) and not (kind == "token" and is_addresses(item)):
            out.append(_key_problem(key, item, child, kind))
            return
        if finding:
            out.append(_problem(finding, child, at_key=True))
        # A shape the value shows by itself (a provider URL with its key) says more than "a key-shaped pool".
        shaped = pool and isinstance(item, str) and len(item) >= 16 and not inspect(item, hashy, in_job)
        if shaped and key_shaped_name(item):
            message = f'"{one_line(key)[:32]}" names a pool, and holds a value shaped like a key: {mask(item.strip())}'
            out.append(Problem("secret.high-entropy", message, child, POOL_HINT))
            return
        hashy = (hashy or holds_hashes) and not not_hashes
    else:
        child = (*path, key if isinstance(key, int) else str(key))
        if isinstance(key, int) and key.bit_length() > 224 and int_key_shaped(key):
            # `0x<key>: …` unquoted: YAML reads the mapping key as an integer, a private key all the same.
            shape = "32-byte integer mapping key (an unquoted hex value), shaped like a private key"
            out.append(Problem("secret.private-key", f"{shape}: {mask(hex(key))}", child, HASH_HINT, at_key=True))
    _walk(item, child, hashy, in_job, out)


def _problem(finding: Finding, path: Path_, at_key: bool) -> Problem:
    return Problem(finding.rule, finding.message, path, finding.hint, at_key=at_key, line_offset=finding.line)


def _key_problem(key: str, item: Any, path: Path_, kind: str) -> Problem:
    if isinstance(item, dict):
        shown = "a mapping"
    elif isinstance(item, (list, tuple)):
        shown = "a list"
    elif isinstance(item, int) and item.bit_length() > _DECIMAL_BITS:
        shown = mask(hex(item))
    else:
        shown = mask(str(item))
    name = one_line(key)
    message = f'key "{name}" names a secret and holds a value ({shown})'
    return Problem("secret.key-name", message, path, POOL_HINT if kind == "rpc" else REMOVE_HINT, at_key=True)


@lru_cache(maxsize=4096)
def _key_facts(key: str) -> tuple[str | None, bool, bool, bool, Finding | None]:
    """What a mapping key says (cached: the same keys recur in every job): secret kind, hash field, key-ish name,
    pool name, own shape."""
    words = key_words(key)
    # A mapping key is a name or an id (a tx hash keying a map), never a private key.
    return secret_kind(words), hash_field(words), keyish(words), pool_name(words), inspect(key, True)
