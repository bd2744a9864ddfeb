"""URLs in text: finding and parsing them, provider hosts, which parts carry a credential, and showing one masked."""

from __future__ import annotations

import re
from dataclasses import dataclass

from trace_operators.secrets.masking import mask
from trace_operators.secrets.names import key_words, secret_kind
from trace_operators.secrets.randomness import HEXISH, random_token

# Domains (and their subdomains) of chain RPC and chain data providers: naming one means an endpoint.
# A block explorer is not one (a tx link in a description is only a URL); its API key, in the
# query, is a credential all the same.
_PROVIDERS = frozenset(
    """
    alchemy.com alchemyapi.io infura.io quiknode.pro quiknode.io quicknode.com quicknode.pro ankr.com
    blastapi.io chainstack.com p2pify.com drpc.org getblock.io nodereal.io llamarpc.com llamanodes.com
    publicnode.com tenderly.co moralis.io moralis.com moralis-nodes.com blockpi.network onfinality.io
    pokt.network grove.city 1rpc.io cloudflare-eth.com flashbots.net nownodes.io allthatnode.com
    blockdaemon.com zan.top unifra.io rpcfast.com rpc.thirdweb.com lavanet.xyz validationcloud.io
    dwellir.com omniatech.io nodies.app blxrbdn.com helius-rpc.com rpcpool.com hypersync.xyz
    gateway.thegraph.com api.covalenthq.com rpc.gateway.fm chainnodes.org api.developer.coinbase.com
    """.split()
)
_QUERY_SECRET_NAMES = frozenset("key keys dkey sig signature x-amz-signature pass pwd pw".split())

URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,15})://"
    r"(?:(?P<userinfo>[^\s/?#@\"'<>()\[\]]*)@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]*\]|[^\s/?#:@\"'<>()\[\]]*)"
    r"(?::(?P<port>[0-9]*))?"
    r"(?P<path>/[^\s?#\"'<>()]*)?"
    r"(?:\?(?P<query>[^\s#\"'<>()]*))?"
    r"(?:#(?P<fragment>[^\s\"'<>()]*))?"
)
_BARE_HOST = re.compile(
    r"(?<![\w.-])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[^\s?#\"'<>()]*)?"
    r"(?:\?(?P<query>[^\s#\"'<>()]*))?"
)
_VERSION = re.compile(r"[vV][0-9]{1,2}")
_SEGMENT = re.compile(r"[A-Za-z0-9_.~+=%-]+")


@dataclass(frozen=True)
class Url:
    """A URL, or a bare provider host with what follows it (scheme empty)."""

    start: int
    scheme: str
    userinfo: str | None
    host: str
    port: str | None
    path: str
    query: str | None


def find_urls(s: str) -> list[Url]:
    """Every URL in `s`, and every bare provider host outside one."""
    matches = list(URL.finditer(s)) if "://" in s else []
    urls = [parse(m) for m in matches]
    for m in _BARE_HOST.finditer(s):
        inside = any(u.start() <= m.start() < u.end() for u in matches)
        if not inside and is_provider(m.group("host")):
            urls.append(parse(m))
    return urls


def parse(m: re.Match[str]) -> Url:
    """From a `URL` match, or a `_BARE_HOST` one (no scheme, no user info)."""
    g = m.groupdict()
    return Url(m.start(), g.get("scheme") or "", g.get("userinfo"), g["host"], g["port"], g["path"] or "", g["query"])


def is_provider(host: str) -> bool:
    """Whether `host` is a provider's domain or one of its subdomains."""
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in _PROVIDERS for i in range(len(labels) - 1))


def userinfo_secret(userinfo: str) -> bool:
    """Whether user info carries a credential: any password, or a key-like user name."""
    user, _, password = userinfo.partition(":")
    return bool(password) or keylike_segment(user, strong=False)


def path_keys(url: Url) -> list[str]:
    """Path segments that carry a key: after a version segment (/v2/<key>), any on a provider, or random-looking."""
    strong_host = is_provider(url.host)
    keys, previous = [], ""
    for segment in url.path.split("/"):
        if segment and keylike_segment(segment, strong_host or bool(_VERSION.fullmatch(previous))):
            keys.append(segment)
        previous = segment
    return keys


def keylike_segment(segment: str, strong: bool) -> bool:
    """Whether a path segment (or a user name, or a query value) looks like a key; `strong` where keys are expected."""
    if not _SEGMENT.fullmatch(segment) or segment[:2] in ("0x", "0X"):  # 0x…: a hash or address
        return False
    if strong and len(segment) > 6:  # after /v2/ or on a provider: hex, digits or mixed case make a key
        return (
            HEXISH.fullmatch(segment) is not None
            or any(c.isdigit() for c in segment)
            or (not segment.islower() and not segment.isupper())
        )
    # Elsewhere hex is an id (a commit in a permalink, a hash); a key is random-looking.
    return len(segment) >= 16 and random_token(segment, 12)


def query_pairs(query: str | None) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, in order; value empty when the part has no '='."""
    if not query:
        return []
    pairs = (part.partition("=") for part in re.split(r"[&;]", query) if part)
    return [(name, value) for name, _, value in pairs]


def query_secret(name: str, value: str) -> bool:
    """Whether a query parameter carries a credential: by a secret's name, or by a key-like value."""
    if not value:
        return False
    return bool(secret_kind(key_words(name))) or name.lower() in _QUERY_SECRET_NAMES or keylike_segment(value, False)


def display(url: Url) -> str:
    """The URL with every credential masked (query values always)."""
    head = f"{url.scheme}://" if url.scheme else ""
    if url.userinfo is not None:
        head += ":".join(mask(part) for part in url.userinfo.split(":", 1)) + "@"
    keys = set(path_keys(url))
    path = "/".join(mask(seg) if seg in keys else seg for seg in url.path.split("/"))
    query = "&".join(f"{name}={mask(value)}" if value else name for name, value in query_pairs(url.query))
    return f"{head}{host_port(url)}{path}{'?' + query if query else ''}"


def host_port(url: Url) -> str:
    """The host, with its port when the URL names one."""
    return url.host + (f":{url.port}" if url.port else "")
