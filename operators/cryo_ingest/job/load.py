"""A `cryo_ingest` job taken from a DAG file, checked as `validate` checks it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trace_operators.contract import FatalError
from trace_operators.dag.checks import find_job, job_names
from trace_operators.dag.schema_errors import did_you_mean
from trace_operators.dag.validation import check_file
from trace_operators.plugins import Operators

OPERATOR = "cryo_ingest"


class JobError(FatalError):
    """The DAG does not validate, or has no `cryo_ingest` job of that name."""


def load_job(dag: Path, name: str, operators: Operators) -> dict[str, Any]:
    """The job block called `name`, the DAG's defaults applied, from a DAG file that validates."""
    doc, findings = check_file(dag, operators)
    errors = [f for f in findings if f.severity == "error"]
    if doc is None or errors:
        raise JobError("the DAG does not validate:\n" + "\n".join(f.text() for f in errors))
    job = find_job(doc.data, name)
    if job is None or job.get("operator") != OPERATOR:
        names = job_names(doc.data, OPERATOR)
        raise JobError(f"{dag} has no {OPERATOR} job named {name!r}; {_jobs_there(name, names)}")
    return job


def _jobs_there(name: str, names: list[str]) -> str:
    """The jobs a wrong `--job` could have meant: the closest first, then every one."""
    if not names:
        return f"it has no {OPERATOR} job at all"
    there = f"its {OPERATOR} jobs are: {', '.join(names)}"
    guess = did_you_mean(name, names)
    return f"{guess} {there}" if guess else there
