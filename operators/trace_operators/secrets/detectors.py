"""The shapes a secret takes inside one string: each detector reports its most telling finding, or None."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from trace_operators.secrets.masking import mask
from trace_operators.secrets.randomness import HEXISH, key_shaped, random_looking, random_token
from trace_operators.secrets.urls import (
    Url,
    display,
    find_urls,
    host_port,
    is_provider,
    path_keys,
    query_pairs,
    query_secret,
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

_HASH_CONTEXT = re.compile(
    r"(?i)\b(?:hash|tx|txn|transaction|block|topic|root|selector|event|log|digest|sha-?256|keccak)"
)
_KEY_CONTEXT = re.compile(r"(?i)key|priv|secret|seed|wallet|mnemonic")

# Short strings of these characters can hold none of the shapes below (an AWS key id is 20 long).
_PLAIN = re.compile(r"[A-Za-z0-9_:+-]{0,19}")
_PEM = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
JWT = re.compile(r"(?<![\w-])(eyJ[A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]*)")
AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")
AWS_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
BEARER = re.compile(r"\b(Bearer|Token)\s+([A-Za-z0-9._~+/-]{12,}=*)", re.I)
BASIC = re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])", re.I)
_HEX32 = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_TOKEN = re.compile(r"[A-Za-z0-9_/+=-]{24,}")
_WORD = re.compile(r"\S+")
_MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)


@dataclass(frozen=True)
class Finding:
    """One secret shape found in a string: its rule, message, hint and line within the string."""

    rule: str
    message: str
    hint: str
    line: int = 0


def line_offset(value: str, fragment_start: int) -> int:
    """How many newlines of `value` come before `fragment_start`."""
    return value.count("\n", 0, fragment_start)


def one_line(text: str) -> str:
    """`text` on one line, cut to 64 characters, to quote in a message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 64 else flat[:61] + "..."


@lru_cache(maxsize=8192)
def inspect(s: str, hashy: bool) -> Finding | None:
    """The most telling secret shape in `s`, if any (cached: the same values recur across jobs)."""
    if _PLAIN.fullmatch(s):
        return None
    found = [f for f in (detect(s, hashy) for detect in _DETECTORS) if f]
    return min(found, key=lambda f: _RANK[f.rule]) if found else None


def _pem(s: str, hashy: bool) -> Finding | None:
    m = _PEM.search(s) if "-----BEGIN" in s else None
    if not m:
        return None
    kind = m.group(1).strip() or "PKCS#8"
    return Finding("secret.pem", f"PEM private key block ({kind}) in a value", REMOVE_HINT, line_offset(s, m.start()))


def _jwt(s: str, hashy: bool) -> Finding | None:
    if "eyJ" not in s:
        return None
    for m in JWT.finditer(s):
        alg = _jwt_alg(m.group(1))
        if alg is not None:
            message = f"JWT in a value (alg {one_line(alg)[:16]}): {mask(m.group())}"
            return Finding("secret.jwt", message, REMOVE_HINT, line_offset(s, m.start()))
    return None


def _jwt_alg(header: str) -> str | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return None
    return str(decoded["alg"]) if isinstance(decoded, dict) and "alg" in decoded else None


def _aws_key_id(s: str, hashy: bool) -> Finding | None:
    m = AWS_ID.search(s) if len(s) >= 20 and any(p in s for p in AWS_PREFIXES) else None
    if not m:
        return None
    message = f"AWS access key id in a value: {mask(m.group())}"
    return Finding("secret.aws-key", message, _AWS_HINT, line_offset(s, m.start()))


def _bearer(s: str, hashy: bool) -> Finding | None:
    if not may_hold_scheme_credential(s):
        return None
    for m in (*BEARER.finditer(s), *BASIC.finditer(s)):
        if scheme_credential(m):
            message = f"{m.group(1)} credential in a value: {m.group(1)} {mask(m.group(2))}"
            return Finding("secret.bearer", message, REMOVE_HINT, line_offset(s, m.start()))
    return None


def may_hold_scheme_credential(s: str) -> bool:
    """A cheap test before the Bearer/Basic patterns run: one of their words appears."""
    lowered = s.lower()
    return "bearer" in lowered or "token" in lowered or "basic" in lowered


def scheme_credential(m: re.Match[str]) -> bool:
    """Bearer: letters and digits, no hex id ("token 0x…", "token <uuid>" in prose). Basic: base64 `user:password`."""
    token = m.group(2)
    if m.group(1).lower() != "basic":
        has_both = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
        return has_both and not HEXISH.fullmatch(token.replace("-", ""))
    try:
        decoded = base64.b64decode(token, validate=True).decode("ascii")
    except (ValueError, binascii.Error):
        return False
    return ":" in decoded and decoded.isprintable()


