"""SARIF 2.1.0 for GitHub code scanning: one run, a rule per rule id reported, a result per finding."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from trace_operators.dag.findings import Finding, Report

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL = "cryo-ingest"
_FAMILIES = {
    "yaml": "The file loads as one YAML document of plain data.",
    "dag": "The DAG has a known shape, unique job names and inputs that exist.",
    "source": "A source job's schedule, threshold and emit strategy are valid.",
    "schema": "The job block matches its operator's job schema.",
    "secret": "Secrets never appear in DAG YAML: the RPC Egress Gateway and the secret store hold them.",
    "job": "A cryo_ingest job's outputs and update strategy agree with its config.",
    "config": "A cryo_ingest job's config is consistent.",
    "cryo": "A cryo_ingest job reads what its chain can serve.",
    "comment": "An allow comment accepts a finding on its own line.",
    "internal": "The validator checked the file to the end.",
}
_MORE = "Rules and fixes: README, section 'Validating DAGs in CI'."


def sarif_log(report: Report, root: Path | None = None) -> dict[str, Any]:
    """The report as a SARIF log; file URIs relative to `root` (the working directory) where they lie under it."""
    base = (root or Path.cwd()).resolve()
    every = report.findings + report.allowed
    rules = sorted({f.rule for f in every})
    index = {rule: i for i, rule in enumerate(rules)}
    results = [_result(f, index, base) for f in report.findings]
    results += [{**_result(f, index, base), "suppressions": [_SUPPRESSION]} for f in report.allowed]
    driver = {"name": TOOL, "version": importlib.metadata.version(TOOL), "rules": [_rule(r, every) for r in rules]}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


_SUPPRESSION = {"kind": "inSource", "justification": "a `# cryo-ingest: allow <rule>` comment on the line"}


def _rule(rule: str, findings: list[Finding]) -> dict[str, Any]:
    about = _FAMILIES.get(rule.split(".")[0], "A rule of cryo-ingest validate.")
    hint = next((f.hint for f in findings if f.rule == rule and f.hint), "")
    return {
        "id": rule,
        "shortDescription": {"text": about},
        "help": {"text": f"{hint.rstrip('.')}. {_MORE}" if hint else f"{about} {_MORE}"},
    }


def _result(finding: Finding, index: dict[str, int], base: Path) -> dict[str, Any]:
    hint = f" (hint: {finding.hint})" if finding.hint else ""
    region = {"startLine": finding.line, "startColumn": finding.col}
    location = {"artifactLocation": {"uri": _uri(finding.file, base)}, "region": region}
    return {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": finding.severity,
        "message": {"text": finding.message + hint},
        "locations": [{"physicalLocation": location}],
    }


def _uri(file: str, base: Path) -> str:
    """Relative to the repository root (the working directory), as code scanning matches files."""
    path = Path(file).resolve()
    if path.is_relative_to(base):
        return quote(path.relative_to(base).as_posix())
    return path.as_uri()
