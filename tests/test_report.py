"""The appendix: executed notebook, accessible HTML, tagged PDF/UA-1, byte-stable, no identifiers."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pikepdf
import pytest

from iro_metrics.errors import MetricError
from iro_metrics.report.build import build
from iro_metrics.report.kernel import BuildError

pytestmark = pytest.mark.build  # builds appendices: not in `make test-quick`

OUTPUTS = ["appendix.ipynb", "appendix.html", "appendix.pdf", "appendix.docx", "metrics.json", "tables.xlsx",
           "tables.ods"]
A11Y = Path(__file__).parent / "a11y"


@pytest.fixture(scope="session")
def built(tmp_path_factory, demo_data) -> Path:
    root = tmp_path_factory.mktemp("report")
    params = root / "params" / "demo" / "2024-25.yaml"
    params.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "params" / "demo-borough" / "population-by-ethnicity.csv", params.parent)
    params.write_text(f"council: Demo Borough\nyear: 2024-25\ndata: {demo_data}\npopulation: 52000\n"
                      "population_by_ethnicity: population-by-ethnicity.csv\n")
    build(params, outputs=root / "outputs")
    return root


def out(built: Path) -> Path:
    return built / "outputs" / "demo-borough" / "2024-25"


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_four_outputs_and_tables(built):
    folder = out(built)
    for name in OUTPUTS:
        assert (folder / name).stat().st_size > 1000, name
    assert len(list((folder / "tables").glob("*.csv"))) >= 15


def test_html_structure(built):
    page = (out(built) / "appendix.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert page.count("<h1>") == 1 and '<nav aria-labelledby="contents">' in page
    assert not re.search(r"(src|href)=\"https?:", page)  # opens offline: no CDN, no network
    assert "<script" not in page and "In&nbsp;[" not in page  # no code, no prompts
    figures = re.findall(r'<figure class="chart">.*?</figure>', page, flags=re.S)
    captions = [re.search(r"<figcaption>Figure \d+\. ([^<]+)</figcaption>", f).group(1) for f in figures]
    for wanted in ["Reviews held on time (%), 2020-21", "Reviews held on time by month", "Children per full-time IRO",
                   "Reviews held by participation code", "Placement stability", "Escalations raised by highest stage",
                   "Escalations raised by theme", "Children looked after at 31 March by age"]:
        assert any(c.startswith(wanted) for c in captions), wanted  # a chart for each section where it helps
    assert len(figures) == 15  # five trends, caseload, months, age, participation, stage, theme, stability,
    # three equalities charts
    for f in figures:  # inline SVG: text selectable, an accessible name that states the finding
        assert "<img" not in f and re.search(r"<svg[^>]*\brole=\"img\"", f) and "<text" in f
        alt = html.unescape(re.search(r'<svg[^>]*aria-label="([^"]+)"', f).group(1))
        assert alt.startswith(("Bar chart of", "Line chart of")) and len(alt) > 60
    month = next(f for f in figures if "by month" in f)
    assert re.search(r"the 97% target: below target in \d+ of 12 months; lowest", month)
    caseload = next(f for f in figures if "Children per full-time IRO" in f)
    assert re.search(r"range of 50 to 70: (above|within|below) the range in 2024-25 at [\d.]+", caseload)
    assert len(set(re.findall(r'\bid="([^"]+)"', page))) == len(re.findall(r'\bid="([^"]+)"', page))  # ids unique
    assert "No description has been provided" not in page
    tables = re.findall(r'<div ([^>]*)><table><caption id="(table-\d+)">(.*?)</table></div>', page, flags=re.S)
    for attributes, tid, t in tables:
        assert set(attributes.split()) == {'class="table-wrap"', 'role="region"', f'aria-labelledby="{tid}"',
                                           'tabindex="0"'} and '<th scope="col"' in t
    assert len(tables) > 20
    assert len(tables) == page.count("<table>")  # every table scrolls in its own named, focusable box
    summary = next(t for _, _, t in tables if t.startswith("Table 1. Key indicators"))
    assert '<th class="num" scope="col">2024-25</th>' in summary  # numeric headers aligned with numbers
    for wrong in ["Iros", "Caseload per fte", ">Iros<"]:
        assert wrong not in page
    assert "@media print" in page and '<p class="draft"' in page
    for section in ["summary", "reviews", "participation", "escalations", "equalities", "priorities"]:
        assert f'data-section="{section}"' in page  # a commentary placeholder in every section


def test_equalities_section(built):
    """metrics.md §9 in the page: the tables, the groups marked for attention in words, and a chart of
    each group beside all children whose alt text states the finding."""
    page = (out(built) / "appendix.html").read_text()
    part = page[page.index('<h2 id="equalities">'):page.index('<h2 id="priorities">')]
    for title in ["Reviews on time by characteristic", "Participation in reviews by characteristic",
                  "Placement stability by characteristic", "Escalations per 100 children by characteristic",
                  "IROs and children looked after by sex and ethnicity",
                  "Children looked after per 10,000 children by ethnic group"]:
        assert title in part, title
    alts = [html.unescape(a) for a in re.findall(r'<svg[^>]*aria-label="([^"]+)"', part)]
    assert len(alts) == 3 and all("dashed line for all children at" in a for a in alts)
    assert all("marked for attention" in a.lower() for a in alts)
    said = re.findall(r'<ul class="attention">(.*?)</ul>', part, flags=re.S)
    assert len(said) == 4 and all("<li>" in s for s in said)
    doc = json.loads((out(built) / "metrics.json").read_text())
    assert doc["tables"]["equalities_reviews"][0]["group"] == "All children"
    assert (out(built) / "tables" / "equalities_reviews.csv").exists()


def test_pdf_is_tagged_pdf_ua_with_alt_text(built):
    with pikepdf.open(out(built) / "appendix.pdf") as pdf:
        assert str(pdf.Root.Lang) == "en-GB"
        assert bool(pdf.Root.MarkInfo.Marked)
        assert "/StructTreeRoot" in pdf.Root
        assert "pdfuaid:part" in str(pdf.open_metadata()) or "<pdfuaid:part>1" in pdf.Root.Metadata.read_bytes().decode()
        figures = []

        def walk(node):
            if isinstance(node, pikepdf.Dictionary):
                if node.get("/S") == "/Figure":
                    figures.append(str(node.get("/Alt", "")))
                kids = node.get("/K")
                for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
                    walk(kid)

        walk(pdf.Root.StructTreeRoot)
        assert len(figures) == 15 and all(a.startswith(("Bar chart of", "Line chart of")) for a in figures)
        fonts = [f for page in pdf.pages for f in page.Resources.get("/Font", {}).values()]
        assert fonts and all("/FontFile2" in f.DescendantFonts[0].FontDescriptor or "/FontFile3" in
                             f.DescendantFonts[0].FontDescriptor for f in fonts if "/DescendantFonts" in f)


def _every_output(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rebuild_is_byte_identical(built):
    folder = out(built)
    before = _every_output(folder)
    assert set(OUTPUTS) <= set(before)
    time.sleep(1.1)  # a clock that reached any output (a zip entry's date, say) would now differ
    build(built / "params" / "demo" / "2024-25.yaml", outputs=built / "outputs")
    assert _every_output(folder) == before


def _as_nbconvert_writes(nb: nbformat.NotebookNode, draft: bool = True) -> str:
    """The page as nbconvert's own exporter writes it, with its default preprocessors and its closing
    pass over the whole page."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    from iro_metrics.report import render

    exporter = HTMLExporter(template_name="iro", extra_template_basedirs=[str(render.TEMPLATES)], exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=render.REMOVE_TAGS, enabled=True),
                                   enabled=True)
    exporter.register_filter("sanitise", render.sanitise)
    exporter.register_filter("plain_fences", render.plain_fences)
    assert len(exporter._preprocessors) > 5
    return exporter.from_notebook_node(nb, resources=render._resources("Title", "en", draft))[0]


