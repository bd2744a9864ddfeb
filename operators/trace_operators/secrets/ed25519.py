"""Ed25519 public keys from seeds (RFC 8032): a Solana keypair is a seed followed by its own public key."""

from __future__ import annotations

import hashlib
from functools import lru_cache

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def _add(p: _Point, q: _Point) -> _Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _base() -> _Point:
    y = 4 * pow(5, _P - 2, _P) % _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    x = _P - x if x & 1 else x
    return x, y, 1, x * y % _P


_BASE = _base()


@lru_cache(maxsize=256)
def public_key(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte private seed."""
    scalar = int.from_bytes(hashlib.sha512(seed).digest()[:32], "little")
    scalar = (scalar & ((1 << 254) - 8)) | (1 << 254)
    point, addend = (0, 1, 1, 0), _BASE
    while scalar:
        if scalar & 1:
            point = _add(point, addend)
        addend = _add(addend, addend)
        scalar >>= 1
    z = pow(point[2], _P - 2, _P)
    x, y = point[0] * z % _P, point[1] * z % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def is_keypair(data: bytes) -> bool:
    """Whether 64 bytes are a seed and its public key (a signature, also 64 bytes, is not)."""
    return len(data) == 64 and public_key(bytes(data[:32])) == bytes(data[32:])
