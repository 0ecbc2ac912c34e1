"""An appendix page's commentary apart from the rest of the page, its "frame". An officer's rebuild
converts only the commentary for the PDF (``pdf_source``) and the Word paper (``word``), and puts it
in place in the last page's conversion of the frame. Each commentary is a top-level ``<div>``
(``index.html.j2``; its sanitised Markdown holds no ``<div>``: ``render.sanitise``).

A frame is used only once proven: converting the frame with the page's own commentary put in place must
give exactly what converting the whole page gives. A rebuild that finds its frame unproven proves it
then; a thread that expects edits (:func:`expecting_edits`: ``build --watch``) proves the frame of each
page it writes in the background, so that the officer's first save finds it proven."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Iterator

_COMMENTARY = re.compile(r'<div class="commentary" data-section="[^"]*">.*?</div>', flags=re.S)
_HEADING = re.compile(r"<h[1-6][\s>]")
_local = threading.local()


@contextlib.contextmanager
def expecting_edits() -> Iterator[None]:
    """Within it, this thread proves the frame of each page it converts (``build --watch``, whose next
    page is likely to differ only in its commentary), not only once a rebuild shows the frame reused."""
    before, _local.eager = eager(), True
    try:
        yield
    finally:
        _local.eager = before


def eager() -> bool:
    """Whether this thread expects edits (:func:`expecting_edits`)."""
    return getattr(_local, "eager", False)


def split(page: str) -> tuple[list[str], str]:
    """The page's commentary ``<div>``s, and the page with each replaced by the same placeholder."""
    return _COMMENTARY.findall(page), _COMMENTARY.sub("<!--commentary-->", page)


def marked(page: str, mark: str) -> str:
    """The page with its n-th commentary replaced by one holding only the paragraph ``{mark}{n}``."""
    numbers = itertools.count(1)
    return _COMMENTARY.sub(lambda _: f'<div class="commentary"><p>{mark}{next(numbers)}</p></div>', page)


def has_heading(notes: list[str]) -> bool:
    """Whether any commentary holds a heading: pandoc makes a heading's label (or identifier) unique
    across the whole page, so such commentary converts differently alone."""
    return any(_HEADING.search(n) for n in notes)