def test_page_is_what_nbconvert_writes(built):
    """The page puts each output (chart or table) through nbconvert's closing BeautifulSoup pass alone
    (once per process) rather than within the whole page, and skips nbconvert's default preprocessors
    (none changes this page; each validates the notebook): the bytes are the same as nbconvert's own
    exporter gives."""
    from iro_metrics.report import render

    nb = nbformat.read(out(built) / "appendix.ipynb", as_version=4)
    held: dict[str, str] = {}
    render._outputs_held_back(nb, held, "t")
    kinds = {"image/svg+xml", "text/html"}
    outputs = [o for c in nb.cells for o in c.get("outputs", []) if kinds & set(o.get("data", {}))]
    assert len(held) == len(outputs) >= 40  # every chart and table passed alone
    for draft in (True, False):
        whole = _as_nbconvert_writes(nb, draft)
        assert whole.count("<svg") >= 10 and "<!--iro-output" not in whole
        assert render.to_html(nb, "Title", draft=draft) == whole
        assert render.to_html(nb, "Title", draft=draft) == whole  # the outputs now from the cache


@pytest.mark.parametrize("markup, alone", [
    ("<table><tr><td>a<td>b</table>", True), ("<div><p>x</div>", True), ("<b>x<i>y</b>z</i>", True),
    ('<svg><path d="x"/></svg>', True), ("<!-- a comment with </p> -->", True), ("<p>a &amp</p>", True),
    ('<p><img src="x.png"></p>', False), ("<IMG src=x>", False),  # the page's pass gives it alt text
    ('<div class="jp-OutputArea-output">x</div>', False),  # and such an area a tab stop
    ("<p>left open", False), ("<figure>left open</p>", False), ("<p>x</p><!-- open", False),
    ("<p>x</p><a", False), ("text first <b>x</b>", False), ("<b>x</b> &", False),  # left open or not whole
    ("</div>closes", False), ("<p>x</main><p>y</p>", False), ("</body>", False),  # would close the page's own
])
def test_an_output_is_passed_alone_only_where_the_bytes_stay_the_same(markup, alone):
    from iro_metrics.report import render

    output = nbformat.v4.new_output("display_data", data={"text/html": markup, "text/plain": "x"})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[output]),
                                         nbformat.v4.new_markdown_cell("After")])
    assert render.to_html(nb, "Title") == _as_nbconvert_writes(nb)
    assert (render._as_in_page(markup) is not None) == alone


