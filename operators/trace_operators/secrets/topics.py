"""Event topics: keccak-256 hashes of event signatures, public however random they look."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

from trace_operators.secrets.keccak import keccak256

# The events DAGs filter on most (ERC-20/721/1155, WETH, Uniswap v2/v3/v4, proxies, access control).
_WELL_KNOWN = """
Transfer(address,address,uint256) Approval(address,address,uint256) ApprovalForAll(address,address,bool)
TransferSingle(address,address,address,uint256,uint256) TransferBatch(address,address,address,uint256[],uint256[])
URI(string,uint256) Deposit(address,uint256) Withdrawal(address,uint256)
Swap(address,uint256,uint256,uint256,uint256,address) Sync(uint112,uint112) Mint(address,uint256,uint256)
Burn(address,uint256,uint256,address) PairCreated(address,address,address,uint256)
Swap(address,address,int256,int256,uint160,uint128,int24) Mint(address,address,int24,int24,uint128,uint256,uint256)
Burn(address,int24,int24,uint128,uint256,uint256) Collect(address,address,int24,int24,uint128,uint128)
Initialize(uint160,int24) PoolCreated(address,address,uint24,int24,address)
IncreaseLiquidity(uint256,uint128,uint256,uint256) DecreaseLiquidity(uint256,uint128,uint256,uint256)
Swap(bytes32,address,int128,int128,uint160,uint128,int24,uint24)
OwnershipTransferred(address,address) Upgraded(address) AdminChanged(address,address) BeaconUpgraded(address)
RoleGranted(bytes32,address,address) RoleRevoked(bytes32,address,address) RoleAdminChanged(bytes32,bytes32,bytes32)
Paused(address) Unpaused(address) Initialized(uint8) Initialized(uint64)
DelegateChanged(address,address,address) DelegateVotesChanged(address,uint256,uint256)
TokenExchange(address,int128,uint256,int128,uint256)
"""
# `Name(type,type[],(tuple))`: what a value that names an event looks like.
EVENT_SIGNATURE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\([A-Za-z0-9_,()\[\] ]*\)")


@lru_cache(maxsize=256)
def topic(signature: str) -> str:
    """The topic (64 lower-case hex digits, no 0x) of an event signature."""
    return keccak256("".join(signature.split()).encode()).hex()


@cache
def well_known_topics() -> frozenset[str]:
    """The topics of the well-known events, computed on first use only."""
    return frozenset(topic(signature) for signature in _WELL_KNOWN.split())


def is_topic(hex_digits: str, signatures: Iterable[str] = ()) -> bool:
    """Whether 64 hex digits (0x optional) are a well-known event's topic, or one of `signatures`' topics."""
    digits = hex_digits.lower().removeprefix("0x")
    return digits in well_known_topics() or any(topic(s) == digits for s in signatures)
