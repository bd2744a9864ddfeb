"""Secret detection in DAG YAML and redaction of free text (SPEC §3: secrets never appear in DAG YAML).

`scan` walks a YAML-loaded value and reports one `Problem` per secret-shaped key or value; `redact_text`
strips known secrets and every URL credential from a message before it is printed, logged or stored.
Messages show a secret only through `mask`: at most its first and last two characters.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from trace_operators.contract import Path_, Problem

REDACTED = "<redacted>"

_POOL_HINT = (
    "name the pool instead: rpc_pool: <pool>; the key lives in the RPC Egress Gateway "
    "(Lite: TRACE_RPC_POOL_<NAME>_URL)"
)
_RPC_URL_HINT = (
    "DAG YAML holds no URLs: name an RPC endpoint by its pool (rpc_pool: <pool>); "
    "the RPC Egress Gateway holds its URL (Lite: TRACE_RPC_POOL_<NAME>_URL)"
)
_STORE_URL_HINT = "DAG YAML holds no URLs: the object store comes from the runtime (--store or TRACE_CRYO_STORE)"
_REMOVE_HINT = (
    "remove it: secrets never appear in DAG YAML; RPC credentials live in the RPC Egress Gateway "
    "(rpc_pool: <pool>), others in the platform's secret store"
)
_AWS_HINT = (
    "remove it: AWS credentials come from the standard AWS environment (AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY or a role), never from DAG YAML"
)
_HASH_HINT = (
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

# Name pieces: "privateKey" -> private, Key; "API_KEY" -> API, KEY; "topic0" -> topic, 0.
_NAME_PIECE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# A key says secret by its head noun (its last word): `auth_token` does, `token_address`, `auth_mode`,
# `max_tokens` and `secret_name` do not. Plural `secrets` is the platform's list of secret *names*.
_SECRET_WORDS = frozenset(
    """
    password passwords passwd passphrase secret token apikey apikeys auth authorization credential
    credentials bearer mnemonic mnemonics privkey privatekey secretkey accesskey jwt cookie
    """.split()
)
_KEY_QUALIFIERS = frozenset(
    "api private priv access secret signing encryption master auth ssh wallet account client deployer".split()
)
_PHRASE_QUALIFIERS = frozenset("seed recovery secret mnemonic".split())
_RPC_TAILS = frozenset("url urls uri endpoint endpoints".split())
# Words after the head noun that still name the secret itself, not a setting about it.
_TRAILING = frozenset("value string str b64 base64 hex raw plain plaintext text".split())
_EMPTY = frozenset({"", "none", "null", "~", "false", "off", "no", "disabled", "n/a"})
_QUERY_SECRET_NAMES = frozenset("key keys dkey sig signature x-amz-signature pass pwd pw".split())

# 32-byte hex under these words is a hash, a topic or a storage slot, not a key. A `where` map filters
# columns by value, so everything inside one counts as data too, and so does anything nested deeper.
_HASH_WORDS = frozenset(
    """
    hash hashes topic topics root roots tx txs txn txns transaction transactions block blocks data
    selector selectors signature signatures sig sigs event events log logs slot slots storage digest
    checksum sha256 keccak keccak256 parent uncle uncles nonce mix proof proofs leaf leaves commitment
    receipt receipts state codehash where
    """.split()
)
_HASH_CONTEXT = re.compile(
    r"(?i)\b(?:hash|tx|txn|transaction|block|topic|root|selector|event|log|digest|sha-?256|keccak)"
)
_KEY_CONTEXT = re.compile(r"(?i)key|priv|secret|seed|wallet|mnemonic")

# Short strings of these characters can hold none of the shapes below (an AWS key id is 20 long).
_PLAIN = re.compile(r"[A-Za-z0-9_:+-]{0,19}")
_URL = re.compile(
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
# Hashes, ids and addresses: 0x-prefixed (EIP-55 mixes case) or hex of one case.
_HEXISH = re.compile(r"0[xX][0-9a-fA-F]*|[0-9a-f]*|[0-9A-F]*")
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_PIECE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_PEM = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_PEM_BLOCK = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*-----|\Z)", re.S)
_JWT = re.compile(r"(?<![\w-])(eyJ[A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]{4,})\.([A-Za-z0-9_-]*)")
_AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")
_AWS_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_BEARER = re.compile(r"\b(Bearer|Token)\s+([A-Za-z0-9._~+/-]{12,}=*)", re.I)
_BASIC = re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])", re.I)
_HEX32 = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_TOKEN = re.compile(r"[A-Za-z0-9_/+=-]{24,}")
_WORD = re.compile(r"\S+")
# IPFS content ids (subgraph deployments) are public addresses, however random they look.
_CID = re.compile(r"Qm[1-9A-HJ-NP-Za-km-z]{44}|baf[a-z2-7]{50,}")
_SEPARATORS = re.compile(r"[_=.~-]+")
_MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)


@dataclass(frozen=True)
class _Finding:
    rule: str
    message: str
    hint: str
    line: int = 0


@dataclass(frozen=True)
class _Url:
    """A URL, or a bare provider host with what follows it (scheme empty)."""

    start: int
    scheme: str
    userinfo: str | None
    host: str
    port: str | None
    path: str
    query: str | None


def mask(secret: str) -> str:
    """At most the first and last two characters: 'sk…9f'; secrets shorter than 8 chars become '…'."""
    return f"{secret[:2]}…{secret[-2:]}" if len(secret) >= 8 else "…"


def line_offset(value: str, fragment_start: int) -> int:
    """How many newlines of `value` come before `fragment_start`."""
    return value.count("\n", 0, fragment_start)


def scan(value: Any, path: Path_ = ()) -> list[Problem]:
    """Every secret-shaped key or value inside a plain YAML-loaded value (dict/list/str/int/float/bool/None)."""
    problems: list[Problem] = []
    _walk(value, tuple(path), False, problems)
    return problems


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text (an error message, Cryo's stderr, a log line) with every known secret and every URL credential removed.

    Each given secret goes, and so do its parts when it is a URL (user info, key-like path segments,
    query values), wherever they appear. Then, in any URL, user info, key-like path segments and query
    values go; and so do Bearer/Basic credentials, JWTs, AWS access key ids and PEM private keys.
    """
    for fragment, whole_word in _fragments(tuple(secrets)):
        text = whole_word.sub(REDACTED, text) if whole_word else text.replace(fragment, REDACTED)
    # Each pass only where its shape can be, since every log record comes through here.
    if "://" in text:
        text = _URL.sub(_redact_url, text)
    if "-----BEGIN" in text:
        text = _PEM_BLOCK.sub(REDACTED, text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if any(prefix in text for prefix in _AWS_PREFIXES):
        text = _AWS_ID.sub(REDACTED, text)
    if _may_hold_scheme_credential(text):
        for pattern in (_BEARER, _BASIC):
            text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}" if _scheme_credential(m) else m.group(), text)
    return text