def test_an_output_that_cannot_be_passed_alone_keeps_every_output_in_the_pages_pass():
    """An output left open (here a comment) changes how the pass reads what follows it, so the page is
    passed whole: the officer's words after it stay in the page as nbconvert writes it."""
    from iro_metrics.report import render

    outputs = [nbformat.v4.new_output("display_data", data={"text/html": html}) for html in
               ("<table><tr><td>1</td></tr></table><!--", "<p>A table after it.</p>")]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=outputs),
                                         nbformat.v4.new_markdown_cell("The officer's words.")])
    held: dict[str, str] = {}
    assert render._outputs_held_back(nb, held, "t") is nb and not held
    assert render.to_html(nb, "Title") == _as_nbconvert_writes(nb)
    assert "officer" in render.to_html(nb, "Title")


@pytest.mark.parametrize("markdown, plain", [
    ("```python\nx = 1 < 2\n```", "```\nx = 1 < 2\n```"),
    ("~~~ r {.numberLines}\ny <- 3\n~~~~", "~~~\ny <- 3\n~~~~"),
    ("> ```js\n> q()\n> ```", "> ```\n> q()\n> ```"),
    ("````md\n```python\ninside\n```\n````", "````\n```python\ninside\n```\n````"),  # the inner is code
    ("```a``` is inline code", "```a``` is inline code"), ("Text ```python", "Text ```python"),
])
def test_fenced_code_loses_its_language_only(markdown, plain):
    from iro_metrics.report.render import plain_fences

    assert plain_fences(markdown) == plain


def test_fenced_code_with_a_language_shows_as_code_not_as_markup():
    """Officers' fenced code with a language was highlighted in markup commentary may not hold, so the
    page showed the markup as text."""
    from iro_metrics.report import render

    md = "Before.\n\n```python\nx = 1 < 2\n```\n\nAfter."
    cell = nbformat.v4.new_markdown_cell(md, metadata={"tags": ["commentary"], "iro": {"section": "x"}})
    page = render.to_html(nbformat.v4.new_notebook(cells=[cell]), "T")
    assert "<pre><code>x = 1 &lt; 2\n</code></pre>" in page and "&lt;span" not in page and "highlight" not in page


def test_pandoc_reads_the_page_the_same_without_its_stylesheet(built, tmp_path):
    import pypandoc

    from iro_metrics.report.render import pandoc_input

    page = (out(built) / "appendix.html").read_text()
    given = pandoc_input(page, tmp_path)
    style = re.search(r"<style>.*?</style>", page, flags=re.S).group(0)
    assert "<style>" not in given and len(style) > 1000
    as_typst = [pypandoc.convert_text(p, "typst", format="html", extra_args=["--standalone"])
                for p in (given, given.replace("<head>", "<head>" + style, 1))]
    assert as_typst[0] == as_typst[1] and "Five-year trends" in as_typst[0]


