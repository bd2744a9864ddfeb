"""From composed YAML nodes to plain data (str, int, float, bool, None, lists and mappings), problems collected."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trace_operators.dag.quoting import shown

_SAFE = SafeConstructor()

_P = "tag:yaml.org,2002:"
STR, MAP, SEQ, MERGE = _P + "str", _P + "map", _P + "seq", _P + "merge"
NULL, BOOL, INT, FLOAT, TIMESTAMP = _P + "null", _P + "bool", _P + "int", _P + "float", _P + "timestamp"
_INDICATORS = {_P + "value": "value-key", MERGE: "merge-key"}
_KINDS = {NULL: "null", BOOL: "a bool", INT: "an int", FLOAT: "a float", TIMESTAMP: "a timestamp"}


_PYYAML_RESOLVER = yaml.resolver.Resolver()
#: The first characters PyYAML has implicit resolvers for: a plain scalar starting with any other is a string.
_RESOLVED_FIRSTS = frozenset(_PYYAML_RESOLVER.yaml_implicit_resolvers)


def resolve(kind: type[Node], value: str | None, implicit: Any) -> str:
    """PyYAML's YAML 1.1 resolution, except that sexagesimal (`1:30`) and leading-zero octal (`012`) stay text.

    Plain scalars no resolver starts with (most names) and plain decimal integers are answered before the regexes:
    they are most scalars of a DAG, and many are written once (job names, block numbers)."""
    if kind is ScalarNode and implicit[0] and value:
        first = value[0]
        if first not in _RESOLVED_FIRSTS:
            return STR
        if first in "123456789" and value.isdigit() and value.isascii():
            return INT
    return _resolved(kind, value, implicit)  # type: ignore[arg-type]  # a class is hashable, whatever mypy says


@functools.lru_cache(maxsize=4096)  # keys, enum-like values and numbers repeat in every job block
def _resolved(kind: type[Node], value: str | None, implicit: Any) -> str:
    # PyYAML reads `1:30` and `012` as 90 and 10: as strings, the schema reports a type error, not a wrong number.
    tag: str = _PYYAML_RESOLVER.resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
    if tag in (INT, FLOAT) and value is not None:
        digits = value.replace("_", "").lstrip("+-")
        if ":" in digits or (tag == INT and len(digits) > 1 and digits[0] == "0" and digits[1] not in "bx"):
            return STR
    return tag


@dataclass(frozen=True)
class LoadProblem:
    """A reason the file could not be turned into data; positions are 1-based."""

    rule: str
    message: str
    line: int
    col: int
    hint: str = ""


def position(node: Node) -> tuple[int, int]:
    """The 1-based line and column where `node` is written."""
    return node.start_mark.line + 1, node.start_mark.column + 1


#: Python reads at most 4,300 decimal digits into an int, and prints no more (sys.get_int_max_str_digits); bits
#: bound the other bases, whose ints Python reads at any size but cannot print in decimal past that either.
MAX_DIGITS = 4300
_MAX_BITS = 14_000


class TooBig(ValueError):
    """An integer too long for Python to read or print: no DAG needs one."""


def _integer(text: str) -> int:
    """An int as PyYAML reads it (`0x1f`, `1_000`, and under an explicit `!!int` octal and sexagesimal)."""
    if len(text) > MAX_DIGITS:
        raise TooBig(text)
    value = int(text) if text.isdigit() and text[0] != "0" else _SAFE.construct_yaml_int(ScalarNode(INT, text))
    if value.bit_length() > _MAX_BITS:
        raise TooBig(text)
    return value


def _float(text: str) -> float:
    return _SAFE.construct_yaml_float(ScalarNode(FLOAT, text))


def _timestamp(text: str) -> str:
    """The ISO form of a timestamp, so data stays JSON-like; an impossible date stays as written."""
    if SafeConstructor.timestamp_regexp.match(text) is None:  # `!!timestamp` on text of another form
        raise ValueError(text)
    try:
        return _SAFE.construct_yaml_timestamp(ScalarNode(TIMESTAMP, text)).isoformat()
    except ValueError:
        return text


# YAML 1.1 booleans (`yes`, `on`, `off`, ...) stay booleans, as PyYAML reads them: a misused one then fails
# the schema's type check, and an `on:` key is reported as a non-string key rather than read as "on".
SCALARS = {
    NULL: lambda text: None,
    BOOL: lambda text: _SAFE.bool_values[text.lower()],
    INT: _integer,
    FLOAT: _float,
    TIMESTAMP: _timestamp,
}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_P) :] if tag.startswith(_P) else tag


class PlainData:
    """One recursive pass from nodes to plain data; every problem is collected once, keyed by its position."""

    def __init__(self) -> None:
        self.problems: dict[tuple[str, int, int], LoadProblem] = {}
        #: Per mapping with a duplicate key (by id): each key's first node.
        self.firsts: dict[int, dict[tuple[str, Any], Node]] = {}

    def value(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return node.value if node.tag == STR else self.scalar(cast(ScalarNode, node))
        if cls is MappingNode:
            return self.mapping(cast(MappingNode, node)) if node.tag == MAP else self.refuse(node)
        return [self.value(item) for item in node.value] if node.tag == SEQ else self.refuse(node)

    def scalar(self, node: ScalarNode) -> Any:
        convert = SCALARS.get(node.tag)
        if convert is None:
            return self.refuse(node)
        try:
            return convert(node.value)
        except TooBig:
            return self.report(
                "yaml.not-data",
                node,
                f"an integer of {len(node.value):,} characters is more than Python reads or prints "
                f"({MAX_DIGITS:,} digits at most)",
                "no field of a DAG needs a number this long: write a smaller one, or quote it if it is text",
            )
        except (ValueError, KeyError, IndexError, OverflowError):
            kind = _KINDS[node.tag].split()[-1]
            return self.report(
                "yaml.not-data",
                node,
                f"`{shown(node.value)}` cannot be read as {kind}",
                "remove the tag, or write a value of its type",
            )

    def mapping(self, node: MappingNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for key, value in node.value:
            if key.tag == STR and key.__class__ is ScalarNode:
                if key.value in out:
                    self.duplicate(node, key)
                else:
                    out[key.value] = self.value(value)
            elif key.tag == MERGE and key.__class__ is ScalarNode:
                if merges:
                    self.duplicate(node, key)
                merges.append(value)
            else:
                self.key_problem(key)
        return self.merge(merges, out) if merges else out

    def merge(self, merges: list[Node], explicit: dict[str, Any]) -> dict[str, Any]:
        """Merged keys first, as PyYAML orders them; explicit keys win, then earlier sources over later ones."""
        out: dict[str, Any] = {}
        for value in merges:
            for source in value.value if value.__class__ is SequenceNode else [value]:
                if source.__class__ is not MappingNode:
                    self.report(
                        "yaml.syntax",
                        source,
                        "`<<` merges a mapping or a list of mappings, nothing else",
                        "write `<<: *anchor` or `<<: [*a, *b]` with anchors on mappings",
                    )
                    continue
                for key, item in (self.value(source) or {}).items():  # None: a refused tag, already reported
                    out.setdefault(key, item)
        out.update(explicit)
        return out

    def duplicate(self, node: MappingNode, second: ScalarNode) -> None:
        # Indexed once per mapping that has a duplicate: searching for each would be quadratic in its keys.
        firsts = self.firsts.get(id(node))
        if firsts is None:
            firsts = self.firsts[id(node)] = {}
            for key, _ in node.value:
                firsts.setdefault((key.tag, key.value), key)
        first = firsts[(second.tag, second.value)]
        self.report(
            "yaml.duplicate-key",
            second,
            f"duplicate key `{shown(second.value)}` (first on line {first.start_mark.line + 1})",
            "keep one of them: PyYAML would silently keep the last",
        )

    def key_problem(self, key: Node) -> None:
        if key.__class__ is ScalarNode:
            kind = _KINDS.get(key.tag)
        else:
            kind = "a mapping" if key.__class__ is MappingNode else "a list"
        if kind is None:
            self.refuse(key)
        elif key.__class__ is ScalarNode:
            self.report(
                "yaml.non-string-key",
                key,
                f"the key `{shown(key.value)}` is read as {kind}, not a string: job blocks only use string keys",
                f'quote it: "{shown(key.value)}":',
            )
        else:
            self.report(
                "yaml.non-string-key",
                key,
                f"this key is {kind}, not a string: job blocks only use " "string keys",
                "write a plain name as the key",
            )

    def refuse(self, node: Node) -> None:
        if node.tag in _INDICATORS:  # a bare `=` or `<<` where a value belongs
            self.report(
                "yaml.not-data",
                node,
                f"a bare `{node.value}` is YAML 1.1's {_INDICATORS[node.tag]} " "indicator, not data",
                f"quote it: '{node.value}'",
            )
            return
        self.report(
            "yaml.not-data",
            node,
            f"the tag `{shown(_short_tag(node.tag))}` is refused: a DAG holds only plain "
            "data (strings, numbers, booleans, null, lists and mappings)",
            "remove the tag; quote the value if it is text",
        )

    def report(self, rule: str, node: Node, message: str, hint: str) -> None:
        line, col = position(node)
        self.problems.setdefault((rule, line, col), LoadProblem(rule, message, line, col, hint))