# --- the walk ----------------------------------------------------------------------------------------


def _walk(value: Any, path: Path_, hashy: bool, out: list[Problem]) -> None:
    if isinstance(value, str):
        finding = _inspect(value, hashy)
        if finding:
            out.append(_problem(finding, path, at_key=False))
    elif isinstance(value, dict):
        for key, item in value.items():
            _entry(key, item, path, hashy, out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, path + (index,), hashy, out)
    elif isinstance(value, int) and not hashy and 224 < value.bit_length() <= 256 and _key_shaped(f"{value:064x}"):
        # YAML reads an unquoted 0x… as an integer: a private key written bare arrives here.
        shape = "32-byte integer (an unquoted hex value) outside a hash field, shaped like a private key"
        out.append(Problem("secret.private-key", f"{shape}: {mask(hex(value))}", path, _HASH_HINT))


def _entry(key: Any, item: Any, path: Path_, hashy: bool, out: list[Problem]) -> None:
    child = path + (key if isinstance(key, (str, int)) else str(key),)
    if isinstance(key, str):
        kind, holds_hashes, finding = _key_facts(key)
        if kind and _has_value(item) and not (kind == "token" and _is_addresses(item)):
            out.append(_key_problem(key, item, child, kind))
            return
        if finding:
            out.append(_problem(finding, child, at_key=True))
        hashy = hashy or holds_hashes
    _walk(item, child, hashy, out)


