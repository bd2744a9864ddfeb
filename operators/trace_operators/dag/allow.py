"""Inline allow comments: `# cryo-ingest: allow RULE[, RULE...]` accepts findings of those rules on its own line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from trace_operators.dag.comments import Comment
from trace_operators.dag.findings import Finding

RULE = "comment.allow"
_DIRECTIVE = re.compile(r"cryo-ingest:\s*allow\b\s*(.*)")
_RULE_ID = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)+")
#: A file that does not load, or that the validator failed on, was not checked: no comment can accept that.
_NEVER_ALLOWED = ("yaml.", "internal.")
_HINT = "write # cryo-ingest: allow <rule>[, <rule>] at the end of the line the finding is on"


@dataclass(frozen=True)
class Allowed:
    """What a file's allow comments did: the findings they accepted, and warnings about the comments."""

    kept: list[Finding]
    allowed: list[Finding]


def apply_allows(source: str, findings: list[Finding], comments: Iterable[Comment]) -> Allowed:
    """Findings split into those kept and those an allow comment on their line accepts; unused allows warned."""
    allows = {(c.line, c.col): _rules(c.text) for c in comments if _DIRECTIVE.search(c.text)}
    wanted = {(line, rule) for (line, _), rules in allows.items() for rule in rules}
    kept: list[Finding] = []
    allowed: list[Finding] = []
    for finding in findings:
        accepted = (finding.line, finding.rule) in wanted and not finding.rule.startswith(_NEVER_ALLOWED)
        (allowed if accepted else kept).append(finding)
    used = {(f.line, f.rule) for f in allowed}
    for (line, col), rules in allows.items():
        if not rules:
            kept.append(_warning(source, line, col, "an allow comment names no rule: it allows nothing"))
        for rule in rules:
            if (line, rule) not in used:
                kept.append(_warning(source, line, col, _unused(rule)))
    return Allowed(kept, allowed)


def _rules(text: str) -> list[str]:
    match = _DIRECTIVE.search(text)
    return _RULE_ID.findall(match.group(1)) if match else []


def _unused(rule: str) -> str:
    if rule.startswith(_NEVER_ALLOWED):
        return f"{rule} cannot be allowed by a comment: the file was not checked"
    return f"allow comment names {rule}, which reports nothing on this line"


def _warning(source: str, line: int, col: int, message: str) -> Finding:
    return Finding(source, line, col, "warning", RULE, message, f"remove it, or {_HINT}")
