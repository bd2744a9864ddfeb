"""A validation's findings as people, machines and CI read them: text, JSON, GitHub annotations, SARIF."""

from __future__ import annotations

import json
from collections.abc import Callable

from trace_operators.dag.findings import Finding, Report
from trace_operators.dag.sarif import sarif_log

FORMATS = ("text", "json", "github", "sarif")


def render(report: Report, fmt: str) -> str:
    """The report in format `fmt` (one of FORMATS); empty text when there is nothing to say."""
    return _RENDERERS[fmt](report)


def allowed_summary(allowed: list[Finding]) -> str:
    """The line naming every finding an allow comment accepted, so none hides silently."""
    places = ", ".join(f"{f.file}:{f.line} [{f.rule}]" for f in allowed)
    return f"{len(allowed)} finding{'' if len(allowed) == 1 else 's'} allowed by comments: {places}"


def _text(report: Report) -> str:
    lines = [f.text() for f in report.findings]
    return "\n".join(lines + [allowed_summary(report.allowed)] if report.allowed else lines)


def _json(report: Report) -> str:
    return json.dumps(
        {
            "findings": [f.to_json() for f in report.findings],
            "errors": report.errors,
            "allowed": [f.to_json() for f in report.allowed],
        },
        indent=2,
    )


def _github(report: Report) -> str:
    """GitHub workflow commands: an annotation per finding, on its file, line and column."""
    lines = [
        f"::{f.severity} file={_property(f.file)},line={f.line},col={f.col},title={_property(f.rule)}::"
        + _data(f.message + (f" (hint: {f.hint})" if f.hint else ""))
        for f in report.findings
    ]
    if report.allowed:
        lines.append(f"::notice title=allowed by comments::{_data(allowed_summary(report.allowed))}")
    return "\n".join(lines)


def _data(text: str) -> str:
    """A command's message escaped as GitHub's toolkit does it: `%`, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A command's property value escaped: also `:` and `,`, which end a property."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _sarif(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=2)


_RENDERERS: dict[str, Callable[[Report], str]] = {"text": _text, "json": _json, "github": _github, "sarif": _sarif}