def _problem(finding: _Finding, path: Path_, at_key: bool) -> Problem:
    return Problem(finding.rule, finding.message, path, finding.hint, at_key=at_key, line_offset=finding.line)


def _key_problem(key: str, item: Any, path: Path_, kind: str) -> Problem:
    if isinstance(item, dict):
        shown = "a mapping"
    elif isinstance(item, (list, tuple)):
        shown = "a list"
    else:
        shown = mask(str(item))
    name = _one_line(key)
    message = f'key "{name}" names a secret and holds a value ({shown})'
    return Problem("secret.key-name", message, path, _POOL_HINT if kind == "rpc" else _REMOVE_HINT, at_key=True)


@lru_cache(maxsize=4096)
def _key_facts(key: str) -> tuple[str | None, bool, _Finding | None]:
    """What a mapping key says (cached: the same keys recur in every job): secret kind, hash field, own shape."""
    words = [w.lower() for w in _NAME_PIECE.findall(key)]
    # A mapping key is a name or an id (a tx hash keying a map), never a private key.
    return _secret_kind(words), any(w in _HASH_WORDS for w in words), _inspect(key, True)


def _secret_kind(words: list[str]) -> str | None:
    """'rpc' for an endpoint key, 'token' for a key whose head noun is token, 'secret' for other secrets."""
    end = len(words)
    while end and (words[end - 1].isdigit() or words[end - 1] in _TRAILING):
        end -= 1
    if not end:
        return None
    head, before = words[end - 1], words[end - 2] if end > 1 else ""
    if before == "rpc" and head in _RPC_TAILS:
        return "rpc"
    if head == "token":
        return "token"
    if (
        head in _SECRET_WORDS
        or (head in ("key", "keys") and before in _KEY_QUALIFIERS)
        or (head == "phrase" and before in _PHRASE_QUALIFIERS)
    ):
        return "secret"
    return None


def _has_value(item: Any) -> bool:
    if item is None or isinstance(item, bool):
        return False
    if isinstance(item, str):
        return item.strip().lower() not in _EMPTY
    if isinstance(item, (dict, list, tuple)):
        return len(item) > 0
    return True


def _is_addresses(item: Any) -> bool:
    """A token's contract address (or a list of them) under a `*_token` key is data, not a credential."""
    if isinstance(item, (list, tuple)):
        return bool(item) and all(_is_addresses(i) for i in item)
    if isinstance(item, int) and not isinstance(item, bool):
        return item.bit_length() <= 160  # an unquoted 0x address
    return isinstance(item, str) and _ADDRESS.fullmatch(item.strip()) is not None


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 64 else flat[:61] + "..."


# --- one string ----------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _inspect(s: str, hashy: bool) -> _Finding | None:
    """The most telling secret shape in `s`, if any (cached: the same values recur across jobs)."""
    if _PLAIN.fullmatch(s):
        return None
    found = [f for f in (detect(s, hashy) for detect in _DETECTORS) if f]
    return min(found, key=lambda f: _RANK[f.rule]) if found else None


def _pem(s: str, hashy: bool) -> _Finding | None:
    m = _PEM.search(s) if "-----BEGIN" in s else None
    if not m:
        return None
    kind = m.group(1).strip() or "PKCS#8"
    return _Finding("secret.pem", f"PEM private key block ({kind}) in a value", _REMOVE_HINT, line_offset(s, m.start()))


