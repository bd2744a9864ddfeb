"""Reading the plain block YAML most DAGs are written in straight to data, without PyYAML's node tree.

Composing nodes costs about 6 µs a line, nearly all of it Python objects: libyaml itself parses the same text in a
twentieth of that. So a file libyaml accepts (its parser run alone, in C) and whose every line is one this reader
knows is read here, to the very data `PlainData` would build from its nodes. Anything else (nested flow
collections, block and multi-line scalars, escapes, anchors, aliases, tags, merge keys, duplicate keys, tabs,
other line breaks, document markers, a value that does not convert) is None: the file is composed as ever, and
that path reports what there is to report. Where values were written is not kept: a document read here
composes its nodes the first time a finding needs locating.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from trace_operators.dag.yaml_data import SCALARS, STR, resolve

#: Characters that send a whole file to composition: tabs (which YAML reads apart from spaces), and line breaks
#: other than "\n". Every other construct this reader does not know, it finds on its line.
_REFUSED = "\t\r\x85\u2028\u2029"
#: libyaml's parser, when PyYAML has it (without, every file is composed).
_LIBYAML = getattr(yaml, "CBaseLoader", None)
#: Deeper than this, a file is composed: that path reports a document nested past what Python recursion loads.
_MAX_DEPTH = 64
_PLAIN = (True, False)  # the implicit flags libyaml gives a plain scalar
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
#: A plain scalar starts with none of YAML's indicators ("-" only before a space, which makes an item): no anchor,
#: alias, tag, block scalar, explicit key or flow mapping.
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")
#: What a flow collection's item never holds here: what would nest or end it, a key's colon, a comment.
_NOT_IN_FLOW = re.compile(r"[\[\]{},:#]")


@dataclass(frozen=True)
class Quick:
    """A file read without nodes."""

    data: Any
    #: How many nodes composing it makes (with no aliases, expanded and written alike).
    nodes: int
    #: Where each job block of a DAG's block list `jobs:` starts, 1-based (line, column); None without one.
    job_starts: tuple[tuple[int, int], ...] | None


class _Unknown(Exception):
    """A line this reader does not know: the file is composed instead."""


def quick_data(text: str) -> Quick | None:
    """The file's data as PyYAML and `PlainData` read it, when libyaml accepts it and every line is plain block
    YAML; None otherwise."""
    if _LIBYAML is None or any(c in text for c in _REFUSED):
        return None
    try:
        _LIBYAML(text).raw_parse()  # libyaml's parser alone, in C: what composing would accept
    except yaml.YAMLError:
        return None
    try:
        return _read(text)
    except _Unknown:
        return None


def _resolved(text: str) -> Any:
    """A plain scalar as `PlainData` reads it; a tag it refuses or a value that does not convert is `_Unknown`."""
    tag = resolve(ScalarNode, text, _PLAIN)
    if tag == STR:
        return text
    convert = SCALARS.get(tag)
    if convert is None:
        raise _Unknown
    try:
        return convert(text)
    except Exception as error:  # composition reports why it does not convert
        raise _Unknown from error


def _scalar(text: str) -> Any:
    """A value written after `key: ` or `- `, on one line, its comment removed."""
    first = text[0]
    if first == "[":
        return _flow_sequence(text)
    if first == "{":
        return _flow_mapping(text)
    if first not in "\"'" and (": " in text or text[-1] == ":"):
        raise _Unknown  # a mapping inside a plain value, or one ending like a key
    return _single(text)


def _single(text: str) -> Any:
    """A quoted or plain scalar, on one line."""
    first = text[0]
    if first in "\"'":
        if len(text) < 2 or text[-1] != first or first in text[1:-1] or (first == '"' and "\\" in text):
            raise _Unknown  # spread over lines, an escape, a doubled '' or more after the closing quote
        return text[1:-1]
    if first in _INDICATORS or _opens_item(text):
        raise _Unknown
    return _resolved(text)


def _opens_item(text: str) -> bool:
    """Whether `text` starts with a block list's `- ` (or is a lone `-`)."""
    return text[0] == "-" and (len(text) == 1 or text[1] == " ")


def _flow_sequence(text: str) -> list[Any]:
    """`[a, 'b', 1]` on one line, nothing nested."""
    return [_flow_item(part) for part in _flow_parts(text, "]")]


