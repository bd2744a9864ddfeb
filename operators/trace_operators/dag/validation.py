"""Validating DAG files: load, check, and put every problem at its line and column; a file's failure stays its own."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trace_operators import secrets
from trace_operators.contract import Path_, Problem
from trace_operators.dag.allow import apply_allows
from trace_operators.dag.checks import JobViews, between_views, check_document, job_views, within_jobs
from trace_operators.dag.comments import Comment, find_comments
from trace_operators.dag.documents import Document, load_text, paused_gc
from trace_operators.dag.expansion import too_far
from trace_operators.dag.files import iter_yaml_files
from trace_operators.dag.findings import Finding, Report
from trace_operators.dag.reading import DEFAULT_MAX_FILE_SIZE, read_text
from trace_operators.dag.split import SPLIT_FROM, Cut, Piece, cut
from trace_operators.plugins import Operators

__all__ = ["Finding", "Report", "Settings", "check_file", "report_file", "validate_file", "validate_paths"]

#: Below this many files a pool of worker processes costs more than it saves.
PARALLEL_FROM_FILES = 64
INTERNAL_HINT = "this is a bug in the validator: please report it with the file (secrets removed)"


@dataclass(frozen=True)
class Settings:
    """How files are validated."""

    strict: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE


DEFAULTS = Settings()


@dataclass
class FileReport:
    """One file's outcome: the document when it loads, its findings, and those its allow comments accepted."""

    doc: Document | None
    findings: list[Finding]
    allowed: list[Finding] = field(default_factory=list)


def _add(report: Report, file: FileReport) -> None:
    report.add(file.findings, file.allowed)


def _place(doc: Document, problem: Problem, moved: dict[Path_, Path_]) -> Finding:
    path = problem.path
    for length in range(len(path), 0, -1):
        origin = moved.get(path[:length])
        if origin:
            path = origin + path[length:]
            break
    line, col = doc.locate(path, problem.at_key, problem.line_offset, problem.rule)
    return Finding(doc.source, line, col, problem.severity, problem.rule, problem.message, problem.hint)


def _checked(source: str, text: str, operators: Operators, strict: bool) -> tuple[Document | None, list[Finding]]:
    doc, load_problems = load_text(source, text)
    if doc is None:
        return None, [Finding(source, p.line, p.col, "error", p.rule, p.message, p.hint) for p in load_problems]
    problems, moved = check_document(doc.data, operators, strict)
    return doc, [_place(doc, p, moved) for p in problems]


@dataclass(frozen=True)
class _PieceReport:
    """What a worker sends back of its piece: findings, and for the checks between jobs the piece's DAG."""

    findings: list[Finding]
    rest: dict[str, Any]
    #: What the checks between jobs read of its job blocks.
    views: JobViews
    #: Its nodes with aliases expanded, and as written, when the file has an alias.
    nodes: tuple[int, int]


#: What the workers checking the pieces of one file share: set by the parent just before it forks them.
_PIECES: tuple[str, list[Piece], Operators, bool, bool] | None = None


def _split_checked(source: str, text: str, operators: Operators, strict: bool, workers: int) -> list[Finding] | None:
    """The findings of one big file whose pieces `workers` processes check at once; None when it is not cut, or
    not soundly, or when its jobs have problems between them (those are located on the whole file)."""
    global _PIECES  # noqa: PLW0603 - forked workers inherit it: the point of the fork
    found = cut(text, workers) if workers > 1 and len(text) >= SPLIT_FROM else None
    if found is None:
        return None
    aliases = "*" in text
    _PIECES = (source, found.pieces, operators, strict, aliases)
    try:
        with ProcessPoolExecutor(len(found.pieces) - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            others = [pool.submit(_checked_piece, i) for i in range(1, len(found.pieces))]
            results = [_checked_piece(0), *(other.result() for other in others)]
    except Exception:  # noqa: BLE001 - a worker killed or failing: the pieces are a shortcut, one process the way
        return None
    finally:
        _PIECES = None  # the pieces' texts: as big as the file
    done = [r for r in results if r is not None]
    if len(done) < len(results) or any(r.rest != done[0].rest for r in done):
        return None
    if aliases and _expands_too_far(source, found, done):
        return None
    first = done[0].views
    if between_views(JobViews([job for r in done for job in r.views.jobs], first.base, first.defaults), operators):
        return None
    return [finding for r in done for finding in r.findings]


def _checked_piece(index: int) -> _PieceReport | None:
    """One piece's report; None unless it loads and its job blocks start where its cut says."""
    assert _PIECES is not None
    source, pieces, operators, strict, aliases = _PIECES
    doc, _ = load_text(source, pieces[index].text)
    if doc is None or doc.job_starts() != pieces[index].starts:
        return None
    problems, moved = within_jobs(doc.data, operators, strict, dag_level=index == 0)
    rest = {key: value for key, value in doc.data.items() if key != "jobs"}
    nodes = doc.node_counts() if aliases else (0, 0)
    views = job_views(doc.data)
    assert views is not None  # a piece whose job blocks start where its cut says has a job list
    return _PieceReport([_place(doc, p, moved) for p in problems], rest, views, nodes)


def _expands_too_far(source: str, found: Cut, done: list[_PieceReport]) -> bool:
    """Whether the whole file's aliases pass the bounds: each piece holds the frame once, the file holds it once."""
    frame, _ = load_text(source, found.frame)
    if frame is None:
        return True
    shared, extra = frame.node_counts(), len(done) - 1
    expanded = sum(r.nodes[0] for r in done) - extra * shared[0]
    written = sum(r.nodes[1] for r in done) - extra * shared[1]
    return too_far(expanded, written)


def _in_comments(source: str, comments: list[Comment]) -> list[Finding]:
    """Secrets pasted into comments: PyYAML drops comments, git keeps them."""
    return [
        Finding(source, c.line, c.col, p.severity, p.rule, p.message, p.hint)
        for c in comments
        for p in secrets.scan_comment(c.text)
    ]


def _in_order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.line, f.col, f.rule))


