"""``appendix.docx``: the committee paper, made by pandoc from the same HTML page as the PDF, so it has
the same headings, tables (with header rows), charts (with their alt text) and commentary. A council's
own ``reference.docx`` styles it when the params name one; pandoc's clean default otherwise. Dated
``when`` and its zip entries restamped, so rebuilding gives the same bytes."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from iro_metrics.present.zipstamp import restamp
from iro_metrics.report.render import RenderError, pandoc_input

#: what the page has that a Word paper does not: the contents list (Word builds its own) and the
#: table wrappers' scrolling
_NAV = re.compile(r"<nav\b.*?</nav>", flags=re.S)


def start_docx(page: str, out: Path, title: str, when: dt.date, lang: str = "en-GB",
               reference: Path | None = None) -> Callable[[], None]:
    """Write ``out`` from the appendix page (headings stay headings, tables keep their header row, every
    chart is an image with alt text; document title and language set) with pandoc running in the
    background: returns at once, and the function returned waits for pandoc (raising
    :class:`~iro_metrics.report.render.RenderError` if it failed) and restamps the file."""
    import pypandoc

    stamp = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    source = folder / "appendix.html"
    source.write_text(pandoc_input(_NAV.sub("", page), folder), encoding="utf-8")
    args = [pypandoc.get_pandoc_path(), str(source), "--from=html", "--to=docx", f"--output={out}", "--standalone",
            "--quiet", "-M", f"title={title}", "-M", f"lang={lang}", f"--resource-path={folder}"]
    if reference is not None:
        args.append(f"--reference-doc={reference}")
    # pandoc dates the document by SOURCE_DATE_EPOCH: the date of the return, not today
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(stamp.timestamp()))}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait() -> None:
        try:
            _, err = proc.communicate()
        finally:
            tmp.cleanup()
        if proc.returncode != 0:
            raise RenderError(f"pandoc could not write {out.name}: {err.decode(errors='replace').strip()[:500]}")
        restamp(out, stamp.replace(tzinfo=None))

    return wait