#: commentary an officer might write, one edit after another, and whether pandoc converts only the
#: commentary (True) or the whole page: a heading gets a label pandoc makes unique across the page
COMMENTARY_EDITS = [
    ("- Reviews held: 12\n  - nested **point**\n\n| Team | Reviews |\n|---|---|\n| **North**. | 12 |\n\n"
     "*emphasis across\ntwo lines* and **permanence**.Next and [the handbook](https://www.gov.uk/x) and "
     "https://www.example.org/a/very/long/address/that/goes/on/and/on/without/any/break/at/all/anywhere.html", True),
    ("Zażółć gęślą jaźń. مرحبا. Happy 😊 <b>raw html</b> <div>a div</div> <script>alert(1)</script>", True),
    ("### Summary\n\nA heading named as the page's first section.", False),
    ("### Placement stability\n\nNamed as a heading later in the page.", False),
    ("## Key points\n\nThe same heading in two sections.", False),
    ("", False),  # no heading now, but the last page had some: converted whole once more
    ("1. one\n2. two\n\n> a quote\n\n```python\ncode = 1\n```\n\n---\n\n`code`, ~~struck~~, "
     "[back to the trends](#trends) [^1]", True),
    ("*Commentary to be added.*", True),
]


def _edited_pages(built: Path) -> list[str]:
    """The demo page, then the page after each of ``COMMENTARY_EDITS`` in turn (each put into two
    sections)."""
    import copy

    from iro_metrics.report import commentary as C
    from iro_metrics.report.render import to_html

    nb = nbformat.read(out(built) / "appendix.ipynb", as_version=4)
    pages = []
    for k, (text, _) in enumerate([(None, False), *COMMENTARY_EDITS]):
        edited = copy.deepcopy(nb)
        cells = C.commentary_cells(edited)
        if text is not None:
            cells[k % len(cells)].source = cells[(k + 3) % len(cells)].source = text
        pages.append(to_html(edited, "T"))
    return pages


def test_pdf_source_after_commentary_edits_is_pandocs_own(built, tmp_path, monkeypatch):
    """After an edit to commentary only, only the commentary is converted by pandoc and put in place
    in the rest of the page's Typst: the same text as pandoc's conversion of the whole page, for
    commentary of every kind. A page whose commentary has a heading is converted whole."""
    import threading

    from iro_metrics.report import pdf_source
    from iro_metrics.report.render import pandoc_input

    args = ["-M", "title=T", "-V", "lang=en", "-V", "footer=Demo", "-V", "draft=true"]
    pages = [pandoc_input(page, tmp_path) for page in _edited_pages(built)]
    pandoc, converted_whole = pdf_source._pandoc, []
    monkeypatch.setattr(pdf_source, "_pandoc", lambda html, a: (converted_whole.append(html), pandoc(html, a))[1])
    results: list[str] = []

    def convert() -> None:  # in a thread of its own: nothing converted before in it
        for page in pages:
            results.append(pdf_source.typst_source(page, args))

    thread = threading.Thread(target=convert)
    thread.start()
    thread.join()
    assert [page not in converted_whole for page in pages] == [False] + [spliced for _, spliced in COMMENTARY_EDITS]
    for page, text in zip(pages, results, strict=True):
        assert text == pandoc(page, pdf_source._document(args))
    assert "#strong[permanence];.Next" in results[1]  # the Lua filter still applies to the commentary
    assert "<summary-1>" in results[3] and "<placement-stability-1>" in results[4]