def _report(path: Path, operators: Operators, settings: Settings, workers: int) -> FileReport:
    text, problem = read_text(path, settings.max_file_size)
    if problem is not None:
        return FileReport(None, [Finding(str(path), 1, 1, "error", problem.rule, problem.message, problem.hint)])
    doc, findings = None, _split_checked(str(path), text, operators, settings.strict, workers)
    if findings is None:
        doc, findings = _checked(str(path), text, operators, settings.strict)
    comments = find_comments(text)
    split = apply_allows(str(path), findings + _in_comments(str(path), comments), comments)
    return FileReport(doc, _in_order(split.kept), _in_order(split.allowed))


def report_file(path: Path, operators: Operators, settings: Settings = DEFAULTS, workers: int = 1) -> FileReport:
    """One file's outcome; a file the validator fails on is one `internal.error` finding, never a crash. With
    `workers`, a big file is cut between its job blocks and checked by that many processes (then without its doc)."""
    try:
        with paused_gc():
            return _report(path, operators, settings, workers)
    except Exception as error:  # noqa: BLE001 - one file must not end the run, nor lose the other files' findings
        message = f"the validator failed on this file ({type(error).__name__}); nothing else of it was checked"
        return FileReport(None, [Finding(str(path), 1, 1, "error", "internal.error", message, INTERNAL_HINT)])


def check_file(path: Path, operators: Operators, strict: bool = False) -> tuple[Document | None, list[Finding]]:
    """The loaded document, if it loads, and every finding of the file its allow comments do not accept."""
    report = report_file(path, operators, Settings(strict))
    return report.doc, report.findings


def validate_file(path: Path, operators: Operators, strict: bool = False) -> list[Finding]:
    return check_file(path, operators, strict)[1]


#: What forked workers validate with: set by the parent just before it forks them.
_SHARED: tuple[Operators, Settings] | None = None


def _validate_in_worker(path: Path) -> FileReport:
    assert _SHARED is not None
    return replace(report_file(path, *_SHARED), doc=None)  # the node tree stays in the worker: only findings travel


def validate_paths(
    paths: Iterable[Path], operators: Operators, settings: Settings = DEFAULTS, workers: int = 1
) -> Report:
    """Findings for every YAML file under `paths`, in file order; many files, or a big one, spread over `workers`."""
    # No collection until each file's node tree is gone: one sweeping a big file's live tree costs a third of
    # the time of loading it.
    with paused_gc():
        return _validate_paths(list(iter_yaml_files(paths)), operators, settings, workers)


def _validate_paths(files: list[Path], operators: Operators, settings: Settings, workers: int) -> Report:
    global _SHARED  # noqa: PLW0603 - forked workers inherit it: the point of the fork
    report = Report()
    if workers <= 1 or len(files) < PARALLEL_FROM_FILES:
        for path in files:
            _add(report, report_file(path, operators, settings, workers))
        return report
    # The parent validates the first file before forking, so workers inherit warm caches (compiled schema,
    # regexes) instead of building their own.
    _add(report, report_file(files[0], operators, settings))
    _SHARED = (operators, settings)
    rest = files[1:]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for found in pool.map(_validate_in_worker, rest, chunksize=max(1, len(rest) // (workers * 4))):
            _add(report, found)
    return report