def _jwt(s: str, hashy: bool) -> _Finding | None:
    if "eyJ" not in s:
        return None
    for m in _JWT.finditer(s):
        alg = _jwt_alg(m.group(1))
        if alg is not None:
            message = f"JWT in a value (alg {_one_line(alg)[:16]}): {mask(m.group())}"
            return _Finding("secret.jwt", message, _REMOVE_HINT, line_offset(s, m.start()))
    return None


def _jwt_alg(header: str) -> str | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return None
    return str(decoded["alg"]) if isinstance(decoded, dict) and "alg" in decoded else None


def _aws_key_id(s: str, hashy: bool) -> _Finding | None:
    m = _AWS_ID.search(s) if len(s) >= 20 and any(p in s for p in _AWS_PREFIXES) else None
    if not m:
        return None
    message = f"AWS access key id in a value: {mask(m.group())}"
    return _Finding("secret.aws-key", message, _AWS_HINT, line_offset(s, m.start()))


def _bearer(s: str, hashy: bool) -> _Finding | None:
    if not _may_hold_scheme_credential(s):
        return None
    for m in (*_BEARER.finditer(s), *_BASIC.finditer(s)):
        if _scheme_credential(m):
            message = f"{m.group(1)} credential in a value: {m.group(1)} {mask(m.group(2))}"
            return _Finding("secret.bearer", message, _REMOVE_HINT, line_offset(s, m.start()))
    return None


def _may_hold_scheme_credential(s: str) -> bool:
    lowered = s.lower()
    return "bearer" in lowered or "token" in lowered or "basic" in lowered


def _scheme_credential(m: re.Match[str]) -> bool:
    """Bearer: letters and digits, no hex id ("token 0x…", "token <uuid>" in prose). Basic: base64 `user:password`."""
    token = m.group(2)
    if m.group(1).lower() != "basic":
        has_both = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
        return has_both and not _HEXISH.fullmatch(token.replace("-", ""))
    try:
        decoded = base64.b64decode(token, validate=True).decode("ascii")
    except (ValueError, binascii.Error):
        return False
    return ":" in decoded and decoded.isprintable()


def _urls(s: str, hashy: bool) -> _Finding | None:
    """The most telling URL problem: credentials, then a provider host, then a URL at all."""
    if "." not in s and "://" not in s:
        return None
    best: _Finding | None = None
    for url in _find_urls(s):
        finding = _url_finding(url, s)
        if finding and (best is None or _RANK[finding.rule] < _RANK[best.rule]):
            best = finding
    return best


def _find_urls(s: str) -> list[_Url]:
    matches = list(_URL.finditer(s)) if "://" in s else []
    urls = [_url(m) for m in matches]
    for m in _BARE_HOST.finditer(s):
        inside = any(u.start() <= m.start() < u.end() for u in matches)
        if not inside and _is_provider(m.group("host")):
            urls.append(_url(m))
    return urls


def _url(m: re.Match[str]) -> _Url:
    """From a `_URL` match, or a `_BARE_HOST` one (no scheme, no user info)."""
    g = m.groupdict()
    return _Url(m.start(), g.get("scheme") or "", g.get("userinfo"), g["host"], g["port"], g["path"] or "", g["query"])


def _url_finding(url: _Url, s: str) -> _Finding | None:
    line = line_offset(s, url.start)
    shown = _display(url)
    if url.userinfo and _userinfo_secret(url.userinfo):
        return _Finding("secret.url-credentials", f"URL with credentials in its user info: {shown}", _POOL_HINT, line)
    if _path_keys(url):
        return _Finding("secret.url-credentials", f"URL with an API key in its path: {shown}", _POOL_HINT, line)
    names = [name for name, value in _query_pairs(url.query) if _query_secret(name, value)]
    if names:
        message = f"URL with a credential in its query ({_one_line(names[0])[:32]}): {shown}"
        return _Finding("secret.url-credentials", message, _POOL_HINT, line)
    if _is_provider(url.host):
        return _Finding("secret.provider-host", f"RPC provider host in a value: {url.host}", _POOL_HINT, line)
    if not url.scheme:
        return None
    rpc_like = url.scheme.lower() in ("http", "https", "ws", "wss")
    message = f"URL in a value: {url.scheme}://{_host_port(url)}{'/…' if url.path.strip('/') or url.query else ''}"
    return _Finding("secret.url", message, _RPC_URL_HINT if rpc_like else _STORE_URL_HINT, line)