def test_a_thread_expecting_edits_proves_its_first_pdf_frame_in_the_background(built, tmp_path, monkeypatch):
    """``build --watch``: the PDF frame of its first page is proven in the background, so that the first
    save converts only the commentary; a thread not expecting edits starts no check. A check whose
    pandoc fails proves nothing, and the next page is converted whole, as pandoc converts it."""
    import threading

    from iro_metrics.report import frame, pdf_source
    from iro_metrics.report.render import pandoc_input

    args = ["-M", "title=T", "-V", "lang=en"]
    first, second = (pandoc_input(page, tmp_path) for page in _edited_pages(built)[:2])
    pandoc, converted_whole = pdf_source._pandoc, []
    monkeypatch.setattr(pdf_source, "_pandoc", lambda html, a: (converted_whole.append(html), pandoc(html, a))[1])
    seen = {}

    def convert(name: str, eager: bool) -> None:
        with frame.expecting_edits() if eager else contextlib.nullcontext():
            pdf_source.typst_source(first, args)
            last = pdf_source._local.last
            seen[name] = [last.checking is not None]
            last.settled()
            seen[name] += [last.checked, last.typst_frame is not None]
            converted_whole.clear()
            seen[name] += [pdf_source.typst_source(second, args) == pandoc(second, pdf_source._document(args)),
                           second in converted_whole]

    for name, eager in (("watch", True), ("command", False)):
        thread = threading.Thread(target=convert, args=(name, eager))
        thread.start()
        thread.join()
    # (checking at once, checked, proven, the second page as pandoc converts it, converted whole)
    assert seen["watch"] == [True, True, True, True, False]
    assert seen["command"] == [False, False, False, True, False]  # checked on the first rebuild instead

    def failing() -> None:
        with frame.expecting_edits():
            pdf_source.typst_source(first, args)
            last = pdf_source._local.last
            last.settled()
            seen["failed"] = [last.checked, last.typst_frame]
            converted_whole.clear()
            seen["failed"] += [pdf_source.typst_source(second, args) == pandoc(second, pdf_source._document(args)),
                               second in converted_whole]

    real = pdf_source._blocks
    monkeypatch.setattr(pdf_source, "_blocks", lambda notes: (_ for _ in ()).throw(KeyError("any failure"))
                        if threading.current_thread().daemon else real(notes))
    raised = []
    monkeypatch.setattr(threading, "excepthook", raised.append)  # a failed check is quiet, not a traceback
    thread = threading.Thread(target=failing)
    thread.start()
    thread.join()
    assert seen["failed"] == [True, None, True, True] and raised == []


def test_expecting_edits_nests():
    from iro_metrics.report import frame

    with frame.expecting_edits():
        with frame.expecting_edits():
            assert frame.eager()
        assert frame.eager()
    assert not frame.eager()


