"""Ethereum's 2048-bit logs bloom: the three bits a log's address or topic sets in its block's bloom."""

from __future__ import annotations

from functools import lru_cache

from trace_operators.contract import FatalError

try:
    from Crypto.Hash import keccak  # hashlib's sha3_256 is not Keccak: the padding differs
except ImportError:
    raise FatalError("the cryo extractor's checks need pycryptodome: pip install 'cryo-ingest[cryo]'") from None


# Addresses and topics repeat a lot (a token, an event signature): each is hashed once.
@lru_cache(maxsize=1 << 16)
def bloom_mask(value: bytes) -> int:
    """The bits `value` sets, as a mask over the bloom read as a big-endian integer.

    keccak256 of the raw bytes; each of the byte pairs (0, 1), (2, 3), (4, 5), mod 2048, is a bit index.
    """
    digest = keccak.new(data=value, digest_bits=256).digest()
    mask = 0
    for i in (0, 2, 4):
        mask |= 1 << (int.from_bytes(digest[i : i + 2], "big") & 2047)
    return mask


def in_bloom(bloom: int, value: bytes) -> bool:
    """Whether every bit `value` sets is set in `bloom` (true for every value a block's logs hold)."""
    mask = bloom_mask(value)
    return bloom & mask == mask
