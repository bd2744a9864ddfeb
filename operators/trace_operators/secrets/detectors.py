"""The shapes a secret takes inside one string: each detector reports its most telling finding, or None."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from trace_operators.secrets.chain_ids import private_chain_key
from trace_operators.secrets.masking import Span, mask
from trace_operators.secrets.mnemonic import LENGTHS, STRIP, find_mnemonics
from trace_operators.secrets.randomness import HEXISH, key_shaped, random_looking, random_token
from trace_operators.secrets.topics import is_topic
from trace_operators.secrets.urls import (
    Url,
    display,
    find_urls,
    host_keys,
    is_provider,
    masked_host,
    path_keys,
    query_pairs,
    query_secret,
    secret_spans,
    userinfo_secret,
)

POOL_HINT = (
    "name the pool instead: rpc_pool: <pool>; the key lives in the RPC Egress Gateway "
    "(Lite: TRACE_RPC_POOL_<NAME>_URL)"
)
_RPC_URL_HINT = (
    "DAG YAML holds no URLs: name an RPC endpoint by its pool (rpc_pool: <pool>); "
    "the RPC Egress Gateway holds its URL (Lite: TRACE_RPC_POOL_<NAME>_URL)"
)
_STORE_URL_HINT = "DAG YAML holds no URLs: the object store comes from the runtime"
REMOVE_HINT = (
    "remove it: secrets never appear in DAG YAML; RPC credentials live in the RPC Egress Gateway "
    "(rpc_pool: <pool>), others in the platform's secret store"
)
_AWS_HINT = (
    "remove it: AWS credentials come from the standard AWS environment (AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY or a role), never from DAG YAML"
)
HASH_HINT = (
    "a private key never appears in DAG YAML; if this is a hash, put it under a key that says so "
    "(block_hash, tx_hash, topic0, ...) or in a where filter"
)

# One value gets one problem: the most telling of the shapes it shows, in this order.
_RANK = {
    f"secret.{name}": i
    for i, name in enumerate(
        "pem jwt aws-key bearer url-credentials mnemonic private-key provider-host high-entropy url".split()
    )
}
# What a URL without credentials is reported as: outside a job block (a comment, an `x-` field) it is no secret.
_NO_CREDENTIAL = frozenset({"secret.provider-host", "secret.url"})

_HASH_CONTEXT = re.compile(
    r"(?i)\b(?:hash|tx|txn|transaction|block|topic|root|selector|event|log|digest|sha-?256|keccak)"
)
_KEY_CONTEXT = re.compile(r"(?i)key|priv|secret|seed|wallet|mnemonic")

# Short strings of these characters can hold none of the shapes below (an AWS key id is 20 long).
_PLAIN = re.compile(r"[A-Za-z0-9_:+-]{0,19}")
_PEM = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END")
JWT = re.compile(r"(?<![\w-])(eyJ[A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]*)")
AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")
AWS_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
BEARER = re.compile(r"\b(Bearer|Token)\s+([A-Za-z0-9._~+/-]{12,}=*)", re.I)
BASIC = re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])", re.I)
_HEX32 = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
# A 32-byte integer in decimal (how a message may print an unquoted 0x key YAML read as a number).
_DECIMAL32 = re.compile(r"(?<![0-9A-Za-z])[0-9]{67,78}(?![0-9A-Za-z])")
_BASE58_KEY = re.compile(r"(?<![0-9A-Za-z])[1-9A-HJ-NP-Za-km-z]{50,120}(?![0-9A-Za-z])")
_TOKEN = re.compile(r"[A-Za-z0-9_/+=-]{24,}")
_TOKEN_PARTS = re.compile(r"[/=]")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Finding:
    """One secret shape found in a string: its rule, message, hint and line within the string."""

    rule: str
    message: str
    hint: str
    line: int = 0


@dataclass(frozen=True)
class _Hit:
    """A shape at `start` in the string; `spans` are its secret parts, what free text masks."""

    rule: str
    message: str
    hint: str
    start: int
    spans: tuple[Span, ...]


def line_offset(value: str, fragment_start: int) -> int:
    """How many newlines of `value` come before `fragment_start`."""
    return value.count("\n", 0, fragment_start)


def one_line(text: str) -> str:
    """`text` on one line, cut to 64 characters, to quote in a message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 64 else flat[:61] + "..."