def test_a_pdf_source_typst_refuses_is_converted_whole_and_typeset_again(built, tmp_path, monkeypatch):
    import datetime as dt

    from iro_metrics.report import render

    real, asked = render.typst_source, []

    def made_from_a_frame(page: str, args: list[str], whole: bool = False) -> str:
        asked.append(whole)
        return real(page, args, whole=True) if whole else "#unknown-function()"

    monkeypatch.setattr(render, "typst_source", made_from_a_frame)
    page = (out(built) / "appendix.html").read_text()
    render.to_pdf(page, tmp_path / "a.pdf", "T", dt.date(2025, 3, 31))
    assert asked == [False, True] and (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")


def test_docx_after_commentary_edits_is_pandocs_own(built, tmp_path, monkeypatch):
    """After an edit to commentary only, pandoc reads only the commentary and writes the Word paper from
    the last page's document with it in place, once a check has proved that document: the same bytes
    as the paper written from the whole page, for commentary of every kind. A page whose commentary
    has a heading is read whole."""
    import datetime as dt
    import threading

    from iro_metrics.report import word

    pages = _edited_pages(built)
    write, from_frame, proven = word._write, [], []
    monkeypatch.setattr(word, "_write", lambda g, n, document, *a: (from_frame.append(document is not None),
                                                                      write(g, n, document, *a))[1])

    def papers(name: str, each: list[str]) -> None:  # in a thread of its own: nothing written before in it
        for k, page in enumerate(each):
            word.start_docx(page, tmp_path / f"{name}-{k}.docx", "T", dt.date(2025, 3, 31))()
            checking = word._local.last.proof.checking
            if checking is not None:
                checking.join()
            proven.append(word._local.last.proof.document is not None)

    for name, each in [("watched", pages), *((f"whole{k}", [page]) for k, page in enumerate(pages))]:
        thread = threading.Thread(target=papers, args=(name, each))
        thread.start()
        thread.join()
    # the first page has no last; the second is written whole while its frame is checked
    assert from_frame[:len(pages)] == [False, False] + [spliced for _, spliced in COMMENTARY_EDITS[1:]]
    assert proven[:3] == [False, True, True]  # the second page's check proved the frame
    for k in range(len(pages)):
        assert (tmp_path / f"watched-{k}.docx").read_bytes() == (tmp_path / f"whole{k}-0.docx").read_bytes()


def test_a_thread_expecting_edits_proves_its_first_pages_frame(built, tmp_path, monkeypatch):
    """``build --watch`` expects edits: the frame of its first page is checked at once, so that the first
    save is written from it; a thread that does not expect them checks nothing for one page."""
    import datetime as dt
    import threading

    from iro_metrics.report import commentary as C
    from iro_metrics.report import frame, word
    from iro_metrics.report.render import to_html

    nb = nbformat.read(out(built) / "appendix.ipynb", as_version=4)
    first = to_html(nb, "T")
    C.commentary_cells(nb)[0].source = "Edited after the first build."
    second = to_html(nb, "T")
    write, from_frame, checked = word._write, [], []
    monkeypatch.setattr(word, "_write", lambda g, n, document, *a: (from_frame.append(document is not None),
                                                                      write(g, n, document, *a))[1])

    def papers(eager: bool) -> None:
        with frame.expecting_edits() if eager else contextlib.nullcontext():
            word.start_docx(first, tmp_path / f"{eager}-1.docx", "T", dt.date(2025, 3, 31))()
            checked.append(word._local.last.proof.checking is not None)
            if eager:
                word._local.last.proof.checking.join()
                word.start_docx(second, tmp_path / f"{eager}-2.docx", "T", dt.date(2025, 3, 31))()

    for eager in (False, True):
        thread = threading.Thread(target=papers, args=(eager,))
        thread.start()
        thread.join()
    assert checked == [False, True] and from_frame == [False, False, True]
    whole = threading.Thread(target=lambda: word.start_docx(second, tmp_path / "whole.docx", "T",
                                                            dt.date(2025, 3, 31))())
    whole.start()
    whole.join()
    assert (tmp_path / "True-2.docx").read_bytes() == (tmp_path / "whole.docx").read_bytes()


def test_a_paper_pandoc_cannot_write_from_the_frame_is_written_from_the_page(built, tmp_path, monkeypatch):
    import datetime as dt
    import threading

    from iro_metrics.report import commentary as C
    from iro_metrics.report import frame, word
    from iro_metrics.report.render import to_html

    nb = nbformat.read(out(built) / "appendix.ipynb", as_version=4)
    first = to_html(nb, "T")
    C.commentary_cells(nb)[0].source = "Edited."
    second = to_html(nb, "T")
    broken = []

    def papers() -> None:
        with frame.expecting_edits():
            word.start_docx(first, tmp_path / "1.docx", "T", dt.date(2025, 3, 31))()
            word._local.last.proof.checking.join()
            assert word._local.last.proof.document is not None
            monkeypatch.setattr(word, "_spliced", lambda document, blocks: broken.append(1) or {"blocks": 5})
            word.start_docx(second, tmp_path / "2.docx", "T", dt.date(2025, 3, 31))()

    def whole() -> None:
        word.start_docx(second, tmp_path / "whole.docx", "T", dt.date(2025, 3, 31))()

    for work in (papers, whole):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert broken and (tmp_path / "2.docx").read_bytes() == (tmp_path / "whole.docx").read_bytes()


def test_a_docx_frame_whose_check_fails_is_never_used(built, tmp_path, monkeypatch):
    import datetime as dt
    import threading

    from iro_metrics.report import word

    page = (out(built) / "appendix.html").read_text()
    monkeypatch.setattr(word, "_read", lambda html: {"blocks": [], "meta": {}})  # no frame proves exact
    used = []
    write = word._write
    monkeypatch.setattr(word, "_write", lambda g, n, document, *a: (used.append(document),
                                                                      write(g, n, document, *a))[1])

    def papers() -> None:
        for k in range(3):
            word.start_docx(page, tmp_path / f"{k}.docx", "T", dt.date(2025, 3, 31))()
            if word._local.last.proof.checking is not None:
                word._local.last.proof.checking.join()

    thread = threading.Thread(target=papers)
    thread.start()
    thread.join()
    assert used == [None, None, None]
    assert (tmp_path / "0.docx").read_bytes() == (tmp_path / "2.docx").read_bytes()


def test_docx_has_every_heading_table_and_alt_text(built):
    import docx

    folder = out(built)
    page = (folder / "appendix.html").read_text()
    d = docx.Document(folder / "appendix.docx")
    assert d.core_properties.language == "en-GB" and d.core_properties.title.startswith("Demo Borough")
    headings = [p.text for p in d.paragraphs if p.style.name == "Heading 2"]
    wanted = [html.unescape(h) for h in re.findall(r'<h2 id="[a-z_]+">([^<]+)</h2>', page) if h != "Contents"]
    assert headings == wanted and "Reviews and their timeliness" in headings
    assert len(d.tables) == page.count("<table>")
    for t in d.tables:  # a header row Word repeats and reads as a header
        assert t.rows[0]._tr.find(".//" + docx.oxml.ns.qn("w:tblHeader")) is not None
    alts = [s._inline.docPr.get("descr") for s in d.inline_shapes]
    assert len(alts) == 15 and all(a.startswith(("Bar chart of", "Line chart of")) for a in alts)
    text = "\n".join(p.text for p in d.paragraphs)
    assert "Commentary to follow" in text  # the commentary travels with the figures


def test_spreadsheet_follows_the_analysis_function_guidance(built):
    import openpyxl

    folder = out(built)
    wb = openpyxl.load_workbook(folder / "tables.xlsx")
    csvs = sorted(p.stem for p in (folder / "tables").glob("*.csv"))
    assert wb.sheetnames[:3] == ["Cover", "Contents", "Notes"]
    assert len(wb.sheetnames) == 3 + len(csvs)  # one table per sheet
    notes = " ".join(str(c) for row in wb["Notes"].iter_rows(values_only=True) for c in row if c)
    assert "c: suppressed" in notes and "x: not available" in notes and "z: not applicable" in notes
    named, symbols = set(), set()
    for name in wb.sheetnames[3:]:
        ws = wb[name]
        assert ws["A1"].value and ws["A1"].value.endswith("[note 1] [note 2]")  # title line in A1
        (tname, ref), = ws.tables.items()  # exactly one named table, starting in column A
        assert ref.startswith("A")
        named.add(tname)
        symbols |= {c for row in ws.iter_rows(values_only=True) for c in row if c in ("c", "x", "z")}
        first = ws[ref.split(":")[0]].row + 1
        numbers = [c for row in ws.iter_rows(min_row=first, min_col=2, values_only=True) for c in row]
        assert not any(isinstance(c, str) and re.fullmatch(r"[\d,.]+", c) for c in numbers)  # numbers as numbers
    assert named == set(csvs) and "c" in symbols


def test_opendocument_spreadsheet_has_the_same_sheets(built):
    """tables.ods for councils on LibreOffice: cover, contents, notes, then one table per sheet below its
    title lines, numbers stored as numbers (checked against the published CSV)."""
    from odf.namespaces import OFFICENS
    from odf.opendocument import load
    from odf.table import Table, TableCell, TableRow

    folder = out(built)
    doc = load(str(folder / "tables.ods"))
    sheets = doc.spreadsheet.getElementsByType(Table)
    names = [t.getAttribute("name") for t in sheets]
    csvs = sorted((folder / "tables").glob("*.csv"))
    assert names[:3] == ["Cover", "Contents", "Notes"] and len(names) == 3 + len(csvs)

    def rows(table) -> list[list[tuple[str, str]]]:
        return [[(c.getAttrNS(OFFICENS, "value-type") or "", str(c)) for c in r.getElementsByType(TableCell)]
                for r in table.getElementsByType(TableRow)]

    notes = " ".join(v for r in rows(sheets[2]) for _, v in r)
    assert "c: suppressed" in notes and "x: not available" in notes
    contents = rows(sheets[1])
    for table in sheets[3:]:
        body = rows(table)
        assert body[0][0][1].endswith("[note 1] [note 2]")  # the title line first, in A1
        header = body[3]
        title = next(r[1][1] for r in contents if r[0][1] == table.getAttribute("name"))
        with (folder / "tables" / f"{_table_id(title)}.csv").open() as f:
            published = list(csv.reader(f))
        assert len(body) - 4 == len(published) - 1 and len(header) == len(published[0])
        for cells, want in zip(body[4:], published[1:], strict=True):
            for (kind, shown), text in zip(cells[1:], want[1:], strict=True):
                text = "z" if text == "–" else text  # the guidance wants letters: – (no cases) is z there
                assert shown.replace(",", "") == text.replace(",", "") or float(shown) == float(text.replace(",", ""))
                assert kind == ("string" if text in ("c", "x", "z", "") or not re.fullmatch(r"[\d,.-]+", text)
                                else "float")


def _table_id(title: str) -> str:
    from iro_metrics.metrics import REGISTRY

    return next(mid for mid, m in REGISTRY.items() if title == f"{m.title}, Demo Borough, 2024-25 [note 1] [note 2]")


def test_pdf_footer_and_short_provenance(built):
    pdftotext = shutil.which("pdftotext")
    if not pdftotext:
        pytest.skip("needs pdftotext (poppler-utils)")
    text = subprocess.run([pdftotext, "-layout", str(out(built) / "appendix.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = text.split("\f")[:-1]
    assert all(re.search(rf"Demo Borough\s+Page {i} of {len(pages)}", p) for i, p in enumerate(pages, 1))
    assert not re.search(r"\b[0-9a-f]{64}\b.*\n.*\b[0-9a-f]{64}\b", text)  # no list of file hashes
    assert "build.json" in text and "Fingerprint of the input files" in text


def test_no_child_identifier_in_any_output(built, demo_data):
    header = [line.split(",") for line in (demo_data / "2024-25" / "header.csv").read_text().splitlines()[1:]]
    children, upns = {h[0] for h in header}, {h[4] for h in header}
    episodes = (demo_data / "2024-25" / "episodes.csv").read_text().splitlines()[1:]
    postcodes = {line.split(",")[10] for line in episodes} | {line.split(",")[11] for line in episodes}
    for path in out(built).rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            words = set(re.findall(r"[A-Z0-9]+", text))
            assert not (children & words), path.name
            assert not (upns & words), path.name
            assert not any(p in text for p in postcodes), path.name


def test_metrics_json_matches_iro_report_metrics(built, demo_data, capsys):
    from iro_metrics.cli import main

    main(["metrics", "--data", str(demo_data), "--year", "2024-25", "--population", "52000",
          "--council", "Demo Borough", "--population-by-ethnicity",
          str(Path(__file__).parents[1] / "params" / "demo-borough" / "population-by-ethnicity.csv")])
    assert json.loads(capsys.readouterr().out) == json.loads((out(built) / "metrics.json").read_text())


def test_a_failing_metric_names_its_section_and_leaves_outputs(built, monkeypatch, tmp_path):
    before = {name: sha(out(built) / name) for name in OUTPUTS}
    # the notebook's kernel computes the figures: break the metric there, as it starts
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "sitecustomize.py").write_text(
        "import dataclasses\nfrom iro_metrics.metrics import REGISTRY\n\n\ndef broken(m):\n"
        "    raise ZeroDivisionError('division by zero')\n\n\n"
        "REGISTRY['reviews_held'] = dataclasses.replace(REGISTRY['reviews_held'], func=broken)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "broken"), *sys.path]))
    with pytest.raises(MetricError, match="Reviews and their timeliness: metric reviews_held failed"):
        build(built / "params" / "demo" / "2024-25.yaml", outputs=built / "outputs", reuse=False)
    assert {name: sha(out(built) / name) for name in OUTPUTS} == before


def test_a_failing_notebook_cell_leaves_outputs(built, tmp_path):
    import nbformat

    nb = nbformat.read(Path(__file__).parents[1] / "notebooks" / "appendix.ipynb", as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("raise RuntimeError('Reviews and their timeliness: no data')"))
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    before = {name: sha(out(built) / name) for name in OUTPUTS}
    with pytest.raises(BuildError, match="RuntimeError: Reviews and their timeliness: no data"):
        build(built / "params" / "demo" / "2024-25.yaml", outputs=built / "outputs", notebook=bad)
    assert {name: sha(out(built) / name) for name in OUTPUTS} == before
    # no scratch or set-aside outputs left; the lock file stays (report/publication.py)
    assert not [p for p in out(built).parent.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


@pytest.mark.parametrize("width", [375, 1280])
def test_accessibility_axe_core_in_chromium(built, width):
    """axe-core (WCAG 2.2 A/AA and best practice) in a real headless Chromium, offline, on a phone and on
    a laptop: no violations, and the page itself never scrolls sideways (wide tables scroll in their box)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    ready = chromium and shutil.which("node") and (A11Y / "node_modules" / "axe-core").is_dir()
    if not ready:
        if os.environ.get("CI"):
            pytest.fail("CI must provide chromium, node and tests/a11y/node_modules (.ci/run installs them)")
        pytest.skip("needs chromium and `npm ci --prefix tests/a11y` (.ci/run installs both)")
    r = subprocess.run(["node", str(A11Y / "axe.mjs"), str(out(built) / "appendix.html"), "-", str(width)],
                       capture_output=True, text=True, timeout=120)
    report = json.loads(r.stdout)
    assert report["violations"] == [], json.dumps(report["violations"], indent=1)
    assert report["passes"] > 20
    assert report["overflow"] <= 0, f"the page scrolls {report['overflow']} px sideways at {width} px"
