"""Load one DAG YAML file safely into plain data, keeping where every value was written (SPEC §3)."""

from __future__ import annotations

import functools
import gc
import os
import pathlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trace_operators.contract import Path_

_SAFE = SafeConstructor()
_PYYAML_RESOLVER = yaml.resolver.Resolver()

_P = "tag:yaml.org,2002:"
STR, MAP, SEQ, MERGE = _P + "str", _P + "map", _P + "seq", _P + "merge"
NULL, BOOL, INT, FLOAT, TIMESTAMP = _P + "null", _P + "bool", _P + "int", _P + "float", _P + "timestamp"
_INDICATORS = {_P + "value": "value-key", MERGE: "merge-key"}
_KINDS = {NULL: "null", BOOL: "a bool", INT: "an int", FLOAT: "a float", TIMESTAMP: "a timestamp"}

#: Expansion bounds against billion laughs: an absolute size, and a ratio to what is written that only
#: counts past a floor, so a small file reusing one anchor many times is not mistaken for a bomb.
MAX_EXPANDED_NODES = 100_000
MAX_EXPANSION_RATIO = 20
RATIO_FLOOR = 10_000


@functools.lru_cache(maxsize=4096)  # keys, enum-like values and numbers repeat in every job block
def _resolve(kind: type[Node], value: str | None, implicit: tuple[bool, bool]) -> str:
    """PyYAML's YAML 1.1 resolution, except that sexagesimal (`1:30`) and leading-zero octal (`012`) stay text."""
    # PyYAML reads them as 90 and 10: as strings, the schema reports a type error instead of a wrong number.
    tag: str = _PYYAML_RESOLVER.resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
    if tag in (INT, FLOAT) and value is not None:
        digits = value.replace("_", "").lstrip("+-")
        if ":" in digits or (tag == INT and len(digits) > 1 and digits[0] == "0" and digits[1] not in "bx"):
            return STR
    return tag


def _no_path_resolvers(*_: object) -> None:
    """The safe loader has no path resolvers: skip PyYAML's bookkeeping of the path to each node."""


_LIBYAML = getattr(yaml, "CSafeLoader", None)


