"""The rules of source jobs (every job, whatever its operator) and of the inputs of jobs that run from triggers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from trace_operators.contract import Path_, Problem
from trace_operators.dag.quoting import quoted
from trace_operators.dag.sources import (
    BLOCK_FOLLOWER,
    CRON,
    EMIT_STRATEGIES,
    KIND_NAMES,
    schedule_problem,
    trigger_of,
)
from trace_operators.plugins import Operators

#: The key of an operator's job schema listing the source kinds its jobs may take as inputs; without it, any.
TRIGGERS_KEYWORD = "x-trace-triggers"
SCHEDULE_HINT = "write a cron expression in UTC, quoted: five fields, or six with seconds first ('*/10 * * * * *')"


def source_rules(job: Mapping[str, Any]) -> Iterator[Problem]:
    """A cron source's schedule must parse; a threshold block follower needs threshold_blocks >= 1."""
    trigger = trigger_of(job)
    if trigger is None:
        return
    if trigger.kind == CRON:
        schedule = job["source"].get("schedule")
        problem = "a cron source needs a schedule" if schedule is None else _schedule(schedule)
        if problem:
            yield Problem("source.schedule", problem, ("source", "schedule"), SCHEDULE_HINT)
    if trigger.kind == BLOCK_FOLLOWER:
        yield from _block_follower(job.get("config"))


def _schedule(schedule: Any) -> str | None:
    if not isinstance(schedule, str):
        return f"schedule must be a cron expression as a string, not {type(schedule).__name__}"
    problem = schedule_problem(schedule)
    return f"schedule {quoted(schedule)} is not a cron expression: {problem}" if problem else None


def _block_follower(config: Any) -> Iterator[Problem]:
    if not isinstance(config, dict):
        return
    strategy = config.get("emit_strategy", "per_update")
    if strategy not in EMIT_STRATEGIES:
        yield Problem(
            "source.emit-strategy",
            f"a block_follower emits per_update or threshold, not {quoted(strategy)}",
            ("config", "emit_strategy"),
            "write per_update (a partition per block) or threshold (with threshold_blocks)",
        )
    elif strategy == "threshold":
        threshold = config.get("threshold_blocks")
        if type(threshold) is not int or threshold < 1:
            found = "missing" if threshold is None else quoted(threshold)
            yield Problem(
                "source.threshold",
                f"emit_strategy: threshold emits a partition every threshold_blocks blocks; threshold_blocks is "
                f"{found}",
                ("config", "threshold_blocks") if "threshold_blocks" in config else ("config", "emit_strategy"),
                "write threshold_blocks: N, an integer of at least 1",
            )


def trigger_input_rules(jobs: list[Any], base: Path_, operators: Operators) -> Iterator[Problem]:
    """Each job input of a job whose operator runs only from triggers must name a source of a kind it takes."""
    # Names that are not strings (the schema's to report) name no job here.
    by_name = {j["name"]: j for j in jobs if isinstance(j, dict) and isinstance(j.get("name"), str)}
    accepted: dict[str | None, tuple[str, ...]] = {}
    for i, job in enumerate(jobs):
        name = _text(job.get("operator") if isinstance(job, dict) else None)
        if name not in accepted:  # a schema is parsed once per operator, not once per job
            accepted[name] = _accepted(name, operators)
        kinds = accepted[name]
        inputs = job.get("inputs") if kinds else None
        for k, item in enumerate(inputs if isinstance(inputs, list) else ()):
            source = item.get("from") if isinstance(item, dict) else None
            upstream = by_name.get(_text(source.get("job"))) if isinstance(source, dict) else None
            if upstream is None:  # a dataset input, or a missing job: dag.missing-input speaks
                continue
            trigger = trigger_of(upstream)
            if trigger is None or trigger.kind not in kinds:
                names = [KIND_NAMES[kind] for kind in kinds]
                takes = " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))
                yield Problem(
                    "dag.trigger-input",
                    f"input names job {quoted(upstream.get('name'))}, {_what(upstream)}; a {job.get('operator')} job "
                    f"runs from {takes}",
                    base + (i, "inputs", k, "from", "job"),
                    "take the input from a source job: source: {kind: manual}, source: {kind: cron, schedule: …} "
                    "or operator: block_follower",
                )


def _text(value: Any) -> str | None:
    """A name as a key, or None: YAML may give a list or a mapping where a name belongs."""
    return value if isinstance(value, str) else None


def _accepted(name: str | None, operators: Operators) -> tuple[str, ...]:
    """The source kinds operator `name` declares in its job schema; () when it declares none."""
    operator = operators.get(name) if name else None
    kinds = operator.job_schema().get(TRIGGERS_KEYWORD, ()) if operator else ()
    return tuple(kind for kind in kinds if kind in KIND_NAMES)


def _what(job: Mapping[str, Any]) -> str:
    trigger = trigger_of(job)
    if trigger is not None:
        return f"which is {KIND_NAMES[trigger.kind]}"
    if job.get("activation") != "source":
        return "which is not a source job"
    return (
        f"a source of kind {quoted(job['source'].get('kind'))}" if isinstance(job.get("source"), dict) else "a source"
    )
