"""Rendering an executed appendix notebook: accessible HTML (own nbconvert template) and a tagged
PDF/UA-1 (HTML -> pandoc -> Typst, installable from pip alone on Linux, macOS and Windows)."""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import re
import secrets
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import nbformat

from iro_metrics.errors import IroMetricsError
from iro_metrics.report.fences import FENCE, code_lines
from iro_metrics.report.pdf_source import typst_source

TEMPLATES = Path(__file__).parent / "templates"
#: the Noto faces for scripts Libertinus lacks (and emoji); only these and Typst's own fonts are used, so the
#: PDF is the same on every machine
FONTS = Path(importlib.util.find_spec("manimgx_fonts").origin).parent
#: what officers' Markdown may become in the page; anything else (scripts, styles, forms) is escaped
SAFE_TAGS = ["p", "em", "strong", "ul", "ol", "li", "a", "h3", "h4", "h5", "h6", "blockquote", "br", "code", "pre",
             "table", "thead", "tbody", "tr", "th", "td", "caption", "del", "hr"]
#: a Markdown table's column alignment (``|---:|``), as the Markdown renderer writes it on each cell
ALIGNED = frozenset(f"text-align:{side}" for side in ("left", "right", "center"))


def _cell_attribute(tag: str, name: str, value: str) -> bool:
    return (tag == "th" and name == "scope") or (name == "style" and value in ALIGNED)


SAFE_ATTRIBUTES = {"a": ["href", "title"], "th": _cell_attribute, "td": _cell_attribute}


_ANCHOR = re.compile(r'<a class="anchor-link" href="#[^"]*">&#182;</a>')
_TOP_HEADING = re.compile(r"<(/?)h[12]\b")


def sanitise(markup: str) -> str:
    """Officers' commentary is shown, never run: only plain formatting tags survive, and a table's
    column alignment (the only style kept). Its headings sit below the section's own (a ``#`` or ``##``
    heading becomes level 3) and carry no anchor link."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    markup = _TOP_HEADING.sub(r"<\1h3", _ANCHOR.sub("", markup))
    return bleach.clean(markup, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES, protocols=["http", "https", "mailto"],
                        strip=False, css_sanitizer=CSSSanitizer(allowed_css_properties=["text-align"]))


def plain_fences(markdown: str) -> str:
    """Officers' fenced code without the language after its opening fence. With one, the Markdown
    renderer highlights the code in markup commentary may not hold, so the page showed that markup as
    text; without, the code shows as written."""
    lines = markdown.split("\n")
    for i, opens in code_lines(lines):
        if opens:
            m = FENCE.match(lines[i])
            lines[i] = m.group(1) + m.group(2)
    return "\n".join(lines)


REMOVE_TAGS = ["parameters", "injected-parameters", "remove-cell", "instructions"]
_local = threading.local()  # one exporter and one Typst compiler per thread (a Dask worker's threads build at once)


def to_html(nb: nbformat.NotebookNode, title: str, lang: str = "en", draft: bool = True) -> str:
    """One self-contained page: no code, no prompts, no network references.

    nbconvert ends with a BeautifulSoup pass over the whole page, nine tenths of which is the outputs:
    the charts' inline SVG and the tables. Each output goes through that pass alone instead (a process
    keeps the last 256, so an officer's rebuilds reuse them), and takes its place in the page
    afterwards: the same bytes, as the tests check against nbconvert's own pass."""
    held: dict[str, str] = {}
    token = secrets.token_hex(8)  # no commentary can name an output (it is sanitised anyway)
    body, _ = _exporter().from_notebook_node(_outputs_held_back(nb, held, token),
                                             resources=_resources(title, lang, draft))
    return re.sub(rf"<!--(iro-output-{token}-\d+)-->", lambda m: held[m.group(1)], body)


def _exporter():
    """This thread's exporter; its templates are compiled once."""
    if not hasattr(_local, "exporter"):
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor

        exporter = HTMLExporter(template_name="iro", extra_template_basedirs=[str(TEMPLATES)], exclude_input=True,
                                default_preprocessors=[],  # none does anything to this page; each costs a validation
                                exclude_input_prompt=True, exclude_output_prompt=True)
        exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=REMOVE_TAGS, enabled=True),
                                       enabled=True)
        exporter.register_filter("sanitise", sanitise)
        exporter.register_filter("plain_fences", plain_fences)
        _local.exporter = exporter
    return _local.exporter


def _resources(title: str, lang: str, draft: bool) -> dict:
    css = (TEMPLATES / "iro" / "appendix.css").read_text(encoding="utf-8")
    return {"iro": {"lang": lang, "title": title, "css": css, "draft": draft}}


