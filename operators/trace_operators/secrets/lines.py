"""Which source line of a multi-line scalar holds its secret, when folding made the value's lines differ."""

from __future__ import annotations

from collections.abc import Sequence

from trace_operators.secrets.detectors import inspect


def secret_line(lines: Sequence[str], rule: str) -> int | None:
    """Index, among a scalar's source lines, of the first line holding a secret of `rule`; None when none does.

    For folded (`>`) and plain or quoted multi-line scalars, whose value joins lines. A token never spans a line
    break (folding happens only at spaces), so one line holds it; a secret of several words (a mnemonic) may
    span lines, and then the line it starts on is the one given.
    """
    for index, line in enumerate(lines):
        finding = inspect(line, False)
        if finding is not None and finding.rule == rule:
            return index
    # Over lines: the first prefix that holds it ends on the secret's last line; then back to its first line.
    if not _holds(lines, 0, len(lines), rule):
        return None
    low, high = 0, len(lines) - 1
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if _holds(lines, 0, middle + 1, rule) else (middle + 1, high)
    last, low = low, 0
    high = last
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if _holds(lines, middle, last + 1, rule) else (low, middle - 1)
    return low


def _holds(lines: Sequence[str], start: int, end: int, rule: str) -> bool:
    finding = inspect(" ".join(line.strip() for line in lines[start:end]), False)
    return finding is not None and finding.rule == rule
