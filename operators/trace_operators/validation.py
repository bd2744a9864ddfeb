"""Validating DAG files: load, check, and put every problem at its line and column."""

from __future__ import annotations

import gc
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from trace_operators.dagcheck import check_document
from trace_operators.documents import Document, iter_yaml_files, load_document
from trace_operators.contract import Problem
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


def _place(doc: Document, problem: Problem, moved: dict) -> Finding:
    path = problem.path
    for length in range(len(path), 0, -1):
        origin = moved.get(path[:length])
        if origin:
            path = origin + path[length:]
            break
    line, col = doc.locate(path, problem.at_key, problem.line_offset)
    return Finding(doc.source, line, col, problem.severity, problem.rule, problem.message, problem.hint)


def validate_file(path: Path, operators: Operators, strict: bool = False) -> list[Finding]:
    # The YAML composer allocates many small objects: collecting them mid-parse costs 3-4 times the parse.
    gc.disable()
    try:
        doc, load_problems = load_document(path)
    finally:
        gc.enable()
    if doc is None:
        return [Finding(str(path), p.line, p.col, "error", p.rule, p.message, p.hint) for p in load_problems]
    problems, moved = check_document(doc.data, operators, strict)
    return sorted((_place(doc, p, moved) for p in problems), key=lambda f: (f.line, f.col, f.rule))


def _validate_many(args: tuple[list[Path], bool]) -> list[Finding]:
    from trace_operators.plugins import load_operators

    paths, strict = args
    operators = load_operators()
    return [f for path in paths for f in validate_file(path, operators, strict)]


def validate_paths(paths: Iterable[Path], operators: Operators, strict: bool = False,
                   workers: int = 1) -> list[Finding]:
    """Findings for every YAML file under `paths`, in file order."""
    files = list(iter_yaml_files(paths))
    if workers <= 1 or len(files) < PARALLEL_FROM_FILES:
        return [f for path in files for f in validate_file(path, operators, strict)]
    batches = [(files[i::workers], strict) for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        found = [f for batch in pool.map(_validate_many, batches) for f in batch]
    order = {str(p): i for i, p in enumerate(files)}
    return sorted(found, key=lambda f: (order.get(f.file, -1), f.line, f.col, f.rule))


def render(findings: list[Finding], fmt: str) -> str:
    """One line a finding, or a JSON document for machines."""
    if fmt == "json":
        return json.dumps({"findings": [f.to_json() for f in findings],
                           "errors": sum(f.severity == "error" for f in findings)}, indent=2)
    return "\n".join(f.text() for f in findings)
