"""Which RPC endpoint serves a pool (SPEC §4); the URL itself is never shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from trace_operators.contract import FatalError

GATEWAY_VARIABLE = "TRACE_RPC_GATEWAY_URL"
FALLBACK_VARIABLE = "TRACE_CRYO_RPC_URL"


@dataclass(frozen=True)
class Endpoint:
    """An RPC endpoint of a pool; the URL is a secret and never shown."""

    pool: str
    url: str = field(repr=False)
    #: The environment variable it came from, safe to name in messages.
    source: str = ""


def pool_variable(pool: str) -> str:
    """`monad-main` -> `TRACE_RPC_POOL_MONAD_MAIN_URL`."""
    return f"TRACE_RPC_POOL_{re.sub(r'[^A-Z0-9]', '_', pool.upper())}_URL"


def resolve_endpoint(pool: str, env: Mapping[str, str]) -> Endpoint:
    """The pool's own variable, then the gateway template, then the fallback; none is fatal."""
    own = pool_variable(pool)
    if env.get(own):
        return Endpoint(pool, env[own], own)
    template = env.get(GATEWAY_VARIABLE)
    if template:
        if "{pool}" not in template:
            raise FatalError(f"{GATEWAY_VARIABLE} must be a URL template holding {{pool}}; it has none")
        return Endpoint(pool, template.replace("{pool}", pool), GATEWAY_VARIABLE)
    if env.get(FALLBACK_VARIABLE):
        return Endpoint(pool, env[FALLBACK_VARIABLE], FALLBACK_VARIABLE)
    raise FatalError(
        f"no RPC endpoint for pool {pool!r}: set {own} (Lite), {GATEWAY_VARIABLE} "
        f"(a gateway URL template holding {{pool}}) or {FALLBACK_VARIABLE}"
    )
