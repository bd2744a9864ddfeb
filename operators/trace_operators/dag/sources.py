"""Source jobs as triggers: what a manual source, a cron source and a block_follower emit partitions on.

A source job (`activation: source`) is a manual source when its `source.kind` is `manual` or it has no
`source` (the dispatcher's range requests: nothing emits until someone sends one), a cron source with
`source: {kind: cron, schedule: ...}`, and a block follower when its operator is `block_follower`
(`config.emit_strategy` `per_update`, the default, or `threshold` with `config.threshold_blocks`).
Schedules are cron expressions in UTC: five fields, or six with seconds first (`*/10 * * * * *`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

MANUAL: Final = "manual"
CRON: Final = "cron"
BLOCK_FOLLOWER: Final = "block_follower"
Kind = Literal["manual", "cron", "block_follower"]
#: How each kind is named in messages.
KIND_NAMES = {MANUAL: "a manual source", CRON: "a cron source", BLOCK_FOLLOWER: "a block_follower"}
EMIT_STRATEGIES = ("per_update", "threshold")


@dataclass(frozen=True)
class Trigger:
    """A source job as what it emits partitions on."""

    job: str
    kind: Kind
    #: A cron source's schedule.
    schedule: str = ""
    #: Blocks a block follower emits at a time: its threshold_blocks, or 1 (a partition per block) per update.
    threshold_blocks: int = 1


def trigger_of(job: Mapping[str, Any]) -> Trigger | None:
    """The trigger a source job is; None for any other job (a reactive one, a source of another kind)."""
    if job.get("activation") != "source":
        return None
    name = str(job.get("name", ""))
    if job.get("operator") == BLOCK_FOLLOWER:
        config = job.get("config")
        config = config if isinstance(config, dict) else {}
        threshold = config.get("threshold_blocks") if config.get("emit_strategy") == "threshold" else 1
        return Trigger(name, BLOCK_FOLLOWER, threshold_blocks=threshold if isinstance(threshold, int) else 0)
    source = job.get("source", {})
    kind = source.get("kind", MANUAL) if isinstance(source, dict) else None
    if kind == MANUAL:
        return Trigger(name, MANUAL)
    if kind == CRON:
        schedule = source.get("schedule")
        return Trigger(name, CRON, schedule=schedule if isinstance(schedule, str) else "")
    return None


def schedule_problem(schedule: str) -> str | None:
    """What is wrong with a cron schedule, or None when it parses."""
    from cronsim import CronSim, CronSimError

    try:
        CronSim(schedule, datetime(2000, 1, 1))
    except CronSimError as error:
        return str(error)
    return None


def next_tick(schedule: str, after: datetime) -> datetime:
    """The first time after `after` (an aware datetime, UTC) that the schedule fires."""
    from cronsim import CronSim

    # A new simulation from the current time each call: ticks missed while a run was busy are skipped, not queued.
    return next(CronSim(schedule, after))
