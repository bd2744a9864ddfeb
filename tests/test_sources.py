"""Source jobs as triggers: their shapes, cron schedules, and the rules on them and on the jobs they feed.

Each rule's file, line and column are checked by the fixtures of `fixtures/dags/invalid/` (test_validate);
these tests cover the cases around them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cryo_ingest.job.config import spec_from_config
from trace_operators.dag.checks import check_document
from trace_operators.dag.source_rules import TRIGGERS_KEYWORD, trigger_input_rules
from trace_operators.dag.sources import Trigger, next_tick, schedule_problem, trigger_of
from trace_operators.dag.validation import validate_file
from trace_operators.plugins import PluginHost

from tests.conftest import FIXTURES, ROOT

CRYO = {
    "name": "cryo",
    "operator": "cryo_ingest",
    "config": {"chain_id": 10143, "datasets": ["blocks"], "rpc_pool": "monad"},
    "outputs": 1,
}


THRESHOLD = ("config", "threshold_blocks")


def source(**fields: Any) -> dict[str, Any]:
    return {"name": "src", "activation": "source", "operator": "trigger", "outputs": 1, **fields}


def follower(**config: Any) -> dict[str, Any]:
    return {"name": "src", "activation": "source", "operator": "block_follower", "config": config, "outputs": 1}


def problems(*jobs: dict[str, Any], dag: bool = True) -> list[tuple[str, tuple[Any, ...]]]:
    """(rule, path) of every error of a DAG (or a bare list) of these jobs."""
    data: Any = {"name": "d", "jobs": list(jobs)} if dag else list(jobs)
    found, _ = check_document(data, PluginHost().operators())
    return [(p.rule, p.path) for p in found if p.severity == "error"]


def fed_by(upstream: dict[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """The errors of a cryo_ingest job taking its input from `upstream`."""
    return problems(upstream, {**CRYO, "inputs": [{"from": {"job": upstream["name"], "output": 0}}]})


@pytest.mark.parametrize(
    ("job", "trigger"),
    [
        (source(), Trigger("src", "manual")),
        (source(source={"kind": "manual"}), Trigger("src", "manual")),
        (source(source={"kind": "cron", "schedule": "*/5 * * * *"}), Trigger("src", "cron", "*/5 * * * *")),
        (follower(), Trigger("src", "block_follower")),
        (follower(emit_strategy="per_update"), Trigger("src", "block_follower")),
        (follower(emit_strategy="threshold", threshold_blocks=100), Trigger("src", "block_follower", "", 100)),
        (source(source={"kind": "webhook", "webhook_path": "/hook"}), None),
        (source(source="cron"), None),
        ({**CRYO, "activation": "reactive"}, None),
        (CRYO, None),
    ],
)
def test_what_trigger_a_job_is(job: dict[str, Any], trigger: Trigger | None) -> None:
    assert trigger_of(job) == trigger


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 3 * * MON", "* * * * * *", "*/10 * * * * *"])
def test_cron_schedules_that_parse(schedule: str) -> None:
    assert schedule_problem(schedule) is None


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("61 * * * *", "Bad minute"),
        ("* * * *", "Wrong number of fields"),
        ("rate(1 day)", "Wrong number of fields"),
        ("@daily", "Wrong number of fields"),  # cronsim knows no nicknames: refused, not guessed
        ("", "Wrong number of fields"),
        ("0 0 31 2 *", "Bad day-of-month"),
    ],
)
def test_cron_schedules_that_do_not(schedule: str, problem: str) -> None:
    assert schedule_problem(schedule) == problem


def test_ticks_are_in_utc_seconds_first_and_strictly_after() -> None:
    at = datetime(2024, 3, 10, 1, 59, 59, 400_000, tzinfo=UTC)
    assert next_tick("* * * * * *", at) == datetime(2024, 3, 10, 2, 0, 0, tzinfo=UTC)
    assert next_tick("*/10 * * * * *", datetime(2024, 3, 10, 2, 0, 0, tzinfo=UTC)) == at.replace(
        hour=2, minute=0, second=10, microsecond=0
    )
    # The US clock change of that night is no question in UTC: 02:30 comes, once.
    assert next_tick("30 2 * * *", at) == datetime(2024, 3, 10, 2, 30, tzinfo=UTC)


def test_valid_sources_feed_a_cryo_job() -> None:
    for upstream in (
        source(),
        source(source={"kind": "manual"}),
        source(source={"kind": "cron", "schedule": "*/10 * * * * *"}),
        follower(),
        follower(emit_strategy="threshold", threshold_blocks=1),
    ):
        assert fed_by(upstream) == [], upstream


@pytest.mark.parametrize(
    ("upstream", "rule", "path"),
    [
        (source(source={"kind": "cron"}), "source.schedule", ("source", "schedule")),
        (source(source={"kind": "cron", "schedule": 5}), "source.schedule", ("source", "schedule")),
        (source(source={"kind": "cron", "schedule": "every day"}), "source.schedule", ("source", "schedule")),
        (follower(emit_strategy="threshold"), "source.threshold", ("config", "emit_strategy")),
        (follower(emit_strategy="threshold", threshold_blocks=True), "source.threshold", THRESHOLD),
        (follower(emit_strategy="threshold", threshold_blocks=-3), "source.threshold", THRESHOLD),
        (follower(emit_strategy="sometimes"), "source.emit-strategy", ("config", "emit_strategy")),
    ],
)
def test_bad_sources_are_problems_on_the_source_job(upstream: dict[str, Any], rule: str, path: tuple[str, ...]) -> None:
    assert fed_by(upstream) == [(rule, ("jobs", 0, *path))]


def test_source_rules_hold_for_a_source_feeding_no_one() -> None:
    assert problems(source(source={"kind": "cron", "schedule": "61 * * * *"})) == [
        ("source.schedule", ("jobs", 0, "source", "schedule"))
    ]


@pytest.mark.parametrize(
    "upstream",
    [
        {"name": "src", "activation": "reactive", "operator": "range_splitter", "outputs": 1},
        source(source={"kind": "webhook", "webhook_path": "/hook"}),
        source(source="manual"),
    ],
    ids=["reactive", "webhook", "not-a-mapping"],
)
def test_a_cryo_job_fed_by_anything_else_is_a_problem_at_the_input(upstream: dict[str, Any]) -> None:
    assert ("dag.trigger-input", ("jobs", 1, "inputs", 0, "from", "job")) in fed_by(upstream)


def test_what_the_input_rule_leaves_to_others() -> None:
    dataset_input = {**CRYO, "inputs": [{"from": {"dataset": "hot_blocks"}}]}
    assert problems(dataset_input) == []
    missing = {**CRYO, "inputs": [{"from": {"job": "nowhere", "output": 0}}]}
    assert [rule for rule, _ in problems(missing)] == ["dag.missing-input"]
    reactive = {"name": "src", "activation": "reactive", "operator": "range_splitter", "outputs": 1}
    fed = {**CRYO, "inputs": [{"from": {"job": "src", "output": 0}}]}
    assert problems(reactive, fed, dag=False) == []  # a fragment: references are not checked
    # Names that are not strings are the schema's to report (checked here alone: `_references` trips on them).
    odd = [{"name": ["src"], "operator": ["x"]}, {**CRYO, "inputs": [{"from": {"job": ["src"]}}]}]
    assert list(trigger_input_rules(odd, (), PluginHost().operators())) == []
    # An operator whose schema declares no triggers takes any input.
    other = {"name": "other", "operator": "range_aggregator", "inputs": [{"from": {"job": "src", "output": 0}}]}
    assert problems(reactive, other) == []


def test_defaults_apply_before_the_input_rule() -> None:
    data = {
        "name": "d",
        "defaults": {"activation": "source"},
        "jobs": [
            {"name": "src", "operator": "trigger", "outputs": 1},
            {**CRYO, "activation": "reactive", "inputs": [{"from": {"job": "src", "output": 0}}]},
        ],
    }
    found, _ = check_document(data, PluginHost().operators())
    assert [p.rule for p in found if p.severity == "error"] == []


def test_the_operator_declares_its_triggers_in_its_schema() -> None:
    operator = PluginHost().operators().get("cryo_ingest")
    assert operator.job_schema()[TRIGGERS_KEYWORD] == ["manual", "cron", "block_follower"]


def test_the_trigger_examples_validate() -> None:
    for path in sorted((FIXTURES / "triggers").glob("*.yaml")):
        errors = [f for f in validate_file(path, PluginHost().operators()) if f.severity == "error"]
        assert errors == [], path


def test_finality_depth_is_in_the_schema_and_not_in_the_config_hash() -> None:
    import json

    schema = json.loads((ROOT / "schemas" / "cryo_ingest.job.schema.json").read_text())
    assert schema["$defs"]["config"]["properties"]["finality_depth_blocks"]["minimum"] == 0
    config = CRYO["config"]
    default, deep = spec_from_config(config), spec_from_config({**config, "finality_depth_blocks": 3})
    assert (default.finality_depth_blocks, deep.finality_depth_blocks) == (64, 3)
    assert default.config_hashes == deep.config_hashes
    negative = {**CRYO, "config": {**config, "finality_depth_blocks": -1}}
    assert problems(negative) == [("schema.range", ("jobs", 0, "config", "finality_depth_blocks"))]