def _flow_mapping(text: str) -> dict[str, Any]:
    """`{job: a, output: 0}` on one line, nothing nested."""
    mapping: dict[str, Any] = {}
    for part in _flow_parts(text, "}"):
        key, colon, value = part.strip(" ").partition(":")
        if not colon or not value.startswith(" ") or not _is_key(key) or key in mapping:
            raise _Unknown  # `{a}`, `{a:1}`, an odd key or a duplicate
        mapping[key] = _flow_item(value)
    return mapping


def _flow_parts(text: str, end: str) -> list[str]:
    if text[-1] != end:
        raise _Unknown
    inner = text[1:-1]
    return inner.split(",") if inner.strip(" ") else []


def _flow_item(part: str) -> Any:
    item = part.strip(" ")
    if not item or _NOT_IN_FLOW.search(item):
        raise _Unknown  # empty (a trailing comma), nested, or holding a colon or a comment
    return _single(item)


def _size(value: Any) -> int:
    """How many nodes a value written on one line composes to: flow collections hold only scalars."""
    if value.__class__ is list:
        return 1 + len(value)
    return 1 + 2 * len(value) if value.__class__ is dict else 1


@functools.lru_cache(maxsize=4096)  # the same keys recur in every job block
def _is_key(key: str) -> bool:
    """Whether `key` is a plain key composing reads as this very string (not `on`, `null`, `<<` or `"quoted"`)."""
    return _KEY.match(key) is not None and _resolved(key) == key


def _read(text: str) -> Quick:  # noqa: PLR0912, PLR0915 - one loop with its state in locals: it runs once a line
    """One pass over the lines, keeping the open mappings and lists with the indent of their entries."""
    stack: list[tuple[int, Any]] = []
    nodes = 1  # those composing makes: the root, each key, each value (a flow list's items too)
    pending: tuple[dict[str, Any], str, int] | None = None  # a `key:` with nothing after it, until the next line
    jobs: list[Any] | None = None
    job_starts: list[tuple[int, int]] = []
    number = 0
    for line in text.split("\n"):
        number += 1
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            continue
        indent = len(line) - len(content)
        if " #" in content:
            if '"' in content or "'" in content:
                raise _Unknown  # a " #" inside quotes is no comment: not worth telling apart here
            content = content[: content.index(" #")]
        content = content.rstrip(" ")
        item = _opens_item(content)
        if pending is not None:  # its value: a block below it, a list level with it, or (left as it is) null
            mapping, key, at = pending
            pending = None
            if indent > at or (indent == at and item):
                child: Any = [] if item else {}
                mapping[key] = child
                if item and key == "jobs" and mapping is stack[0][1]:
                    jobs = child
                stack.append((indent, child))
        elif not stack:
            stack.append((indent, [] if item else {}))
        if len(stack) > _MAX_DEPTH:
            raise _Unknown
        while True:  # the open container this line belongs to, closing those it ends
            if not stack:
                raise _Unknown  # left of the document
            at, container = stack[-1]
            if at == indent and (container.__class__ is list) == item:
                break
            if at < indent:
                raise _Unknown  # deeper than any open block: a plain scalar continued, or a value alone
            stack.pop()
        if item:
            rest = content[1:].lstrip(" ")
            if not rest or _opens_item(rest):
                raise _Unknown  # an item on the lines below, or an item in an item
            indent += len(content) - len(rest)  # where the item's value starts
            content = rest
            if container is jobs:
                job_starts.append((number, indent + 1))
        key, colon, value = content.partition(":")
        if not colon or (value and value[0] != " "):  # no entry, a value: `- x`, `- http://x`
            if not item:
                raise _Unknown  # a plain scalar continued on this line, or one written alone
            value = _scalar(content)
            nodes += _size(value)
            container.append(value)
            continue
        if not _is_key(key):
            raise _Unknown  # a quoted, odd or non-string key
        if item:
            nodes += 1
            mapping = {}
            container.append(mapping)
            stack.append((indent, mapping))
        else:
            mapping = container
        if key in mapping:
            raise _Unknown  # a duplicate: composition reports it
        value = value.lstrip(" ")
        if value:
            value = _scalar(value)
            nodes += 1 + _size(value)
            mapping[key] = value
        else:
            nodes += 2  # the key, and null or the block the next lines open
            mapping[key] = None  # in its place, as the next line may make it a mapping or a list
            pending = (mapping, key, indent)
    if not stack:
        raise _Unknown  # no document: composition reports it
    return Quick(stack[0][1], nodes, tuple(job_starts) if jobs is not None else None)
