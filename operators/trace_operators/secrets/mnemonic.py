"""BIP-39 mnemonics: 12 to 24 words of the English list whose last bits are a SHA-256 checksum of the rest.

The checksum is what tells a mnemonic from prose that happens to use the list's words: a sentence passes it
by chance once in 16 (12 words) to once in 256 (24 words).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources

LENGTHS = (12, 15, 18, 21, 24)
STRIP = ".,;:'\"()[]"
_SLACK = 2


@cache
def word_index() -> dict[str, int]:
    """The official English BIP-39 list (2048 words) with each word's index, read on first use only."""
    text = resources.files("trace_operators.secrets").joinpath("bip39_english.txt").read_text("ascii")
    return {word: i for i, word in enumerate(text.split())}


def is_mnemonic(words: Sequence[str]) -> bool:
    """Whether `words` (lower case) are a whole BIP-39 mnemonic, checksum included."""
    index = word_index()
    if len(words) not in LENGTHS or not all(w in index for w in words):
        return False
    number = 0
    for word in words:
        number = number << 11 | index[word]
    checksum_bits = len(words) * 11 // 33
    entropy = (number >> checksum_bits).to_bytes(len(words) * 11 * 32 // 33 // 8, "big")
    return hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits) == number & ((1 << checksum_bits) - 1)


def find_mnemonics(tokens: Sequence[tuple[int, int, str]]) -> Iterator[tuple[int, int]]:
    """The (first, last) token indices of each mnemonic among whitespace-separated `tokens` (start, end, text).

    A run of list words is a mnemonic whole, or holds one near an end (label words such as "seed" before it,
    a word after it): windows starting or ending within _SLACK words of the run's ends, a bounded number of
    checks per run, keep this linear and keep prose runs from passing the checksum by chance.
    """
    index = word_index()
    run: list[int] = []
    for i, (_, _, text) in enumerate([*tokens, (0, 0, ".")]):  # the sentinel ends the last run
        if text.strip(STRIP).lower() in index:
            run.append(i)
            continue
        if len(run) >= LENGTHS[0]:
            yield from _windows(tokens, run[0], run[-1] + 1)
        run = []


def _windows(tokens: Sequence[tuple[int, int, str]], first: int, end: int) -> Iterator[tuple[int, int]]:
    for n in reversed(LENGTHS):
        starts = [*range(first, first + _SLACK + 1), *range(end - n - _SLACK, end - n + 1)]
        for start in dict.fromkeys(starts):
            if start >= first and start + n <= end:
                words = [tokens[i][2].strip(STRIP).lower() for i in range(start, start + n)]
                if is_mnemonic(words):
                    yield start, start + n - 1
                    return
