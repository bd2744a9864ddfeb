"""The Ray cluster of a run: the one at an address, or one started on loopback for the run; token auth on either way.

Ray is imported here, after the environment it reads at import is set, and nowhere before.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trace_operators.contract import FatalError, NeedsResources, Operator, ResolvedJob

if TYPE_CHECKING:
    from trace_operators.runtime.executors.ray_tasks import RayExecutor, WorkerSetup

AUTH_MODE, AUTH_TOKEN, USAGE_STATS = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED"
#: Ray turns a loopback address into the machine's network address (so that other machines could join) unless
#: it takes the machine for one that cannot cluster; then it stays on loopback. Read when `ray` is imported.
_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK = "127.0.0.1"


class RayMissing(FatalError):
    """Ray is not installed."""


def task_needs(operator: Operator, resolved: ResolvedJob) -> dict[str, float]:
    """What one task of the job asks of a node: a CPU, and whatever its operator says a task holds."""
    extra = operator.task_resources(resolved) if isinstance(operator, NeedsResources) else {}
    return {"CPU": 1.0, **extra}


@contextmanager
def on_ray(
    address: str | None, operator: Operator, resolved: ResolvedJob, setup: WorkerSetup, logger: logging.Logger
) -> Iterator[RayExecutor]:
    """An executor on the cluster at `address`, or on a loopback cluster started for the run and stopped after.

    The local cluster holds `max_concurrency` tasks' worth of each resource a task needs besides CPUs, so its
    CPUs set how many run at once. Ray's own log records go to `logger`; workers' output stays on their nodes.
    """
    needs = task_needs(operator, resolved)
    local = address is None
    changes = {USAGE_STATS: os.environ.get(USAGE_STATS, "0"), AUTH_MODE: os.environ.get(AUTH_MODE, "token")}
    if local:
        changes |= {AUTH_MODE: "token", AUTH_TOKEN: secrets.token_hex(32)}
    if local or _loopback(address or ""):
        changes[_SINGLE_MACHINE] = "0"
    with _environment(changes):
        try:
            import ray
            from ray.exceptions import RayError

            from trace_operators.runtime.executors.ray_tasks import RayExecutor
        except ModuleNotFoundError as error:
            if error.name != "ray":
                raise
            raise RayMissing("Ray is not installed") from None
        started = _local_options(needs, resolved.max_concurrency) if local else {}
        with _logs_through(logger):
            try:
                ray.init(address=address or "local", log_to_driver=False, configure_logging=False, **started)
            except (OSError, RuntimeError, RayError) as error:
                raise FatalError(f"cannot reach the Ray cluster at {address or LOOPBACK}: {error}") from None
            if local:
                logger.info("started a Ray cluster on %s for this run", ray.get_runtime_context().gcs_address)
            try:
                yield RayExecutor(setup, needs)
            finally:
                ray.shutdown()


def _local_options(needs: Mapping[str, float], concurrency: int) -> dict[str, Any]:
    """`ray.init` options of a one-machine cluster: loopback only, no dashboard, room for `concurrency` tasks."""
    custom = {name: units * concurrency for name, units in needs.items() if name not in ("CPU", "memory")}
    options: dict[str, Any] = {"include_dashboard": False, "_node_ip_address": LOOPBACK, "resources": custom}
    if "memory" in needs:
        options["_memory"] = int(needs["memory"] * concurrency)
    return options


def _loopback(address: str) -> bool:
    host = address.rpartition("://")[2].rpartition(":")[0].strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def _logs_through(logger: logging.Logger) -> Iterator[None]:
    """Ray's own warnings, and the errors it prints on the driver, as records of the run's handlers.

    So that stdout keeps only the summary and `--log-format json` stays JSON lines. Ray prints the
    errors its nodes publish (a worker that died, say) to stdout whatever `log_to_driver` says, through
    `ray._private.worker.print_to_stdstream`: that one function is replaced for the block.
    """
    import ray._private.worker as driver

    ours = logging.getLogger("ray")
    ours.handlers[:] = logger.handlers
    ours.setLevel(logging.WARNING)
    ours.propagate = False
    printed = driver.print_to_stdstream

    def log(data: Mapping[str, Any], ignore_prefix: bool) -> None:
        for line in data.get("lines", ()):
            ours.warning("%s: %s", data.get("pid", "ray"), line)

    driver.print_to_stdstream = log
    try:
        yield
    finally:
        driver.print_to_stdstream = printed


@contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    """`changes` in `os.environ`, where Ray and the processes it starts read them, for the block only."""
    before = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
