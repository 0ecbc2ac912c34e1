"""The PDF's Typst source: pandoc's conversion of the appendix page, with the template and Lua filter
in ``templates/iro/``.

pandoc converts the whole page in about 0.3 s, most of an officer's rebuild once the rest is warm. When a
page differs from the last one converted (in this thread) only in its commentary, only the commentary
is converted again and put in place of the last, in the rest of the page's Typst (its "frame"). That
gives the same text as converting the whole page because each commentary is a top-level ``<div>``
(``index.html.j2``), which pandoc writes as a ``#block[...]`` whatever surrounds it. It is checked
rather than assumed: the frame is kept only once the last page's commentary, put into it, gives
exactly the Typst pandoc wrote for the whole of that page.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

_IRO = Path(__file__).parent / "templates" / "iro"  # the PDF's pandoc template and Lua filter
#: a commentary cell in the page (its sanitised Markdown holds no ``<div>``: ``render.sanitise``)
_COMMENTARY = re.compile(r'<div class="commentary" data-section="[^"]*">.*?</div>', flags=re.S)
_MARK = f"IROHOLD{secrets.token_hex(6)}"  # where a commentary goes in a frame (no page can hold it)
_MARKED = re.compile(rf"#block\[\n{_MARK}(\d+)\n+\]")
_local = threading.local()


@dataclass
class _Last:
    """The last page this thread converted: its frame (the page with its commentary marked), the
    arguments, its commentary and pandoc's Typst for it; then, after the first rebuild, the frame's
    Typst if it proved exact."""

    frame: str
    args: list[str]
    notes: list[str]
    whole: str
    checked: bool = False
    typst_frame: str | None = None


def typst_source(page: str, args: list[str]) -> str:
    """pandoc's Typst for ``page`` (``--standalone`` with the appendix template and ``args``: metadata
    and variables), converting only its commentary when nothing else changed since the last page."""
    notes = _COMMENTARY.findall(page)
    frame = _COMMENTARY.sub("<!--commentary-->", page)
    last = getattr(_local, "last", None)
    if last is None or (last.frame, last.args) != (frame, args):
        whole = _pandoc(page, _document(args))
        _local.last = _Last(frame, args, notes, whole)
        return whole
    if not last.checked:  # the first rebuild: the frame's Typst, checked against the last page's
        last.checked = True
        numbers = itertools.count(1)
        marked = _COMMENTARY.sub(lambda _: f'<div class="commentary"><p>{_MARK}{next(numbers)}</p></div>', page)
        with ThreadPoolExecutor(1) as pool:  # two pandoc processes at once
            framed = pool.submit(_pandoc, marked, _document(args))
            blocks = _blocks(last.notes + notes)
            typst_frame = framed.result()
        if blocks is not None and _splice(typst_frame, blocks[:len(last.notes)]) == last.whole:
            last.typst_frame = typst_frame
            return _splice(typst_frame, blocks[len(last.notes):])
    elif last.typst_frame is not None:
        text = _splice(last.typst_frame, _blocks(notes) or [])
        if text is not None:
            return text
    return _pandoc(page, _document(args))  # this page's frame could not be kept


def _document(args: list[str]) -> list[str]:
    return ["--standalone", f"--template={_IRO / 'appendix.typst'}", *_block_args(), *args]


def _block_args() -> list[str]:
    """What shapes each block's Typst: the Lua filter and the line length."""
    return ["--lua-filter", str(_IRO / "figures.lua"), "--columns=100"]


def _pandoc(html: str, args: list[str]) -> str:
    import pypandoc

    return pypandoc.convert_text(html, "typst", format="html", extra_args=args)


def _blocks(notes: list[str]) -> list[str] | None:
    """Each commentary ``<div>``'s Typst, converted together in one pandoc run (None if they do not
    come apart as they went in)."""
    if not notes:
        return []
    split = f"IROSPLIT{secrets.token_hex(6)}"
    blocks = [b.strip("\n") for b in _pandoc(f"<p>{split}</p>".join(notes), _block_args()).split(split)]
    return blocks if len(blocks) == len(notes) and all(b.startswith("#block[") for b in blocks) else None


def _splice(typst_frame: str, blocks: list[str]) -> str | None:
    """The frame with its n-th marked ``#block`` replaced by ``blocks[n - 1]`` (None unless the frame
    holds each mark once, in order, in a block of its own)."""
    if [int(n) for n in _MARKED.findall(typst_frame)] != list(range(1, len(blocks) + 1)):
        return None
    return _MARKED.sub(lambda m: blocks[int(m.group(1)) - 1], typst_frame)