#: what an output puts into the page as markup, untouched by the template
_MARKUP = ("image/svg+xml", "text/html")


def _outputs_held_back(nb: nbformat.NotebookNode, held: dict[str, str], token: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose SVG and HTML outputs are comments naming them (with ``token``) in ``held``,
    which receives them passed (:func:`_as_in_page`); the rest is shared. Only when every output the
    page takes as markup can be passed alone: one that cannot (an unclosed comment, say) could change
    how the pass reads its neighbours, so then ``nb`` itself, for the whole page's pass."""
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    if any("text/markdown" in o.get("data", {}) for o in outputs):  # its markup is made in the template
        return nb
    passed = {(id(o), kind): _as_in_page(o.data[kind].strip()) for o in outputs for kind in _MARKUP
              if kind in o.get("data", {})}
    if None in passed.values():
        return nb

    def hold(out: nbformat.NotebookNode) -> nbformat.NotebookNode:
        kinds = [kind for kind in _MARKUP if (id(out), kind) in passed]
        if not kinds:
            return out
        data = dict(out.data)
        for kind in kinds:
            markup, name = data[kind], f"iro-output-{token}-{len(held)}"
            held[name] = passed[id(out), kind]
            # the pass writes whitespace between two tags as one newline: it stays in the page
            data[kind] = markup[:len(markup) - len(markup.lstrip())] + f"<!--{name}-->" + markup[len(markup.rstrip()):]
        return nbformat.NotebookNode({**out, "data": data})

    cells = [nbformat.NotebookNode({**c, "outputs": [hold(o) for o in c.outputs]}) if "outputs" in c else c
             for c in nb.cells]
    return nbformat.NotebookNode({**nb, "cells": cells})


#: the elements an output sits in, in the page; an end tag for one of them inside an output would close
#: it there, and is ignored when the output is passed alone
_AROUND = ("html", "body", "main", "figure", "div")
_END = "iro-end"
#: what the page's pass changes besides writing the markup again: an image without alt text gets a
#: stand-in, and JupyterLab's output areas a tab stop
_PASS_CHANGES = re.compile(r"<img\b|jp-", flags=re.I)


@lru_cache(maxsize=256)
def _as_in_page(markup: str) -> str | None:
    """An output's markup as nbconvert's pass over the page writes it (the same parser and writer), when
    the pass treats it alike alone and in the page: it is whole (starts with a tag, ends with one, and
    leaves nothing open: no element, comment or tag), closes no element it sits in, and holds nothing
    the pass changes. None otherwise."""
    from bs4 import BeautifulSoup, Comment

    if not (markup.startswith("<") and markup.endswith(">")) or _PASS_CHANGES.search(markup):
        return None
    opened, closed = "".join(f"<{t}>" for t in _AROUND), "".join(f"</{t}>" for t in reversed(_AROUND))
    soup = BeautifulSoup(f"{opened}{markup}<!--{_END}-->{closed}", features="html.parser")
    node = soup
    for name in _AROUND:  # the elements around it as they were opened, each holding only the next
        if len(node.contents) != 1 or getattr(node.contents[0], "name", None) != name:
            return None
        node = node.contents[0]
    last = node.contents[-1] if node.contents else None
    if not (isinstance(last, Comment) and str(last) == _END):  # something left open holds the end mark
        return None
    text = str(soup)
    return text[len(opened):-len(f"<!--{_END}-->{closed}")]


def warm_up() -> None:
    """Render a one-line page, so that the appendix's renders faster afterwards: nbconvert, its Markdown
    parser and bleach import and compile their patterns, and this thread's exporter its templates
    (about 0.7 s in all). A build calls it while its kernel starts; it does its work once per thread."""
    if getattr(_local, "warm", False):
        return
    import pypandoc  # noqa: F401 - imported now rather than when the PDF is due
    import typst  # noqa: F401

    to_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Warm-up")]), "warm-up")
    _local.warm = True


class RenderError(IroMetricsError):
    """The PDF could not be typeset; ``explain`` finds the commentary that caused it."""

    def explain(self, nb: nbformat.NotebookNode) -> str:
        """Typeset each commentary section alone, then ever longer beginnings of the failing one, to name
        the section and the line. A failure no commentary causes is a bug, and raised as one."""
        for cell in nb.cells:
            if "commentary" not in cell.metadata.get("tags", []):
                continue
            lines = cell.source.splitlines()
            if _typesets(cell.source):
                continue
            lo, hi = 1, len(lines)  # the first line whose addition makes it fail
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if not _typesets("\n".join(lines[:mid])) else (mid + 1, hi)
            return (f"commentary for section {cell.metadata['iro']['section']!r}, line {lo}: the PDF cannot show "
                    f"{lines[lo - 1].strip()[:120]!r} ({self}). Change the formatting on that line (for example "
                    "remove unusual symbols or Markdown), or write it as plain text, and build again")
        raise RuntimeError(f"the PDF could not be typeset, and no commentary is the cause: {self}")


def _typesets(markdown: str) -> bool:
    heads = nbformat.v4.new_output("display_data", data={"text/html": "<h1>Check</h1><h2>Section</h2>"})
    cells = [nbformat.v4.new_code_cell(outputs=[heads]),  # the headings commentary sits under
             nbformat.v4.new_markdown_cell(markdown, metadata={"tags": ["commentary"], "iro": {"section": "x"}})]
    page = to_html(nbformat.v4.new_notebook(cells=cells), "check")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            to_pdf(page, Path(tmp) / "check.pdf", "check", dt.date(2000, 1, 1))
        except RenderError:
            return False
    return True


def to_pdf(page: str, out: Path, title: str, when: dt.date, lang: str = "en-GB", draft: bool = False,
           footer: str = "") -> None:
    """A4, tagged, PDF/UA-1 (the compile fails if any image lacks alt text), fonts embedded, dated
    ``when`` rather than now so that rebuilding gives the same bytes; ``footer`` (the council's name)
    beside "Page N of M" on every page. A draft says so on every page."""
    import typst

    args = ["-M", f"title={title}", "-V", f"lang={lang[:2]}", "-V", f"footer={_typst_text(footer)}",
            *(["-V", "draft=true"] if draft else [])]
    stamp = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        typ = Path(tmp) / "appendix.typ"

        def typeset(text: str) -> None:
            typ.write_text(text, encoding="utf-8")
            _typst().compile(input=str(typ), output=str(out), pdf_standards=["ua-1"], timestamp=stamp, root=tmp)

        given = pandoc_input(page, Path(tmp))
        text = typst_source(given, args)
        try:
            typeset(text)
        except typst.TypstError as e:
            # a source made from the last page's frame is tried again as pandoc converts the whole page
            whole = typst_source(given, args, whole=True)
            if whole == text:
                raise RenderError(str(e).splitlines()[0]) from None
            try:
                typeset(whole)
            except typst.TypstError as again:
                raise RenderError(str(again).splitlines()[0]) from None


def _typst():
    """This thread's Typst compiler. Kept, it remembers the layout of the last PDF it typeset, so that
    the same appendix with edited commentary typesets in about 0.04 s instead of 0.3 s (the same bytes,
    tested); memory levels off as with Typst's own caches."""
    if not hasattr(_local, "typst"):
        import typst

        _local.typst = typst.Compiler(font_paths=[str(FONTS)], ignore_system_fonts=True)
    return _local.typst


def _typst_text(text: str) -> str:
    """Plain text inside Typst markup: its markup characters escaped."""
    return re.sub(r"([\\#$*_\[\]<>@`~/=-])", r"\\\1", text)


_STYLE = re.compile(r"<style>.*?</style>", flags=re.S)  # the page's own, in its head
_DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
_INLINE_SVG = re.compile(r'<svg\b[^>]*\baria-label="([^"]*)"[^>]*>.*?</svg>', flags=re.S)
#: SVG names an HTML parser lower-cases in the page (browsers restore them; a standalone SVG needs them)
_SVG_CASE = {"viewbox=": "viewBox=", "<clippath": "<clipPath", "</clippath>": "</clipPath>"}


def pandoc_input(page: str, folder: Path) -> str:
    """The page as pandoc is given it for the PDF or the Word paper. Embedded PNGs and inline SVG charts
    become files in ``folder`` (both read images from files); an SVG chart becomes an image with its
    accessible name as alt text, so it stays vector in the PDF. The stylesheet is left out: pandoc
    ignores it, but parsing it took a fifth of its time (the PDF's Typst the same, tested; the Word
    paper the same bytes as before the change)."""
    page = _STYLE.sub("", page, count=1)
    count = 0

    def save(m: re.Match) -> str:
        nonlocal count
        count += 1
        name = f"figure-{count}.png"
        (folder / name).write_bytes(base64.b64decode(m.group(1)))
        return f'src="{name}"'

    def save_svg(m: re.Match) -> str:
        nonlocal count
        count += 1
        name = f"figure-{count}.svg"
        text = m.group(0)  # matplotlib's SVG declares its namespaces
        for lower, proper in _SVG_CASE.items():
            text = text.replace(lower, proper)
        (folder / name).write_text(text, encoding="utf-8")
        return f'<img src="{name}" alt="{m.group(1)}">'

    return _INLINE_SVG.sub(save_svg, _DATA_URI.sub(save, page))
