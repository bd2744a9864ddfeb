"""The `#` comments of a YAML text, which PyYAML drops: found between the scanner's tokens, in linear time."""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from yaml.tokens import ScalarToken

_SCANNER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BREAKS = "\r\n\x85\u2028\u2029"
#: A comment starts at a `#` that begins a line or follows a space or tab, and runs to the end of the line.
_COMMENT = re.compile(rf"(?<![^ \t{_BREAKS}])#[^{_BREAKS}]*")
_LINE_START = re.compile(rf"\r\n|[{_BREAKS}]")
#: A block scalar's header, whose comment the scalar's token swallows: `|-  # why`.
_HEADER = re.compile(rf"[|>][0-9+-]*[ \t]+(#[^{_BREAKS}]*)")


@dataclass(frozen=True)
class Comment:
    """One comment: its text after the `#`, and the 1-based line and column of the `#`."""

    line: int
    col: int
    text: str


def find_comments(text: str) -> list[Comment]:
    """Every comment outside quoted and block scalars, in source order; up to a syntax error, if there is one."""
    last = deque(_COMMENT.finditer(text), maxlen=1) if "#" in text else ()
    if not last:  # most files: no token scan at all
        return []
    starts = [0, *(m.end() for m in _LINE_START.finditer(text))]
    return [_comment(m, starts) for m in _matches(text, last[0].start())]


def _matches(text: str, last: int) -> Iterator[re.Match[str]]:
    """The comment matches in the gaps between tokens, where only spaces, breaks and comments can be."""
    at = 0
    try:
        for token in yaml.scan(text, Loader=_SCANNER):
            begin = token.start_mark.index
            if begin > at:
                yield from _COMMENT.finditer(text, at, begin)
            if isinstance(token, ScalarToken) and token.style in ("|", ">"):
                header = _HEADER.match(text, begin)
                if header:
                    yield header
            at = max(at, token.end_mark.index)
            if at > last:  # past the last `#` that could start a comment: the rest of the scan is not needed
                return
    except yaml.YAMLError:
        return  # the loader reports the syntax error; comments before it are found


def _comment(match: re.Match[str], starts: list[int]) -> Comment:
    group = 1 if match.re is _HEADER else 0
    start = match.start(group)
    line = bisect.bisect_right(starts, start) - 1
    return Comment(line + 1, start - starts[line] + 1, match.group(group)[1:])