def _display(url: _Url) -> str:
    """The URL with every credential masked (query values always)."""
    head = f"{url.scheme}://" if url.scheme else ""
    if url.userinfo is not None:
        head += ":".join(mask(part) for part in url.userinfo.split(":", 1)) + "@"
    keys = set(_path_keys(url))
    path = "/".join(mask(seg) if seg in keys else seg for seg in url.path.split("/"))
    query = "&".join(f"{name}={mask(value)}" if value else name for name, value in _query_pairs(url.query))
    return f"{head}{_host_port(url)}{path}{'?' + query if query else ''}"


def _host_port(url: _Url) -> str:
    return url.host + (f":{url.port}" if url.port else "")


def _is_provider(host: str) -> bool:
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in _PROVIDERS for i in range(len(labels) - 1))


def _userinfo_secret(userinfo: str) -> bool:
    user, _, password = userinfo.partition(":")
    return bool(password) or _keylike_segment(user, strong=False)


def _path_keys(url: _Url) -> list[str]:
    """Path segments that carry a key: after a version segment (/v2/<key>), any on a provider, or random-looking."""
    strong_host = _is_provider(url.host)
    keys, previous = [], ""
    for segment in url.path.split("/"):
        if segment and _keylike_segment(segment, strong_host or bool(_VERSION.fullmatch(previous))):
            keys.append(segment)
        previous = segment
    return keys


def _keylike_segment(segment: str, strong: bool) -> bool:
    if not _SEGMENT.fullmatch(segment) or segment[:2] in ("0x", "0X"):  # 0x…: a hash or address
        return False
    if strong and len(segment) > 6:  # after /v2/ or on a provider: hex, digits or mixed case make a key
        return (
            _HEXISH.fullmatch(segment) is not None
            or any(c.isdigit() for c in segment)
            or (not segment.islower() and not segment.isupper())
        )
    # Elsewhere hex is an id (a commit in a permalink, a hash); a key is random-looking.
    return len(segment) >= 16 and _random_token(segment, 12)


def _query_pairs(query: str | None) -> list[tuple[str, str]]:
    if not query:
        return []
    pairs = (part.partition("=") for part in re.split(r"[&;]", query) if part)
    return [(name, value) for name, _, value in pairs]


def _query_secret(name: str, value: str) -> bool:
    if not value:
        return False
    return bool(_key_facts(name)[0]) or name.lower() in _QUERY_SECRET_NAMES or _keylike_segment(value, False)


def _mnemonic(s: str, hashy: bool) -> _Finding | None:
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
            return _Finding("secret.mnemonic", message, _REMOVE_HINT, line_offset(s, run_start))
        run = 0
    return None


@cache
def _wordlist() -> frozenset[str]:
    """The official English BIP-39 list (2048 words), read on first use only."""
    text = resources.files("trace_operators.secrets").joinpath("bip39_english.txt").read_text("ascii")
    return frozenset(text.split())


def _private_key(s: str, hashy: bool) -> _Finding | None:
    if hashy or len(s) < 64:
        return None
    for m in _HEX32.finditer(s):
        # In a URL path (after "/") it names content by its hash; a provider's key there is a URL credential.
        if not _key_shaped(m.group()[-64:]) or s[m.start() - 1 : m.start()] == "/":
            continue
        before = s[s.rfind("\n", 0, m.start()) + 1 : m.start()][-40:]
        if _HASH_CONTEXT.search(before) and not _KEY_CONTEXT.search(before):
            continue
        message = f"32-byte hex value outside a hash field, shaped like a private key: {mask(m.group())}"
        return _Finding("secret.private-key", message, _HASH_HINT, line_offset(s, m.start()))
    return None


