"""Which RPC endpoint serves a pool (SPEC §4); the URL itself is never shown."""

from __future__ import annotations

import base64
import re
import urllib.parse
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

    def secrets(self) -> tuple[str, ...]:
        """What of the URL must not reach a message: the URL, its user info, path segments and query values.

        Each also as it is percent-decoded, and the user info as Cryo sends it (Basic authorization). The
        pool name is public (a gateway URL may carry it as a path segment), and so is an API version.
        """
        parts = urllib.parse.urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        pieces = [self.url, userinfo, *userinfo.split(":", 1), *parts.path.split("/")]
        pieces += [value for _, value in urllib.parse.parse_qsl(parts.query)]
        pieces += [urllib.parse.unquote(piece) for piece in pieces]
        if userinfo:
            pieces.append(base64.b64encode(urllib.parse.unquote(userinfo).encode()).decode())
        return tuple(p for p in dict.fromkeys(pieces) if p and p != self.pool and not re.fullmatch(r"v\d+", p))


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