@lru_cache(maxsize=8192)
def inspect(s: str, hashy: bool, in_job: bool = True) -> Finding | None:
    """The most telling secret shape in `s`, if any (cached: the same values recur across jobs);
    outside a job block a URL without credentials is none."""
    if _PLAIN.fullmatch(s):
        return None
    best: _Hit | None = None
    for hit in hits(s, hashy):
        if (in_job or hit.rule not in _NO_CREDENTIAL) and (
            best is None or (_RANK[hit.rule], hit.start) < (_RANK[best.rule], best.start)
        ):
            best = hit
    if best is None:
        return None
    return Finding(best.rule, best.message, best.hint, line_offset(s, best.start))


def hits(s: str, hashy: bool) -> Iterator[_Hit]:
    """Every secret shape in `s`, detector by detector; each detector is linear in the length of `s`."""
    for detect in _DETECTORS:
        yield from detect(s, hashy)


def _pem(s: str, hashy: bool) -> Iterator[_Hit]:
    m = _PEM.search(s) if "-----BEGIN" in s else None
    if m:
        end = _PEM_END.search(s, m.end())
        kind = m.group(1).strip() or "PKCS#8"
        body = (m.end(), end.start() if end else len(s))
        yield _Hit("secret.pem", f"PEM private key block ({kind}) in a value", REMOVE_HINT, m.start(), (body,))


def _jwt(s: str, hashy: bool) -> Iterator[_Hit]:
    for m in JWT.finditer(s) if "eyJ" in s else ():
        alg = _jwt_alg(m.group(1))
        if alg is not None:
            message = f"JWT in a value (alg {one_line(alg)[:16]}): {mask(m.group())}"
            yield _Hit("secret.jwt", message, REMOVE_HINT, m.start(), (m.span(),))


def _jwt_alg(header: str) -> str | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return None
    return str(decoded["alg"]) if isinstance(decoded, dict) and "alg" in decoded else None


def _aws_key_id(s: str, hashy: bool) -> Iterator[_Hit]:
    for m in AWS_ID.finditer(s) if len(s) >= 20 and any(p in s for p in AWS_PREFIXES) else ():
        message = f"AWS access key id in a value: {mask(m.group())}"
        yield _Hit("secret.aws-key", message, _AWS_HINT, m.start(), (m.span(),))


def _bearer(s: str, hashy: bool) -> Iterator[_Hit]:
    if not may_hold_scheme_credential(s):
        return
    for m in (*BEARER.finditer(s), *BASIC.finditer(s)):
        if scheme_credential(m):
            message = f"{m.group(1)} credential in a value: {m.group(1)} {mask(m.group(2))}"
            yield _Hit("secret.bearer", message, REMOVE_HINT, m.start(), (m.span(2),))


def may_hold_scheme_credential(s: str) -> bool:
    """A cheap test before the Bearer/Basic patterns run: one of their words appears."""
    lowered = s.lower()
    return "bearer" in lowered or "token" in lowered or "basic" in lowered


def scheme_credential(m: re.Match[str]) -> bool:
    """Bearer: letters and digits, no hex id ("token 0x…", "token <uuid>" in prose). Basic: base64 `user:password`."""
    token = m.group(2)
    if m.group(1).lower() != "basic":
        has_both = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
        return has_both and not HEXISH.fullmatch(token.replace("-", "")) and "…" not in token
    try:
        decoded = base64.b64decode(token, validate=True).decode("ascii")
    except (ValueError, binascii.Error):
        return False
    return ":" in decoded and decoded.isprintable()


def _urls(s: str, hashy: bool) -> Iterator[_Hit]:
    """Each URL's most telling problem: credentials, then a provider host, then a URL at all."""
    if "." not in s and "://" not in s:
        return
    for url in find_urls(s):
        hit = _url_hit(url)
        if hit:
            yield hit


def _url_hit(url: Url) -> _Hit | None:
    spans = tuple(secret_spans(url))
    if spans:
        shown = display(url)
        if url.userinfo and userinfo_secret(url.userinfo):
            where = "credentials in its user info"
        elif host_keys(url):
            where = "an API key in its host"
        elif path_keys(url):
            where = "an API key in its path"
        elif names := [name for name, value in query_pairs(url.query) if query_secret(name, value)]:
            where = f"a credential in its query ({one_line(names[0])[:32]})"
        else:
            where = "a credential in its fragment"
        return _Hit("secret.url-credentials", f"URL with {where}: {shown}", POOL_HINT, url.start, spans)
    if is_provider(url.host):
        message = f"RPC provider host in a value: {masked_host(url).partition(':')[0]}"
        return _Hit("secret.provider-host", message, POOL_HINT, url.start, ())
    if not url.scheme:
        return None
    rpc_like = url.scheme.lower() in ("http", "https", "ws", "wss")
    message = f"URL in a value: {url.scheme}://{masked_host(url)}{'/…' if url.path.strip('/') or url.query else ''}"
    return _Hit("secret.url", message, _RPC_URL_HINT if rpc_like else _STORE_URL_HINT, url.start, ())


