"""Base58 and bech32, the encodings of chain addresses, signatures and keys, with their checksums."""

from __future__ import annotations

import hashlib
import re

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BASE58 = re.compile(f"[{BASE58_ALPHABET}]+")
_BASE58_INDEX = {c: i for i, c in enumerate(BASE58_ALPHABET)}
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32 = re.compile(f"([a-z0-9]{{1,83}})1([{_BECH32_CHARSET}]{{6,}})")
_BECH32_CONSTANTS = (1, 0x2BC830A3)  # bech32 (BIP-173) and bech32m (BIP-350)


def base58_decode(text: str) -> bytes | None:
    """The bytes `text` encodes, or None if it is not base58 (or too long to be a key or an address)."""
    if len(text) > 120 or not BASE58.fullmatch(text):
        return None
    number = 0
    for c in text:
        number = number * 58 + _BASE58_INDEX[c]
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def base58check_payload(text: str) -> bytes | None:
    """The payload of a base58check string (version byte first), or None when the checksum fails."""
    data = base58_decode(text)
    if data is None or len(data) < 5:
        return None
    payload, checksum = data[:-4], data[-4:]
    return payload if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum else None


def is_bech32(text: str) -> bool:
    """Whether `text` is a valid bech32 or bech32m string (bc1…, tb1…, cosmos1…), of one case."""
    if len(text) > 90 or (text != text.lower() and text != text.upper()):
        return False
    m = _BECH32.fullmatch(text.lower())
    if not m:
        return False
    hrp, data = m.group(1), [_BECH32_CHARSET.index(c) for c in m.group(2)]
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            checksum ^= generator if (top >> i) & 1 else 0
    return checksum in _BECH32_CONSTANTS