def _key_shaped(digits: str) -> bool:
    """Random enough for a key: zero-padded words (an address in a topic, a small number) and patterns are data."""
    return not digits.startswith("00000000") and _entropy(digits) >= 3.0


def _high_entropy(s: str, hashy: bool) -> _Finding | None:
    """Long random tokens; one of exactly 40 base64 characters is reported as an AWS secret access key."""
    if len(s) < 24:
        return None
    for m in _TOKEN.finditer(s):
        token, offset = m.group(), m.start()
        if _AWS_SECRET.fullmatch(token) and not token.islower() and not token.isupper() and _random_looking(token):
            message = f"40-character high-entropy string, shaped like an AWS secret access key: {mask(token)}"
            return _Finding("secret.aws-key", message, _AWS_HINT, line_offset(s, offset))
        for part in token.split("/"):
            if len(part) >= 24 and _random_token(part, 20):
                message = f"high-entropy string ({len(part)} characters), shaped like a key or token: {mask(part)}"
                return _Finding("secret.high-entropy", message, _REMOVE_HINT, line_offset(s, offset))
            offset += len(part) + 1
    return None


def _random_token(token: str, min_core: int) -> bool:
    """Hex and digit parts (hashes, addresses, UUIDs, versions) are ids: what is left must be long and random."""
    core = "".join(p for p in _SEPARATORS.split(token) if not _HEXISH.fullmatch(p))
    return len(core) >= min_core and not _CID.fullmatch(token) and _random_looking(core)


def _random_looking(token: str) -> bool:
    """Random rather than made of words: short letter/digit runs and a high, length-scaled entropy."""
    pieces = _PIECE.findall(token)
    if not pieces or sum(map(len, pieces)) / len(pieces) >= 3.2:  # words, camelCase, slugs
        return False
    return _entropy(token) >= 3.3 + 0.025 * (min(len(token), 64) - 16)


def _entropy(token: str) -> float:
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


_DETECTORS = (_pem, _jwt, _aws_key_id, _bearer, _urls, _mnemonic, _private_key, _high_entropy)


# --- redaction -------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _fragments(secrets: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
    """What to remove, longest first, with a whole-word pattern for the short ones (so text around them survives).

    Each secret, and for a URL each part that is a credential on its own. A user name or a query value
    such as `network=ethereum` is none: it goes only inside URLs.
    """
    parts = set()
    for secret in filter(None, secrets):
        parts.add(secret)
        for m in _URL.finditer(secret):
            url = _url(m)
            if url.userinfo:
                parts.update((url.userinfo, url.userinfo.partition(":")[2]))
            parts.update(seg for seg in url.path.split("/") if _keylike_segment(seg, strong=True))
            parts.update(value for name, value in _query_pairs(url.query) if _query_secret(name, value))
    ordered = sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)
    return tuple((p, None if len(p) >= 8 else _whole_word(p)) for p in ordered)


def _whole_word(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(text)}(?![A-Za-z0-9_])")


def _redact_url(m: re.Match[str]) -> str:
    url = _url(m)
    keys = set(_path_keys(url))
    # In a log, a long hex segment goes too: it may be a key as well as an id.
    keys.update(seg for seg in url.path.split("/") if len(seg) >= 16 and _HEXISH.fullmatch(seg) and seg[:2] != "0x")
    text = f"{url.scheme}://" + (f"{REDACTED}@" if url.userinfo is not None else "") + _host_port(url)
    text += "/".join(REDACTED if seg in keys else seg for seg in url.path.split("/"))
    if url.query is not None:
        text += "?" + _redact_pairs(url.query)
    fragment = m.group("fragment")
    if fragment is not None:  # an OAuth fragment carries `access_token=…`
        text += "#" + (_redact_pairs(fragment) if "=" in fragment else fragment)
    return text


def _redact_pairs(query: str) -> str:
    return "&".join(f"{name}={REDACTED}" if value else name for name, value in _query_pairs(query))