class _Loader(_LIBYAML or yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's parser and composer when present, with the resolver above."""

    resolve = staticmethod(_resolve)
    descend_resolver = staticmethod(_no_path_resolvers)
    ascend_resolver = staticmethod(_no_path_resolvers)


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_SYNTAX_HINTS = (
    ("mapping values are not allowed", "quote a value that holds ': ', or fix the indentation of this line"),
    ("cannot start any token", "indent with spaces, never tabs; quote a value starting with '@' or '`'"),
    ("could not find expected ':'", "a key needs ': ' after it; check the indentation or quote the line"),
    ("undefined alias", "define the anchor (&name) before its first alias (*name)"),
    ("duplicate anchor", "give each anchor (&name) its own name"),
)
_DEFAULT_SYNTAX_HINT = "check the indentation; quote values that hold ': ' or ' #' or start with a YAML indicator"


@dataclass(frozen=True)
class LoadProblem:
    """A reason the file could not be turned into data; positions are 1-based."""

    rule: str
    message: str
    line: int
    col: int
    hint: str = ""


@dataclass
class Document:
    """A loaded file: plain data, plus the node tree it came from to locate values on demand."""

    source: str
    data: Any
    _root: Node | None = field(default=None, repr=False, compare=False)
    _text: str = field(default="", repr=False, compare=False)

    def locate(self, path: Path_, at_key: bool = False, line_offset: int = 0) -> tuple[int, int]:
        """1-based (line, col) of the value at `path` (of its key when at_key); for a path that does not
        exist, the position of its nearest existing ancestor (so a missing key points at its parent);
        line_offset moves down inside a multi-line string (exact for literal `|` blocks, where line 0 is the
        first content line; for other styles, best effort)."""
        if self._root is None:
            return 1, 1
        key, node = None, self._root
        for step in path:
            found = _child(node, step)
            if found is None:
                # The ancestor is named by its key when it has one: `config:` rather than its first entry.
                return _position(key or node)
            key, node = found
        if at_key and key is not None:
            return _position(key)
        if line_offset and isinstance(node, ScalarNode):
            return self._inside(node, line_offset)
        return _position(node)

    def _inside(self, node: ScalarNode, line_offset: int) -> tuple[int, int]:
        """Position of the line `line_offset` lines into a multi-line scalar."""
        lines = _LINE_BREAK.split(self._text)
        last = max(node.end_mark.line - (node.end_mark.column == 0), node.start_mark.line)
        if node.style in ("|", ">"):
            first = node.start_mark.line + 1  # the line after the `|` header
            body = [text for text in lines[first : last + 1] if text.strip()]
            indent = len(body[0]) - len(body[0].lstrip(" ")) if body else 0
            line = min(first + line_offset, max(last, first))
            return line + 1, indent + 1
        line = min(node.start_mark.line + line_offset, last)
        if line == node.start_mark.line:
            return _position(node)
        text = lines[line]
        return line + 1, len(text) - len(text.lstrip(" \t")) + 1


def load_document(path: pathlib.Path) -> tuple[Document | None, list[LoadProblem]]:
    """Load one YAML file; the Document is None exactly when the file is rejected."""
    text, problem = _read(path)
    if problem is not None:
        return None, [problem]
    enabled = gc.isenabled()
    gc.disable()  # compose and build only allocate: collecting while they run costs ~15% of a 200-file run
    try:
        root = yaml.compose(text, Loader=_Loader)
        if root is None or _is_empty(root):
            return None, [
                LoadProblem(
                    "yaml.empty",
                    "the file holds no document",
                    1,
                    1,
                    "write a DAG, a list of job blocks or one job block",
                )
            ]
        if "*" in text:  # an alias needs a '*': only then can expansion blow up
            bomb = _expansion_problem(root)
            if bomb is not None:
                return None, [bomb]
        builder = _Builder()
        data = builder.value(root)
    except yaml.MarkedYAMLError as error:
        return None, [_marked_problem(error)]
    except yaml.reader.ReaderError as error:
        return None, [_reader_problem(error, text)]
    except RecursionError:
        return None, [
            LoadProblem(
                "yaml.syntax",
                "the document is nested too deeply to load",
                1,
                1,
                "a job block needs only a few levels of nesting",
            )
        ]
    finally:
        if enabled:
            gc.enable()
    if builder.problems:
        return None, sorted(builder.problems.values(), key=lambda p: (p.line, p.col))
    return Document(str(path), data, root, text), []


def iter_yaml_files(paths: Iterable[pathlib.Path]) -> Iterator[pathlib.Path]:
    """Files as given; folders walked for `*.yaml` and `*.yml`, sorted, skipping hidden entries."""
    for path in paths:
        if not path.is_dir():
            yield path  # a missing path too: load_document reports it
            continue
        found: list[pathlib.Path] = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            found.extend(
                pathlib.Path(folder, name)
                for name in files
                if name.endswith((".yaml", ".yml")) and not name.startswith(".")
            )
        yield from sorted(found)


def _read(path: pathlib.Path) -> tuple[str, LoadProblem | None]:
    """The file's text, or why it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return "", _unreadable("it does not exist")
    except IsADirectoryError:
        return "", _unreadable("it is a directory")
    except PermissionError:
        return "", _unreadable("permission denied")
    except OSError as error:
        return "", _unreadable(error.strerror or type(error).__name__)
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        message = f"the file is not UTF-8 (byte 0x{raw[error.start]:02x} on line {line})"
        return "", LoadProblem("yaml.unreadable", message, 1, 1, "save the file as UTF-8")


def _unreadable(reason: str) -> LoadProblem:
    return LoadProblem("yaml.unreadable", f"cannot read the file: {reason}", 1, 1)


def _is_empty(root: Node | None) -> bool:
    """No document, or only `---` and comments (which compose to an empty plain null)."""
    return root is None or (root.tag == NULL and root.value == "" and not getattr(root, "style", None))


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: Node, step: str | int) -> tuple[Node | None, Node] | None:
    """(key node, value node) of `step` under `node`, following merge keys like the builder does."""
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return None, node.value[step]
    if not isinstance(node, MappingNode):
        return None
    for key, value in node.value:
        if key.tag == STR and key.value == step:
            return key, value
    for key, value in node.value:
        if key.tag == MERGE:
            for source in value.value if isinstance(value, SequenceNode) else [value]:
                found = _child(source, step)
                if found is not None:
                    return found
    return None


def _expansion_problem(root: Node) -> LoadProblem | None:
    """A `yaml.alias-bomb` when expanding aliases would exceed the bounds; sizes are counted, never built."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    worst: list[Node] = []

    def size(node: Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in active:
            raise _Cycle(node)
        total = 1
        if not isinstance(node, ScalarNode):
            active.add(id(node))
            items = node.value if isinstance(node, SequenceNode) else [n for pair in node.value for n in pair]
            total += sum(size(item) for item in items)
            active.discard(id(node))
        if total > MAX_EXPANDED_NODES and not worst:
            worst.append(node)  # the smallest construct past the bound: where the blow-up is written
        sizes[id(node)] = total
        return total

    try:
        expanded = size(root)
    except _Cycle as cycle:
        line, col = _position(cycle.node)
        return LoadProblem(
            "yaml.alias-bomb",
            "an alias refers to a node that contains it: expansion would never end",
            line,
            col,
            "an alias (*name) may only repeat a node defined before it, not its own parent",
        )
    written = len(sizes)
    if expanded <= MAX_EXPANDED_NODES and (expanded <= MAX_EXPANSION_RATIO * written or expanded <= RATIO_FLOOR):
        return None
    line, col = _position(worst[0] if worst else root)
    return LoadProblem(
        "yaml.alias-bomb",
        f"aliases would expand the document to {expanded:,} nodes from {written:,} written "
        f"(limit {MAX_EXPANDED_NODES:,} nodes, or {MAX_EXPANSION_RATIO}x what is written)",
        line,
        col,
        "repeat less through aliases (*name); a DAG never needs that many nodes",
    )


class _Cycle(Exception):
    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node


def _marked_problem(error: yaml.MarkedYAMLError) -> LoadProblem:
    """`yaml.syntax` or `yaml.multiple-documents` from a scanner, parser or composer error."""
    mark = error.problem_mark or error.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if error.context == "expected a single document in the stream":
        return LoadProblem(
            "yaml.multiple-documents",
            "the file holds more than one YAML document (`---`): " "only one DAG per file",
            line,
            col,
            "put each DAG in its own file",
        )
    message = error.problem or error.context or "invalid YAML"
    if "duplicate anchor" in (error.context or "") and error.context_mark:
        message = f"duplicate anchor (first defined on line {error.context_mark.line + 1})"
    elif error.context and error.context_mark and error.problem:
        message = f"{error.problem} ({error.context} on line {error.context_mark.line + 1})"
    hint = next((hint for needle, hint in _SYNTAX_HINTS if needle in message), _DEFAULT_SYNTAX_HINT)
    return LoadProblem("yaml.syntax", message, line, col, hint)


def _reader_problem(error: yaml.reader.ReaderError, text: str) -> LoadProblem:
    """A character YAML forbids; libyaml gives a UTF-8 byte offset, the pure Python reader a character one."""
    offset = error.position
    if _LIBYAML is not None:
        offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
    before = text[:offset]
    line = before.count("\n") + 1
    col = offset - before.rfind("\n")
    return LoadProblem(
        "yaml.syntax",
        f"unacceptable character #x{error.character:04x}: {error.reason}",
        line,
        col,
        "remove the control character, or write it as an escape in a double-quoted string",
    )


def _integer(text: str) -> int:
    """An int as PyYAML reads it (`0x1f`, `1_000`, and under an explicit `!!int` octal and sexagesimal)."""
    if text.isdigit() and text[0] != "0":
        return int(text)
    return _SAFE.construct_yaml_int(ScalarNode(INT, text))


def _float(text: str) -> float:
    return _SAFE.construct_yaml_float(ScalarNode(FLOAT, text))


def _timestamp(text: str) -> str:
    """The ISO form of a timestamp, so data stays JSON-like; an impossible date stays as written."""
    try:
        return _SAFE.construct_yaml_timestamp(ScalarNode(TIMESTAMP, text)).isoformat()
    except ValueError:
        return text


# YAML 1.1 booleans (`yes`, `on`, `off`, ...) stay booleans, as PyYAML reads them: a misused one then fails
# the schema's type check, and an `on:` key is reported as a non-string key rather than read as "on".
_SCALARS = {
    NULL: lambda text: None,
    BOOL: lambda text: _SAFE.bool_values[text.lower()],
    INT: _integer,
    FLOAT: _float,
    TIMESTAMP: _timestamp,
}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_P) :] if tag.startswith(_P) else tag


