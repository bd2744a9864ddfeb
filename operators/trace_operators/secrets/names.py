"""Key-name rules: which mapping keys name a secret or a hash field, and when the value under a secret's name counts."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

# Name pieces: "privateKey" -> private, Key; "API_KEY" -> API, KEY; "topic0" -> topic, 0.
_NAME_PIECE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# A key says secret by its head noun (its last word): `auth_token` does, `token_address`, `auth_mode`,
# `max_tokens` and `secret_name` do not. Plural `secrets` is the platform's list of secret *names*.
_SECRET_WORDS = frozenset(
    """
    password passwords passwd passphrase secret token apikey apikeys auth authorization credential
    credentials bearer mnemonic mnemonics privkey privatekey secretkey accesskey jwt cookie keypair keypairs
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

# 32-byte hex under these words is a hash, a topic or a storage slot, not a key. A `where` map filters
# columns by value, so everything inside one counts as data too, and so does anything nested deeper.
_HASH_WORDS = frozenset(
    """
    hash hashes topic topics root roots tx txs txn txns transaction transactions block blocks data
    selector selectors signature signatures sig sigs event events log logs slot slots storage digest
    checksum sha256 keccak keccak256 parent uncle uncles nonce mix proof proofs leaf leaves commitment
    receipt receipts state codehash where etag md5 sha sha1 sha224 sha256 sha384 sha512 sha3 blake2b blake3
    fingerprint integrity multihash cid
    """.split()
)
# A name that abbreviates a key holds none of those, even inside a `where` filter (whose keys are column names,
# and no column is called `pk`): its value is checked as any other.
_KEYISH_WORDS = frozenset("k pk sk priv prv privkey signer wallet seed keypair".split())
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")


def key_words(key: str) -> list[str]:
    """The key's name pieces, lower-cased."""
    return [w.lower() for w in _NAME_PIECE.findall(key)]


def secret_kind(words: list[str]) -> str | None:
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


def hash_field(words: list[str]) -> bool:
    """Whether a key with these words holds hashes (and so everything under it is data); adjacent pieces count
    joined too, as `sha256` splits into sha, 256 and `ETag` into e, tag."""
    return any(w in _HASH_WORDS for w in words) or any(a + b in _HASH_WORDS for a, b in pairwise(words))


def keyish(words: list[str]) -> bool:
    """Whether a key's name abbreviates a private key (`k`, `pk`, `signer_key`) and names no hash."""
    return any(w in _KEYISH_WORDS for w in words) and not hash_field(words)


def pool_name(words: list[str]) -> bool:
    """Whether a key names an RPC pool (`rpc_pool`, `pool`): its value is a name people chose, never a key."""
    return bool(words) and words[-1] == "pool"


def has_value(item: Any) -> bool:
    """Whether a secret's key holds anything: an empty or switched-off value leaks nothing."""
    if item is None or isinstance(item, bool):
        return False
    if isinstance(item, str):
        return item.strip().lower() not in _EMPTY
    if isinstance(item, (dict, list, tuple)):
        return len(item) > 0
    return True


def is_addresses(item: Any) -> bool:
    """A token's contract address (or a list of them) under a `*_token` key is data, not a credential."""
    if isinstance(item, (list, tuple)):
        return bool(item) and all(is_addresses(i) for i in item)
    if isinstance(item, int) and not isinstance(item, bool):
        return item.bit_length() <= 160  # an unquoted 0x address
    return isinstance(item, str) and _ADDRESS.fullmatch(item.strip()) is not None
