"""Load one DAG YAML file safely into plain data, keeping where every value was written (SPEC §3)."""

from __future__ import annotations

import gc
import pathlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trace_operators.contract import Path_
from trace_operators.dag.expansion import expansion
from trace_operators.dag.quick import quick_data
from trace_operators.dag.reading import DEFAULT_MAX_FILE_SIZE, read_text
from trace_operators.dag.yaml_data import MERGE, NULL, STR, LoadProblem, PlainData, position, resolve
from trace_operators.secrets import secret_line


def _no_path_resolvers(*_: object) -> None:
    """The safe loader has no path resolvers: skip PyYAML's bookkeeping of the path to each node."""


_LIBYAML = getattr(yaml, "CSafeLoader", None)


class _Loader(_LIBYAML or yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's parser and composer when present, with the resolver of `yaml_data`."""

    resolve = staticmethod(resolve)
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


@dataclass
class Document:
    """A loaded file: plain data, plus the node tree it came from to locate values on demand (a file read without
    nodes composes it then)."""

    source: str
    data: Any
    _root: Node | None = field(default=None, repr=False, compare=False)
    _text: str = field(default="", repr=False, compare=False)
    #: Its nodes with aliases expanded and as written, once counted (loading counts them when there is an alias).
    _nodes: tuple[int, int] | None = field(default=None, repr=False, compare=False)
    #: Where each job block of its `jobs:` list starts, when reading it told.
    _job_starts: tuple[tuple[int, int], ...] | None = field(default=None, repr=False, compare=False)

    def locate(self, path: Path_, at_key: bool = False, line_offset: int = 0, rule: str = "") -> tuple[int, int]:
        """1-based (line, col) of the value at `path` (of its key when at_key); for a path that does not
        exist, the position of its nearest existing ancestor (so a missing key points at its parent); inside a
        multi-line string, the line `line_offset` newlines into a literal `|` block, and for a secret `rule` in
        other styles (whose lines folding joins) the source line holding the secret."""
        root = self._tree()
        if root is None:
            return 1, 1
        key, node = None, root
        for step in path:
            found = _child(node, step)
            if found is None:
                # The ancestor is named by its key when it has one: `config:` rather than its first entry.
                return position(key or node)
            key, node = found
        if at_key and key is not None:
            return position(key)
        if isinstance(node, ScalarNode) and (line_offset or rule.startswith("secret.")):
            return self._inside(node, line_offset, rule)
        return position(node)

    def node_counts(self) -> tuple[int, int]:
        """How many nodes the document has with its aliases expanded, and as written."""
        if self._nodes is None:
            root = self._tree()
            self._nodes = expansion(root)[0] if root is not None else (0, 0)
        return self._nodes

    def job_starts(self) -> tuple[tuple[int, int], ...] | None:
        """Where each job block starts, 1-based (line, column); None for a document that is not a DAG with a list
        of jobs."""
        jobs = self.data.get("jobs") if isinstance(self.data, dict) else None
        if not isinstance(jobs, list):
            return None
        if self._job_starts is None:
            self._job_starts = tuple(self.locate(("jobs", k)) for k in range(len(jobs)))
        return self._job_starts

    def _tree(self) -> Node | None:
        """Its node tree: a document read without one composes it the first time a position is asked for."""
        if self._root is None and self._text:
            self._root = yaml.compose(self._text, Loader=_Loader)
        return self._root

    @cached_property
    def _lines(self) -> list[str]:
        return _LINE_BREAK.split(self._text)

    def _inside(self, node: ScalarNode, line_offset: int, rule: str) -> tuple[int, int]:
        """Position of the source line of a multi-line scalar that holds its problem."""
        start = node.start_mark.line
        last = max(node.end_mark.line - (node.end_mark.column == 0), start)
        if node.style in ("|", ">"):
            first = start + 1  # the line after the `|` or `>` header
            body = [text for text in self._lines[first : last + 1] if text.strip()]
            indent = len(body[0]) - len(body[0].lstrip(" ")) if body else 0
            if node.style == ">":
                line_offset = _secret_line(self._lines[first : last + 1], rule, line_offset)
            return min(first + line_offset, max(last, first)) + 1, indent + 1
        # Plain and quoted scalars start after their key, on the key's line.
        lines = [self._lines[start][node.start_mark.column :], *self._lines[start + 1 : last + 1]]
        line = min(start + _secret_line(lines, rule, line_offset), last)
        if line == start:
            return position(node)
        text = self._lines[line]
        return line + 1, len(text) - len(text.lstrip(" \t")) + 1


def _secret_line(lines: list[str], rule: str, line_offset: int) -> int:
    """Which of a folded or plain scalar's source lines holds its secret: folding made line_offset count the
    value's lines, not the source's."""
    found = secret_line(lines, rule) if rule.startswith("secret.") and len(lines) > 1 else None
    return line_offset if found is None else found


def load_document(path: pathlib.Path, limit: int = DEFAULT_MAX_FILE_SIZE) -> tuple[Document | None, list[LoadProblem]]:
    """Load one YAML file of at most `limit` bytes; the Document is None exactly when the file is rejected."""
    text, problem = read_text(path, limit)
    if problem is not None:
        return None, [problem]
    return load_text(str(path), text)


def load_text(source: str, text: str) -> tuple[Document | None, list[LoadProblem]]:
    """Load one YAML text, named `source` in findings; the Document is None exactly when it is rejected."""
    with paused_gc():
        return _load(source, text)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No garbage collection inside: loading and checking only allocate, and collecting while they run rescans
    every node again and again (~15% of a 200-file run, most of the time of a 20 MB file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(source: str, text: str) -> tuple[Document | None, list[LoadProblem]]:
    quick = quick_data(text)
    if quick is not None:
        return Document(source, quick.data, None, text, (quick.nodes, quick.nodes), quick.job_starts), []
    return _composed(source, text)


def _composed(source: str, text: str) -> tuple[Document | None, list[LoadProblem]]:
    """Loaded through PyYAML's node tree: any YAML, every problem placed."""
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
        nodes = None
        if "*" in text:  # an alias needs a '*': only then can expansion blow up
            nodes, bomb = expansion(root)
            if bomb is not None:
                return None, [bomb]
        builder = PlainData()
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
    if builder.problems:
        return None, sorted(builder.problems.values(), key=lambda p: (p.line, p.col))
    return Document(source, data, root, text, nodes), []


def _is_empty(root: Node | None) -> bool:
    """No document, or only `---` and comments (which compose to an empty plain null)."""
    return root is None or (root.tag == NULL and root.value == "" and not getattr(root, "style", None))


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