class _Builder:
    """One recursive pass from nodes to plain data; every problem is collected once, keyed by its position."""

    def __init__(self) -> None:
        self.problems: dict[tuple[str, int, int], LoadProblem] = {}

    def value(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return node.value if node.tag == STR else self.scalar(cast(ScalarNode, node))
        if cls is MappingNode:
            return self.mapping(cast(MappingNode, node)) if node.tag == MAP else self.refuse(node)
        return [self.value(item) for item in node.value] if node.tag == SEQ else self.refuse(node)

    def scalar(self, node: ScalarNode) -> Any:
        convert = _SCALARS.get(node.tag)
        if convert is None:
            return self.refuse(node)
        try:
            return convert(node.value)
        except (ValueError, KeyError, IndexError):
            kind = _KINDS[node.tag].split()[-1]
            return self.report(
                "yaml.not-data",
                node,
                f"`{node.value}` cannot be read as {kind}",
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
        first = next(key for key, _ in node.value if key.tag == second.tag and key.value == second.value)
        self.report(
            "yaml.duplicate-key",
            second,
            f"duplicate key `{second.value}` (first on line {first.start_mark.line + 1})",
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
                f"the key `{key.value}` is read as {kind}, not a string: " "job blocks only use string keys",
                f'quote it: "{key.value}":',
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
            f"the tag `{_short_tag(node.tag)}` is refused: a DAG holds only plain "
            "data (strings, numbers, booleans, null, lists and mappings)",
            "remove the tag; quote the value if it is text",
        )

    def report(self, rule: str, node: Node, message: str, hint: str) -> None:
        line, col = _position(node)
        self.problems.setdefault((rule, line, col), LoadProblem(rule, message, line, col, hint))
