"""URLs in text: finding and parsing them, provider hosts, which parts carry a credential, and showing one masked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from trace_operators.secrets.masking import Span, mask, mask_spans
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
# Only the host's last few labels can name a provider: checking those alone keeps a long host linear.
_PROVIDER_LABELS = max(p.count(".") + 1 for p in _PROVIDERS)
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
_HEX_KEY = re.compile(r"(?:0[xX])?[0-9a-fA-F]{64}")
_PART = re.compile(r"[^/]+")
_USERINFO_PART = re.compile(r"[^:]+")
_PAIR = re.compile(r"([^&;=]*)(?:=([^&;]*))?")


@dataclass(frozen=True)
class Url:
    """A URL, or a bare provider host with what follows it (scheme empty); `m` is its match in the text."""

    m: re.Match[str]
    start: int
    scheme: str
    userinfo: str | None
    host: str
    port: str | None
    path: str
    query: str | None
    fragment: str | None


def parse(m: re.Match[str]) -> Url:
    """From a `URL` match, or a `_BARE_HOST` one (no scheme, no user info)."""
    g = m.groupdict()
    return Url(m, m.start(), g.get("scheme") or "", g.get("userinfo"), g["host"], g["port"], g["path"] or "",
               g["query"], g.get("fragment"))  # fmt: skip


def find_urls(s: str) -> list[Url]:
    """Every URL in `s`, and every bare provider host outside one."""
    matches = list(URL.finditer(s)) if "://" in s else []
    urls = [parse(m) for m in matches]
    ends = iter(matches)
    current = next(ends, None)
    for m in _BARE_HOST.finditer(s) if "." in s else ():
        while current is not None and current.end() <= m.start():  # both in order: one pass, linear
            current = next(ends, None)
        inside = current is not None and current.start() <= m.start()
        if not inside and is_provider(m.group("host")):
            urls.append(parse(m))
    return urls


@lru_cache(maxsize=4096)
def is_provider(host: str) -> bool:
    """Whether `host` is a provider's domain or one of its subdomains."""
    labels = host.lower().rstrip(".").rsplit(".", _PROVIDER_LABELS)[-_PROVIDER_LABELS:]
    return any(".".join(labels[i:]) in _PROVIDERS for i in range(len(labels) - 1))


def userinfo_secret(userinfo: str) -> bool:
    """Whether user info carries a credential: any password, or a key-like user name."""
    user, _, password = userinfo.partition(":")
    return bool(password) or keylike_segment(user, strong=False)


def path_keys(url: Url) -> list[str]:
    """Path segments that carry a key: after a version segment (/v2/<key>), any on a provider, or random-looking."""
    return [url.path[start:end] for start, end in _path_spans(url, 0)]


def _path_spans(url: Url, base: int) -> list[Span]:
    strong_host = is_provider(url.host)
    spans, previous = [], ""
    for m in _PART.finditer(url.path):
        segment = m.group()
        strong = strong_host or bool(_VERSION.fullmatch(previous))
        # On a provider a 0x… segment is no content hash: a private key pasted after the host.
        if keylike_segment(segment, strong) or (strong_host and _HEX_KEY.fullmatch(segment)):
            spans.append((base + m.start(), base + m.end()))
        previous = segment
    return spans


def host_keys(url: Url) -> list[str]:
    """Host labels that carry a key: `https://<key>.eth.rpc.<provider>/`."""
    strong = is_provider(url.host)
    return [label for label in url.host.split(".") if keylike_label(label, strong)]


def keylike_label(label: str, strong: bool) -> bool:
    """Whether a host label is a key: on a provider long hex or mixed case with digits (a host is written in lower
    case), elsewhere random; names, regions and node ids (`nd-123-456-789`) are not."""
    if len(label) < 16 or not _SEGMENT.fullmatch(label):
        return False
    if strong and (HEXISH.fullmatch(label) or (not label.islower() and any(c.isdigit() for c in label))):
        return True
    return random_token(label, 12 if strong else 16)


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
    return [(name, value) for name, value, _ in _pair_spans(query, 0)]


def _pair_spans(query: str | None, base: int) -> list[tuple[str, str, Span]]:
    if not query:
        return []
    pairs = []
    for m in _PAIR.finditer(query):
        if m.group(1) or m.group(2):
            pairs.append((m.group(1), m.group(2) or "", (base + m.start(2), base + m.end(2))))
    return pairs


def query_secret(name: str, value: str) -> bool:
    """Whether a query parameter carries a credential: by a secret's name, or by a key-like value."""
    if not value:
        return False
    return (
        secret_kind(key_words(name)) is not None or name.lower() in _QUERY_SECRET_NAMES or keylike_segment(value, False)
    )


def secret_spans(url: Url, every_value: bool = False) -> list[Span]:
    """Where in the text the URL's credentials are: user info, host labels, path keys, query and fragment values."""
    m, spans = url.m, []
    if url.userinfo and userinfo_secret(url.userinfo):
        # A user name goes with a password; alone, it is masked when it is the key.
        spans += [
            (m.start("userinfo") + p.start(), m.start("userinfo") + p.end())
            for p in _USERINFO_PART.finditer(url.userinfo)
        ]
    strong = is_provider(url.host)
    for label in _PART.finditer(url.host.replace(".", "/")):
        if keylike_label(label.group(), strong):
            spans.append((m.start("host") + label.start(), m.start("host") + label.end()))
    if url.path:
        spans += _path_spans(url, m.start("path"))
    for group in ("query", "fragment"):
        text = url.query if group == "query" else url.fragment
        if text is None or (group == "fragment" and "=" not in text):
            continue  # a fragment without pairs is an anchor in a page
        base = m.start(group)
        spans += [
            span
            for name, value, span in _pair_spans(text, base)
            if (every_value and value) or query_secret(name, value)
        ]
    return spans


def display(url: Url) -> str:
    """The URL with every credential masked (user info and query values always)."""
    spans = secret_spans(url, every_value=True)
    if url.userinfo:
        start = url.m.start("userinfo")
        spans += [(start + p.start(), start + p.end()) for p in _USERINFO_PART.finditer(url.userinfo)]
    return mask_spans(url.m.group(), [(a - url.start, b - url.start) for a, b in spans])


def masked_host(url: Url) -> str:
    """The host and port, a key in a label masked."""
    strong = is_provider(url.host)
    host = ".".join(mask(label) if keylike_label(label, strong) else label for label in url.host.split("."))
    return host + (f":{url.port}" if url.port else "")
