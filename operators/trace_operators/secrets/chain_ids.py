"""Chain ids that look random: addresses and signatures are public; keypairs, WIF and extended private keys are not."""

from __future__ import annotations

from functools import lru_cache

from trace_operators.secrets.ed25519 import is_keypair
from trace_operators.secrets.encodings import base58_decode, base58check_payload, is_bech32

# Base58check versions of private keys: WIF (mainnet, testnet) and BIP-32 extended private keys.
_WIF_VERSIONS = (0x80, 0xEF)
_XPRV_PREFIXES = ("xprv", "tprv", "yprv", "zprv", "uprv", "vprv", "Yprv", "Zprv")


@lru_cache(maxsize=1024)
def private_chain_key(token: str) -> str | None:
    """What private key `token` is in a chain's own encoding ('Solana keypair', 'WIF', …), or None."""
    if 86 <= len(token) <= 88:
        data = base58_decode(token)
        return "Solana keypair (base58, 64 bytes)" if data is not None and is_keypair(data) else None
    if 50 <= len(token) <= 52 or token.startswith(_XPRV_PREFIXES):
        payload = base58check_payload(token)
        if payload is None:
            return None
        if payload[0] in _WIF_VERSIONS and len(payload) in (33, 34):
            return "WIF private key (base58check)"
        if token.startswith(_XPRV_PREFIXES) and len(payload) == 78:
            return "BIP-32 extended private key"
    return None


@lru_cache(maxsize=4096)
def public_chain_id(token: str) -> bool:
    """Whether `token` is an address or a signature: checksummed (base58check, bech32), or base58 of 32 bytes
    (a Solana address) or of 64 bytes that are no keypair (a Solana transaction signature)."""
    if is_bech32(token):
        return True
    if private_chain_key(token):
        return False
    if base58check_payload(token) is not None:
        return True
    data = base58_decode(token)
    if data is None:
        return False
    return (32 <= len(token) <= 44 and len(data) == 32) or (86 <= len(token) <= 88 and len(data) == 64)


def byte_list_keypair(items: list[object]) -> bool:
    """Whether a list is 64 integers 0–255 holding a seed and its public key (solana-keygen's JSON file)."""
    if len(items) != 64 or not all(type(i) is int and 0 <= i <= 255 for i in items):
        return False
    return is_keypair(bytes(items))  # type: ignore[arg-type]
