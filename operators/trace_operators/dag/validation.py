"""Validating DAG files: load, check, and put every problem at its line and column."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trace_operators.contract import Path_, Problem
from trace_operators.dag.checks import check_document
from trace_operators.dag.documents import Document, load_document
from trace_operators.dag.files import iter_yaml_files
from trace_operators.plugins import Operators

#: Below this many files a pool of worker processes costs more than it saves.
PARALLEL_FROM_FILES = 64


@dataclass(frozen=True)
class Finding:
    """A problem at its place in a file."""

    file: str
    line: int
    col: int
    severity: str
    rule: str
    message: str
    hint: str = ""

    def text(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.col}: {self.severity} [{self.rule}] {self.message}{hint}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _place(doc: Document, problem: Problem, moved: dict[Path_, Path_]) -> Finding:
    path = problem.path
    for length in range(len(path), 0, -1):
        origin = moved.get(path[:length])
        if origin:
            path = origin + path[length:]
            break
    line, col = doc.locate(path, problem.at_key, problem.line_offset)
    return Finding(doc.source, line, col, problem.severity, problem.rule, problem.message, problem.hint)


def check_file(path: Path, operators: Operators, strict: bool = False) -> tuple[Document | None, list[Finding]]:
    """The loaded document, if it loads, and every finding of the file."""
    doc, load_problems = load_document(path)
    if doc is None:
        return None, [Finding(str(path), p.line, p.col, "error", p.rule, p.message, p.hint) for p in load_problems]
    problems, moved = check_document(doc.data, operators, strict)
    return doc, sorted((_place(doc, p, moved) for p in problems), key=lambda f: (f.line, f.col, f.rule))


def validate_file(path: Path, operators: Operators, strict: bool = False) -> list[Finding]:
    return check_file(path, operators, strict)[1]


#: What forked workers validate with: set by the parent just before it forks them.
_SHARED: tuple[Operators, bool] | None = None


def _validate_in_worker(path: Path) -> list[Finding]:
    assert _SHARED is not None
    return validate_file(path, *_SHARED)


def validate_paths(
    paths: Iterable[Path], operators: Operators, strict: bool = False, workers: int = 1
) -> list[Finding]:
    """Findings for every YAML file under `paths`, in file order; many files are spread over `workers`."""
    global _SHARED  # noqa: PLW0603 - forked workers inherit it: the point of the fork
    files = list(iter_yaml_files(paths))
    if workers <= 1 or len(files) < PARALLEL_FROM_FILES:
        return [f for path in files for f in validate_file(path, operators, strict)]
    # The parent validates the first file before forking, so workers inherit warm caches (compiled schema,
    # regexes) instead of building their own.
    found = validate_file(files[0], operators, strict)
    _SHARED = (operators, strict)
    rest = files[1:]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for findings in pool.map(_validate_in_worker, rest, chunksize=max(1, len(rest) // (workers * 4))):
            found += findings
    return found


def render(findings: list[Finding], fmt: str) -> str:
    """One line a finding, or a JSON document for machines."""
    if fmt == "json":
        return json.dumps(
            {"findings": [f.to_json() for f in findings], "errors": sum(f.severity == "error" for f in findings)},
            indent=2,
        )
    return "\n".join(f.text() for f in findings)
