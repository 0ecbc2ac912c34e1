"""``appendix.docx``: the committee paper, made by pandoc from the same HTML page as the PDF, so it has
the same headings, tables (with header rows), charts (with their alt text) and commentary. A council's
own ``reference.docx`` styles it when the params name one; pandoc's clean default otherwise. Dated
``when`` and its zip entries restamped, so rebuilding gives the same bytes."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path

from iro_metrics.present.zipstamp import restamp
from iro_metrics.report.render import _images_to_files

#: what the page has that a Word paper does not: the contents list (Word builds its own) and the
#: table wrappers' scrolling
_NAV = re.compile(r"<nav\b.*?</nav>", flags=re.S)


def to_docx(page: str, out: Path, title: str, when: dt.date, lang: str = "en-GB",
            reference: Path | None = None) -> None:
    """Write ``out`` from the appendix page; headings stay headings, tables keep their header row,
    every chart is an image with alt text; document title and language are set."""
    import pypandoc

    stamp = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        page = _images_to_files(_NAV.sub("", page), Path(tmp))
        args = ["--standalone", "--quiet", "-M", f"title={title}", "-M", f"lang={lang}", f"--resource-path={tmp}"]
        if reference is not None:
            args.append(f"--reference-doc={reference}")
        saved = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(int(stamp.timestamp()))  # pandoc dates the document by it
        try:
            pypandoc.convert_text(page, "docx", format="html", outputfile=str(out), extra_args=args)
        finally:
            if saved is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved
    restamp(out, stamp.replace(tzinfo=None))
