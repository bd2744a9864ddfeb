"""The plugin host: one object owns the pluggy manager, and the rest of the program calls its typed methods.

Built-in plugins come in through the same door as installed ones. Whatever a plugin does wrong (its import
fails, a hook implementation is misspelt, its hook raises, it returns something that is not an operator) is
contained: the plugin is left out and reported, the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import cast

import pluggy

from trace_operators import hookspecs
from trace_operators.contract import Operator

PROJECT = "trace"
GROUP = "trace.operators"
#: Comma-separated plugin names not to load, for switching off a plugin that misbehaves.
BLOCK_VARIABLE = "TRACE_BLOCK_PLUGINS"


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    error: str


@dataclass
class Operators:
    """The operators the plugins provide, and the plugins that failed to provide any."""

    by_name: dict[str, Operator] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def get(self, name: str) -> Operator | None:
        return self.by_name.get(name)


class PluginHost:
    """The `trace` plugin manager with its hook specs, built-ins, installed entry points and blocked names."""

    def __init__(
        self,
        builtins: Mapping[str, object] = {},  # read only
        *,
        entry_points_: bool = True,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        """`builtins` maps plugin names to plugin objects (modules, usually), registered before entry points."""
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        for name in _blocked(env):
            self.manager.set_blocked(name)
        for name, plugin in builtins.items():
            self.register(plugin, name)
        if entry_points_:
            self._load_entry_points()

    def register(self, plugin: object, name: str) -> bool:
        """Register `plugin` under `name` unless blocked or already there; a broken one is reported, not raised."""
        if self.manager.is_blocked(name) or self.manager.has_plugin(name):
            return False
        try:
            self.manager.register(plugin, name=name)
        except Exception as error:  # noqa: BLE001 - a plugin may fail in any way; report it and go on
            self.failures.append(PluginFailure(name, f"could not be registered: {type(error).__name__}: {error}"))
            return False
        try:
            # Per plugin, so that one misspelt hook implementation leaves out its own plugin only.
            self.manager.check_pending()
        except pluggy.PluginValidationError as error:
            self.manager.unregister(name=name)
            self.failures.append(PluginFailure(name, f"has a hook implementation no spec knows: {error}"))
            return False
        return True

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)

    def operators(self) -> Operators:
        """Every operator of every registered plugin, with the failures of those that did not load."""
        result = Operators(failures=list(self.failures))
        for impl in self.manager.hook.trace_operators.get_hookimpls():
            try:
                provided = list(cast(Iterable[object], impl.function()))
            except Exception as error:  # noqa: BLE001
                result.failures.append(
                    PluginFailure(impl.plugin_name, f"trace_operators() raised {type(error).__name__}: {error}")
                )
                continue
            for op in provided:
                _add(result, impl.plugin_name, op)
        return result

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=GROUP):
            if self.manager.is_blocked(ep.name) or self.manager.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as error:  # noqa: BLE001
                self.failures.append(PluginFailure(ep.name, f"import failed: {type(error).__name__}: {error}"))
                continue
            self.register(plugin, ep.name)


def _blocked(env: Mapping[str, str]) -> Iterable[str]:
    return [name.strip() for name in env.get(BLOCK_VARIABLE, "").split(",") if name.strip()]


def _add(result: Operators, plugin: str, op: object) -> None:
    name = getattr(op, "name", None)
    if not isinstance(op, Operator) or not isinstance(name, str):
        result.failures.append(PluginFailure(plugin, f"returned {op!r}, which is not an Operator"))
    elif name in result.by_name:
        result.failures.append(PluginFailure(plugin, f"operator {name!r} is already provided"))
    else:
        result.by_name[name] = op
