"""Hook specifications of the `trace` plugin project: markers and one function per hook."""

from __future__ import annotations

import pluggy

from trace_operators.contract import Operator

hookspec = pluggy.HookspecMarker("trace")
hookimpl = pluggy.HookimplMarker("trace")


@hookspec
def trace_operators() -> list[Operator]:
    """Return the operators this plugin provides."""
