"""The checks every DAG document gets, whatever its operators, and the hand-off to each operator."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trace_operators import secrets
from trace_operators.contract import Path_, Problem
from trace_operators.dag.quoting import listed, quoted, shown
from trace_operators.dag.source_rules import source_rules, trigger_input_rules
from trace_operators.plugins import Operators

DAG_KEYS = ("name", "defaults", "jobs", "publish")
RESERVED_FIELDS = ("max_queue_depth", "max_queue_age", "backpressure_mode")
#: What the checks between jobs read of a job block; of its config, only what makes a block follower's trigger.
_BETWEEN_KEYS = ("name", "outputs", "inputs", "operator", "activation", "source")
_TRIGGER_CONFIG = ("emit_strategy", "threshold_blocks")


def _jobs_of(data: Any) -> tuple[list[Any], Path_, bool] | Problem:
    """The job list of a document, its path, and whether the document is a whole DAG."""
    if isinstance(data, dict) and "jobs" in data:
        if not isinstance(data["jobs"], list):
            return Problem("dag.shape", "jobs must be a list of job blocks", ("jobs",))
        return data["jobs"], ("jobs",), True
    if isinstance(data, list):
        return data, (), False
    if isinstance(data, dict):
        return [data], (), False
    return Problem(
        "dag.shape",
        "the document is neither a DAG, a list of job blocks, nor one job block",
        (),
        "write a mapping with jobs: [...], or a job block with name:, operator: and config:",
    )


def _dag_level(data: Mapping[str, Any]) -> Iterator[Problem]:
    for key in data:
        if key not in DAG_KEYS and not (isinstance(key, str) and key.startswith("x-")):
            yield Problem(
                "dag.unknown-key",
                f"unknown DAG key {shown(str(key))!r}",
                (key,),
                f"a DAG holds {', '.join(DAG_KEYS)} and x-* keys for anchors",
                at_key=True,
            )
        elif key != "jobs":  # each job is scanned as a job; defaults are job fields, the rest lies outside jobs
            yield from secrets.scan(data[key], (key,), in_job=key == "defaults")
    if "defaults" in data and not isinstance(data["defaults"], dict):
        yield Problem("dag.shape", "defaults must be a mapping of job fields", ("defaults",))


def _platform_rules(job: Mapping[str, Any]) -> Iterator[Problem]:
    """What the platform refuses in any job block, whatever its operator: secrets, reserved fields, bad sources."""
    yield from secrets.scan(job)
    yield from source_rules(job)
    for key in RESERVED_FIELDS:
        if key in job:
            yield Problem(
                "dag.reserved-field",
                f"{key} is reserved by the platform and always rejected",
                (key,),
                "remove it: scaling.max_concurrency limits a job's tasks",
                at_key=True,
            )


def _references(jobs: list[Any], base: Path_) -> Iterator[Problem]:
    # Only names that are strings: a name written as a list or a map is the schema's to report, not a crash here.
    outputs = {j["name"]: j.get("outputs") for j in jobs if isinstance(j, dict) and isinstance(j.get("name"), str)}
    for i, job in enumerate(jobs):
        inputs = job.get("inputs") if isinstance(job, dict) else None
        for k, item in enumerate(inputs if isinstance(inputs, list) else ()):
            source = item.get("from") if isinstance(item, dict) else None
            if not isinstance(source, dict) or "job" not in source:
                continue
            at = base + (i, "inputs", k, "from")
            name, index = source["job"], source.get("output")
            if not isinstance(name, str) or name not in outputs:
                yield Problem(
                    "dag.missing-input",
                    f"input names job {quoted(name)}, which is not in this DAG",
                    at + ("job",),
                    f"jobs of this DAG: {listed(sorted(n for n in outputs if n))}",
                )
                continue
            count = outputs[name]
            if isinstance(index, int) and isinstance(count, int) and index >= count:
                yield Problem(
                    "dag.output-index",
                    f"job {quoted(name)} has {count} outputs; output {index} does not exist",
                    at + ("output",),
                    f"use an output from 0 to {count - 1}",
                )


def _duplicate_names(jobs: list[Any], base: Path_) -> Iterator[Problem]:
    first: dict[Any, int] = {}
    for i, job in enumerate(jobs):
        name = job.get("name") if isinstance(job, dict) else None
        if isinstance(name, str) and name in first:
            yield Problem(
                "dag.duplicate-name",
                f"job name {quoted(name)} is already used by job {first[name] + 1}",
                base + (i, "name"),
                "give each job a unique name",
            )
        elif isinstance(name, str):
            first[name] = i


def _operator_problems(job: Mapping[str, Any], operators: Operators, strict: bool) -> list[Problem]:
    name = job.get("operator")
    operator = operators.get(name) if isinstance(name, str) else None
    if operator is not None:
        try:
            return operator.validate_job(job)
        except Exception as error:  # noqa: BLE001 - a plugin's bug on one job must not hide the rest of the file
            return [
                Problem(
                    "internal.error",
                    f"operator {quoted(name)} failed validating job {quoted(job.get('name', '?'))} "
                    f"({type(error).__name__}): not validated",
                    (),
                    f"this is a bug in the {name} plugin: please report it with the job block (secrets removed)",
                )
            ]
    label = quoted(job.get("name", "?"))
    if name is None:
        return [Problem("dag.missing-operator", f"job {label} names no operator", (), "add operator: <name>")]
    return [
        Problem(
            "dag.unknown-operator",
            f"job {label} uses operator {quoted(name)}, which no installed plugin provides: not validated",
            ("operator",),
            "install the plugin that provides it",
            "error" if strict else "warning",
        )
    ]


def check_job(job: Mapping[str, Any], operators: Operators, strict: bool = False) -> list[Problem]:
    """Every problem of one job block (defaults applied), located inside it: platform rules, then the operator's."""
    return _most_specific([*_platform_rules(job), *_operator_problems(job, operators, strict)])


