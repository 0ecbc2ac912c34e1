"""An appendix page's commentary apart from the rest of the page, its "frame". An officer's rebuild
converts only the commentary for the PDF (``pdf_source``) and the Word paper (``word``), and puts it
in place in the last page's conversion of the frame. Each commentary is a top-level ``<div>``
(``index.html.j2``; its sanitised Markdown holds no ``<div>``: ``render.sanitise``)."""

from __future__ import annotations

import itertools
import re

_COMMENTARY = re.compile(r'<div class="commentary" data-section="[^"]*">.*?</div>', flags=re.S)
_HEADING = re.compile(r"<h[1-6][\s>]")


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