def _urls(s: str, hashy: bool) -> Finding | None:
    """The most telling URL problem: credentials, then a provider host, then a URL at all."""
    if "." not in s and "://" not in s:
        return None
    best: Finding | None = None
    for url in find_urls(s):
        finding = _url_finding(url, s)
        if finding and (best is None or _RANK[finding.rule] < _RANK[best.rule]):
            best = finding
    return best


def _url_finding(url: Url, s: str) -> Finding | None:
    line = line_offset(s, url.start)
    shown = display(url)
    if url.userinfo and userinfo_secret(url.userinfo):
        return Finding("secret.url-credentials", f"URL with credentials in its user info: {shown}", POOL_HINT, line)
    if path_keys(url):
        return Finding("secret.url-credentials", f"URL with an API key in its path: {shown}", POOL_HINT, line)
    names = [name for name, value in query_pairs(url.query) if query_secret(name, value)]
    if names:
        message = f"URL with a credential in its query ({one_line(names[0])[:32]}): {shown}"
        return Finding("secret.url-credentials", message, POOL_HINT, line)
    if is_provider(url.host):
        return Finding("secret.provider-host", f"RPC provider host in a value: {url.host}", POOL_HINT, line)
    if not url.scheme:
        return None
    rpc_like = url.scheme.lower() in ("http", "https", "ws", "wss")
    message = f"URL in a value: {url.scheme}://{host_port(url)}{'/…' if url.path.strip('/') or url.query else ''}"
    return Finding("secret.url", message, _RPC_URL_HINT if rpc_like else _STORE_URL_HINT, line)


def _mnemonic(s: str, hashy: bool) -> Finding | None:
    if s.count(" ") + s.count("\n") + s.count("\t") < 11:
        return None
    words = _wordlist()
    run_start, run = 0, 0
    for m in _WORD.finditer(s + " ."):  # the sentinel ends the last run
        if m.group().strip(".,;:'\"").lower() in words:
            run_start, run = (m.start(), 1) if run == 0 else (run_start, run + 1)
            continue
        if run >= _MNEMONIC_LENGTHS[0]:
            phrase = s[run_start : m.start()].rstrip()
            count = f"{run} words" if run in _MNEMONIC_LENGTHS else f"{run} words in a row"
            message = f"BIP-39 mnemonic ({count}) in a value: {mask(phrase)}"
            return Finding("secret.mnemonic", message, REMOVE_HINT, line_offset(s, run_start))
        run = 0
    return None


@cache
def _wordlist() -> frozenset[str]:
    """The official English BIP-39 list (2048 words), read on first use only."""
    text = resources.files("trace_operators.secrets").joinpath("bip39_english.txt").read_text("ascii")
    return frozenset(text.split())


def _private_key(s: str, hashy: bool) -> Finding | None:
    if hashy or len(s) < 64:
        return None
    for m in _HEX32.finditer(s):
        # In a URL path (after "/") it names content by its hash; a provider's key there is a URL credential.
        if not key_shaped(m.group()[-64:]) or s[m.start() - 1 : m.start()] == "/":
            continue
        before = s[s.rfind("\n", 0, m.start()) + 1 : m.start()][-40:]
        if _HASH_CONTEXT.search(before) and not _KEY_CONTEXT.search(before):
            continue
        message = f"32-byte hex value outside a hash field, shaped like a private key: {mask(m.group())}"
        return Finding("secret.private-key", message, HASH_HINT, line_offset(s, m.start()))
    return None


def _high_entropy(s: str, hashy: bool) -> Finding | None:
    """Long random tokens; one of exactly 40 base64 characters is reported as an AWS secret access key."""
    if len(s) < 24:
        return None
    for m in _TOKEN.finditer(s):
        token, offset = m.group(), m.start()
        if _AWS_SECRET.fullmatch(token) and not token.islower() and not token.isupper() and random_looking(token):
            message = f"40-character high-entropy string, shaped like an AWS secret access key: {mask(token)}"
            return Finding("secret.aws-key", message, _AWS_HINT, line_offset(s, offset))
        for part in token.split("/"):
            if len(part) >= 24 and random_token(part, 20):
                message = f"high-entropy string ({len(part)} characters), shaped like a key or token: {mask(part)}"
                return Finding("secret.high-entropy", message, REMOVE_HINT, line_offset(s, offset))
            offset += len(part) + 1
    return None


_DETECTORS = (_pem, _jwt, _aws_key_id, _bearer, _urls, _mnemonic, _private_key, _high_entropy)