def _mnemonic(s: str, hashy: bool) -> Iterator[_Hit]:
    if s.count(" ") + s.count("\n") + s.count("\t") < LENGTHS[0] - 1:
        return
    tokens = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(s)]
    for first, last in find_mnemonics(tokens):
        # The phrase without the quotes or punctuation around it, so that only the words are masked.
        start = tokens[first][0] + len(tokens[first][2]) - len(tokens[first][2].lstrip(STRIP))
        end = tokens[last][1] - len(tokens[last][2]) + len(tokens[last][2].rstrip(STRIP))
        message = f"BIP-39 mnemonic ({last - first + 1} words) in a value: {mask(s[start:end])}"
        yield _Hit("secret.mnemonic", message, REMOVE_HINT, start, ((start, end),))


def _private_key(s: str, hashy: bool) -> Iterator[_Hit]:
    if hashy or len(s) < 64:
        return
    for m in _HEX32.finditer(s):
        # In a URL path (after "/") it names content by its hash; a provider's key there is a URL credential.
        if not key_shaped(m.group()[-64:]) or s[m.start() - 1 : m.start()] == "/" or is_topic(m.group()):
            continue
        before = s[s.rfind("\n", 0, m.start()) + 1 : m.start()][-40:]
        if _HASH_CONTEXT.search(before) and not _KEY_CONTEXT.search(before):
            continue
        message = f"32-byte hex value outside a hash field, shaped like a private key: {mask(m.group())}"
        yield _Hit("secret.private-key", message, HASH_HINT, m.start(), (m.span(),))


def _decimal_key(s: str, hashy: bool) -> Iterator[_Hit]:
    for m in _DECIMAL32.finditer(s) if not hashy and len(s) >= 67 else ():
        if int_key_shaped(int(m.group())):
            message = f"32-byte integer outside a hash field, shaped like a private key: {mask(m.group())}"
            yield _Hit("secret.private-key", message, HASH_HINT, m.start(), (m.span(),))


def int_key_shaped(value: int) -> bool:
    """Whether an integer is 32 random bytes (a private key read as a number), not a topic or a round number."""
    return 224 < value.bit_length() <= 256 and key_shaped(f"{value:064x}") and not is_topic(f"{value:064x}")


def _chain_key(s: str, hashy: bool) -> Iterator[_Hit]:
    for m in _BASE58_KEY.finditer(s) if len(s) >= 50 else ():
        kind = private_chain_key(m.group())
        if kind:
            yield _Hit(
                "secret.private-key", f"{kind} in a value: {mask(m.group())}", REMOVE_HINT, m.start(), (m.span(),)
            )


def _high_entropy(s: str, hashy: bool) -> Iterator[_Hit]:
    """Long random tokens; one of exactly 40 base64 characters is reported as an AWS secret access key."""
    if len(s) < 24:
        return
    for m in _TOKEN.finditer(s):
        token, offset = m.group(), m.start()
        if _AWS_SECRET.fullmatch(token) and not token.islower() and not token.isupper() and random_looking(token):
            message = f"40-character high-entropy string, shaped like an AWS secret access key: {mask(token)}"
            yield _Hit("secret.aws-key", message, _AWS_HINT, offset, (m.span(),))
            continue
        # Parts: a path's segments, and the value of a `name=value` pair (the name is no secret).
        for part in _TOKEN_PARTS.split(token):
            if len(part) >= 24 and random_token(part, 20):
                message = f"high-entropy string ({len(part)} characters), shaped like a key or token: {mask(part)}"
                yield _Hit("secret.high-entropy", message, REMOVE_HINT, offset, ((offset, offset + len(part)),))
            offset += len(part) + 1


_DETECTORS = (_pem, _jwt, _aws_key_id, _bearer, _urls, _mnemonic, _private_key, _decimal_key, _chain_key, _high_entropy)
