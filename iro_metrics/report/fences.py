"""Fenced code in officers' Markdown (CommonMark's rules, as far as commentary needs them): which lines
open a fence, and which are code. A line inside a fence is code, whatever it looks like: a ``## ``
line there is a comment in the code, not a section heading."""

from __future__ import annotations

import re
from collections.abc import Iterator

#: a fence line: its indent (or quote marks), its fence, and what follows (after an opening fence, a
#: language)
FENCE = re.compile(r"^([ \t>]*)(`{3,}|~{3,})(.*)$")


def code_lines(lines: list[str]) -> Iterator[tuple[int, bool]]:
    """For each line of a fenced block, its index and whether it opens the block (the fence lines
    included; a block left open runs to the end)."""
    fence = None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if fence is None:
            if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):  # (a backtick fence's language has none)
                fence = m.group(2)
                yield i, True
            continue
        yield i, False
        if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip():
            fence = None
