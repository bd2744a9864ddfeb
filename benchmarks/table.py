"""The result table: one row a figure, with its baseline, their ratio and the target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One figure against its baseline. `met` is None where the row has no target."""

    row: str
    figure: str
    baseline: str
    ratio: str
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        met = {True: "yes", False: "NO", None: "-"}[self.met]
        return [self.row, self.figure, self.baseline, self.ratio, self.target, met]


HEADER = ["row", "figure", "baseline", "ratio", "target", "met?"]


def render(rows: Sequence[Row]) -> str:
    """A Markdown table, readable as it is in a terminal and pasteable into the README."""
    lines = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join(
        [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r.cells()) for r in rows)]
    )
