"""Loading operator plugins: entry point by entry point, so one broken plugin cannot stop the others."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType

import pluggy

from trace_operators import hookspecs
from trace_operators.contract import Operator

PROJECT = "trace"
GROUP = "trace.operators"
#: Comma-separated entry point names not to load, for switching off a plugin that misbehaves.
BLOCK_VARIABLE = "TRACE_BLOCK_PLUGINS"


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    error: str


@dataclass
class Operators:
    """The operators the installed plugins provide, and the plugins that failed to provide any."""

    by_name: dict[str, Operator] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def get(self, name: str) -> Operator | None:
        return self.by_name.get(name)


def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _register_entry_points(pm: pluggy.PluginManager, blocked: set[str]) -> list[PluginFailure]:
    failures = []
    for ep in entry_points(group=GROUP):
        if ep.name in blocked or pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as error:  # noqa: BLE001 - a plugin may fail in any way; report it and go on
            failures.append(PluginFailure(ep.name, f"import failed: {type(error).__name__}: {error}"))
    return failures


def _collect(pm: pluggy.PluginManager, result: Operators) -> None:
    for impl in pm.hook.trace_operators.get_hookimpls():
        try:
            provided = list(impl.function())
        except Exception as error:  # noqa: BLE001
            result.failures.append(
                PluginFailure(impl.plugin_name, f"trace_operators() raised {type(error).__name__}: {error}")
            )
            continue
        for op in provided:
            name = getattr(op, "name", None)
            if not isinstance(op, Operator) or not isinstance(name, str):
                result.failures.append(PluginFailure(impl.plugin_name, f"returned {op!r}, which is not an Operator"))
            elif name in result.by_name:
                result.failures.append(PluginFailure(impl.plugin_name, f"operator {name!r} is already provided"))
            else:
                result.by_name[name] = op


def load_operators(
    plugins: Iterable[ModuleType | object] = (), *, entry_points_: bool = True, env: Mapping[str, str] = os.environ
) -> Operators:
    """Operators from the given plugin objects and, unless turned off, the installed entry points."""
    pm = plugin_manager()
    for plugin in plugins:
        pm.register(plugin)
    result = Operators()
    if entry_points_:
        blocked = {n.strip() for n in env.get(BLOCK_VARIABLE, "").split(",") if n.strip()}
        result.failures.extend(_register_entry_points(pm, blocked))
    pm.check_pending()
    _collect(pm, result)
    return result
