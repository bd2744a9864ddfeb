"""Cutting one big DAG file between its job blocks, so that several processes can check it at once.

Each piece is the whole file with the job blocks of the other pieces blanked out and their line breaks kept: a DAG
of its own, with the file's head (anchors, defaults) and tail, at the file's line numbers. A cut is trusted only
when its piece proves it: the piece must load, and its job blocks must start exactly where the cut says they do (a
line that looks like a job block but lies inside a quoted string fails that, and so does its piece). Anchors may
sit only outside the job list, where every piece has them: the same name in two pieces would be one file's
duplicate. Whether aliases expand the file too far is the whole file's question: the pieces' node counts, less the
frame's they all share, answer it.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

#: Below this many characters a file is checked in one process: forking and merging would cost more than they save.
SPLIT_FROM = 2_000_000

# Line breaks other than "\n" (blanking must keep every line number libyaml counts), document markers and
# directives: any of them, and the file is not cut. The patterns start at a "\n", not at `^`: the regex engine
# then jumps from line break to line break instead of trying every character of a 20 MB text.
_OTHER_BREAKS = "\r\x85\u2028\u2029"
_MARKERS = re.compile(r"\n(?:---|\.\.\.|%)")
# A top-level `jobs:` whose first entry (after blank and comment lines) is a block list item.
_JOBS = re.compile(r"\njobs:[ \t]*(?:#.*)?\n(?:[ \t]*(?:#.*)?\n)*( *)- ")


@dataclass(frozen=True)
class Piece:
    """Part of a file's job list, inside the rest of the file."""

    text: str
    #: Where each of its job blocks starts, 1-based (line, column), in file order: what its loaded jobs must match.
    starts: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Cut:
    """A file's pieces, and its frame: the file with every job block blanked, what each piece holds besides its own."""

    pieces: list[Piece]
    frame: str


def cut(text: str, count: int) -> Cut | None:
    """At most `count` pieces of a DAG whose `jobs:` is a block list, about equal in size; None if it cannot be cut."""
    lined = "\n" + text  # every line, the first too, starts after a "\n"; offsets into it are one past the text's
    found = _JOBS.search(lined)
    if found is None or _MARKERS.search(lined) or any(c in text for c in _OTHER_BREAKS):
        return None
    indent = len(found.group(1))
    first = found.start(1) - 1
    # The job list ends at the first line written left of its items, or level with them but not an item.
    tail = re.compile(rf"\n(?! {{{indent}}}-[ \n])(?= {{0,{indent}}}[^ \n#])").search(lined, first)
    end = tail.start() if tail else len(text)
    if text.find("&", first, end) >= 0:  # an anchor in one piece and the same name in another: one file's error
        return None
    starts = [m.start() for m in re.compile(rf"\n {{{indent}}}- ").finditer(lined, first, end)]
    bounds = sorted({bisect.bisect_left(starts, first + k * (end - first) // count) for k in range(1, count)} - {0})
    bounds = [0, *(b for b in bounds if b < len(starts)), len(starts)]
    if len(bounds) < 3:
        return None
    offsets = [*starts, end]  # `first` is the first item's offset
    lines = _lines_of(text, offsets)
    pieces = [
        # Each job block's mapping starts after its indent and the `- `: 1-based, indent + 3.
        Piece(_blanked(text, offsets, lines, lo, hi), tuple((line, indent + 3) for line in lines[lo:hi]))
        for lo, hi in itertools.pairwise(bounds)
    ]
    return Cut(pieces, _blanked(text, offsets, lines, len(starts), len(starts)))


def _lines_of(text: str, offsets: list[int]) -> list[int]:
    """The 1-based line of each of the ascending `offsets`, in one pass over the text."""
    lines, line, at = [], 1, 0
    for offset in offsets:
        line += text.count("\n", at, offset)
        lines.append(line)
        at = offset
    return lines


def _blanked(text: str, offsets: list[int], lines: list[int], lo: int, hi: int) -> str:
    """The text with its job list (`offsets[0]` to `offsets[-1]`, the items' lines `lines`) blanked, except the
    items `lo` to `hi`; every line break kept, counted from the lines rather than again from the text."""
    first, end = offsets[0], offsets[-1]
    kept = text[offsets[lo] : offsets[hi]]
    return "".join((text[:first], "\n" * (lines[lo] - lines[0]), kept, "\n" * (lines[-1] - lines[hi]), text[end:]))