def _most_specific(problems: list[Problem]) -> list[Problem]:
    """Drop schema problems where a more specific rule already speaks, and exact repeats.

    A rule speaks for its own value, and a secret for everything inside it; a rule about a whole mapping
    (`config.range` on `config`) leaves the schema's problems inside it to be reported.
    """
    specific = {p.path for p in problems if not p.rule.startswith("schema.")}
    secrets = [p.path for p in problems if p.rule.startswith("secret.")]
    kept, seen = [], set()
    for p in problems:
        shadowed = p.rule.startswith("schema.") and (p.path in specific or any(p.path[: len(s)] == s for s in secrets))
        if not shadowed and (p.rule, p.path) not in seen:
            seen.add((p.rule, p.path))
            kept.append(p)
    return kept


def check_document(data: Any, operators: Operators, strict: bool = False) -> tuple[list[Problem], dict[Path_, Path_]]:
    """Every problem of a loaded document, and where defaulted job fields really come from."""
    problems, moved = within_jobs(data, operators, strict)
    return problems + between_jobs(data, operators), moved


def within_jobs(
    data: Any, operators: Operators, strict: bool = False, dag_level: bool = True
) -> tuple[list[Problem], dict[Path_, Path_]]:
    """The problems each job block has on its own, and the DAG's own when `dag_level`; where defaults came from."""
    found = _jobs_of(data)
    if isinstance(found, Problem):
        return [found], {}
    jobs, base, whole_dag = found
    problems: list[Problem] = []
    defaults: Mapping[str, Any] = {}
    if whole_dag:
        if dag_level:
            problems += _dag_level(data)
        defaults = _defaults(data)
    moved: dict[Path_, Path_] = {}
    for i, job in enumerate(jobs):
        at = base + (i,)
        if not isinstance(job, dict):
            problems.append(Problem("dag.shape", "a job block must be a mapping", at))
            continue
        for key in defaults.keys() - job.keys():
            moved[at + (key,)] = ("defaults", key)
        problems += [
            Problem(p.rule, p.message, at + p.path, p.hint, p.severity, p.at_key, p.line_offset)
            for p in check_job({**defaults, **job}, operators, strict)
        ]
    return problems, moved


@dataclass(frozen=True)
class JobViews:
    """What the checks between jobs read of a document: each job block's `between_view`, where the jobs are, and
    the DAG's defaults (None for a document that is not a whole DAG)."""

    jobs: list[dict[str, Any] | None]
    base: Path_
    defaults: Mapping[str, Any] | None


def job_views(data: Any) -> JobViews | None:
    """The views of a document's jobs; None when it has no job list."""
    found = _jobs_of(data)
    if isinstance(found, Problem):
        return None
    jobs, base, whole_dag = found
    return JobViews([between_view(job) for job in jobs], base, _defaults(data) if whole_dag else None)


def between_jobs(data: Any, operators: Operators) -> list[Problem]:
    """The problems between the jobs of a document: names used twice, inputs naming jobs that are not there."""
    views = job_views(data)
    return between_views(views, operators) if views is not None else []


def between_views(views: JobViews, operators: Operators) -> list[Problem]:
    """`between_jobs` of the views of a document's jobs (gathered from the pieces of a big file, say)."""
    jobs, base, defaults = views.jobs, views.base, views.defaults
    problems = list(_duplicate_names(jobs, base))
    if defaults is not None:
        problems += _references(jobs, base)
        defaulted = [{**defaults, **job} if isinstance(job, dict) else job for job in jobs] if defaults else jobs
        problems += trigger_input_rules(defaulted, base, operators)
    return problems


def between_view(job: Any) -> dict[str, Any] | None:
    """The part of a job block the checks between jobs read (None for a block that is not a mapping, whose shape is
    reported within jobs): all a process checking part of a big file sends back of it."""
    if not isinstance(job, dict):
        return None
    view = {key: job[key] for key in _BETWEEN_KEYS if key in job}
    if "config" in job:
        config = job["config"]
        view["config"] = {k: config[k] for k in _TRIGGER_CONFIG if k in config} if isinstance(config, dict) else config
    return view


def _defaults(dag: Mapping[str, Any]) -> Mapping[str, Any]:
    return dag["defaults"] if isinstance(dag.get("defaults"), dict) else {}


def job_names(data: Any, operator: str) -> list[str]:
    """The names of the document's jobs of `operator`, in document order."""
    found = _jobs_of(data)
    if isinstance(found, Problem):
        return []
    return [j["name"] for j in found[0] if isinstance(j, dict) and j.get("operator") == operator and "name" in j]


def find_job(data: Any, name: str) -> dict[str, Any] | None:
    """The job called `name`, with the DAG's defaults applied."""
    found = _jobs_of(data)
    if isinstance(found, Problem):
        return None
    defaults = _defaults(data) if found[2] else {}
    for job in found[0]:
        if isinstance(job, dict) and job.get("name") == name:
            return {**defaults, **job}
    return None
