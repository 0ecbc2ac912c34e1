"""The PDF's Typst source: pandoc's conversion of the appendix page, with the template and Lua filter
in ``templates/iro/``.

pandoc converts the whole page in about 0.3 s, most of an officer's rebuild once the rest is warm. When a
page differs from the last one converted (in this thread) only in its commentary, only the commentary
is converted again and put in place of the last, in the rest of the page's Typst (its "frame"). Each
commentary is a top-level ``<div>`` (``index.html.j2``), which pandoc writes as a ``#block[...]``
that does not depend on what surrounds it, with one exception: a heading, whose label pandoc makes
unique across the whole page (a second "Summary" becomes ``<summary-1>``, and a later page heading
of the same name is renumbered in turn). So a page whose commentary has a heading is always converted
whole. The rest is checked rather than assumed: the frame is used only once the last page's
commentary, put into it, has given exactly the Typst pandoc wrote for the whole of that page. The
check runs on the first rebuild, or, in a thread that expects edits (``frame.expecting_edits``:
``build --watch``), in the background as soon as the page is converted, so that the officer's first
save finds the frame proven.
"""

from __future__ import annotations

import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from iro_metrics.report.frame import eager, has_heading, marked, split

_IRO = Path(__file__).parent / "templates" / "iro"  # the PDF's pandoc template and Lua filter
_MARK = f"IROHOLD{secrets.token_hex(6)}"  # where a commentary goes in a frame (no page can hold it)
_MARKED = re.compile(rf"#block\[\n{_MARK}(\d+)\n+\]")
_local = threading.local()


@dataclass
class _Last:
    """The last page this thread converted whole: its frame (the page with its commentary marked), the
    arguments, its commentary and pandoc's Typst for it; whether its frame was checked, and the frame's
    Typst if the check proved it exact; the thread checking it in the background, if one is."""

    frame: str
    args: list[str]
    notes: list[str]
    whole: str
    checked: bool = False
    typst_frame: str | None = None
    checking: threading.Thread | None = None

    def settled(self) -> _Last:
        """This, once any check in the background has finished."""
        if self.checking is not None:
            self.checking.join()
        return self


def typst_source(page: str, args: list[str], whole: bool = False) -> str:
    """pandoc's Typst for ``page`` (``--standalone`` with the appendix template and ``args``: metadata
    and variables), converting only its commentary when nothing else changed since the last page and
    no commentary has a heading; ``whole`` converts the whole page regardless."""
    notes, frame = split(page)
    last = getattr(_local, "last", None)
    same_frame = last is not None and (last.frame, last.args) == (frame, args)
    if same_frame and not whole and not has_heading(notes + last.notes):
        text = _spliced(page, notes, last.settled())
        if text is not None:
            return text
    text = _pandoc(page, _document(args))
    kept = _Last(frame, args, notes, text)
    if same_frame:  # what is known of the frame holds for this page too; asked for whole, it is not used again
        kept.checked, kept.typst_frame = (True, None) if whole else (last.settled().checked, last.typst_frame)
    elif eager() and not whole and not has_heading(notes):  # proven while the officer edits
        kept.checking = threading.Thread(target=_prove, args=(kept, page), daemon=True)
        kept.checking.start()
    _local.last = kept
    return text


def _spliced(page: str, notes: list[str], last: _Last) -> str | None:
    """The page's Typst from the last page's frame and this page's commentary, the frame checked on
    first use; None if the frame cannot be used."""
    if not last.checked:
        _prove(last, page)
    if last.typst_frame is None:
        return None
    blocks = _blocks(notes)
    return None if blocks is None else _splice(last.typst_frame, blocks)


def _prove(last: _Last, page: str) -> None:
    """Check the frame of ``last`` (``page`` has that frame): ``last``'s commentary put into it must give
    exactly the Typst pandoc wrote for the whole of ``last``'s page. Keeps the frame's Typst if so."""
    try:
        with ThreadPoolExecutor(1) as pool:  # two pandoc processes at once
            framed = pool.submit(_pandoc, marked(page, _MARK), _document(last.args))
            before = _blocks(last.notes)
            typst_frame = framed.result()
    except Exception:  # noqa: BLE001 - whatever failed (often in the background), the frame is not used
        typst_frame = before = None
    if typst_frame is not None and before is not None and _splice(typst_frame, before) == last.whole:
        last.typst_frame = typst_frame
    last.checked = True


def _document(args: list[str]) -> list[str]:
    return ["--standalone", f"--template={_IRO / 'appendix.typst'}", *_block_args(), *args]


def _block_args() -> list[str]:
    """What shapes each block's Typst: the Lua filter and the line length."""
    return ["--lua-filter", str(_IRO / "figures.lua"), "--columns=100"]


def _pandoc(html: str, args: list[str]) -> str:
    import pypandoc

    return pypandoc.convert_text(html, "typst", format="html", extra_args=args, verify_format=False)


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
