"""Whether a token looks random, as a key does, rather than like an id, a hash or words."""

from __future__ import annotations

import math
import re
from collections import Counter

from trace_operators.secrets.chain_ids import public_chain_id

# Hashes, ids and addresses: 0x-prefixed (EIP-55 mixes case) or hex of one case.
HEXISH = re.compile(r"0[xX][0-9a-fA-F]*|[0-9a-f]*|[0-9A-F]*")
_PIECE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
# IPFS content ids (subgraph deployments) are public addresses, however random they look.
_CID = re.compile(r"Qm[1-9A-HJ-NP-Za-km-z]{44}|baf[a-z2-7]{50,}")
_SEPARATORS = re.compile(r"[_=.~-]+")


def key_shaped(digits: str) -> bool:
    """Random enough for a key: zero-padded words (an address in a topic, a small number) and patterns are data."""
    return not digits.startswith("00000000") and _entropy(digits) >= 3.0


def random_token(token: str, min_core: int) -> bool:
    """Hex and digit parts (hashes, addresses, UUIDs, versions) are ids: what is left must be long and random."""
    core = "".join(p for p in _SEPARATORS.split(token) if not HEXISH.fullmatch(p))
    if len(core) < min_core or _CID.fullmatch(token) or not random_looking(core):
        return False
    return not public_chain_id(token)  # last: the decoding costs most, and few tokens get this far


def key_shaped_name(name: str) -> bool:
    """Whether a value meant as a name (a pool's) is a key: 16+ hex digits (an Infura project id, a UUID),
    or random."""
    digits = _SEPARATORS.sub("", name.strip())
    if len(digits) >= 16 and HEXISH.fullmatch(digits) and key_shaped(digits.removeprefix("0x")):
        return True
    return len(name) >= 16 and random_token(name.strip(), 12)


def random_looking(token: str) -> bool:
    """Random rather than made of words: short letter/digit runs and a high, length-scaled entropy."""
    pieces = _PIECE.findall(token)
    if not pieces or sum(map(len, pieces)) / len(pieces) >= 3.2:  # words, camelCase, slugs
        return False
    return _entropy(token) >= 3.3 + 0.025 * (min(len(token), 64) - 16)


def _entropy(token: str) -> float:
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())
