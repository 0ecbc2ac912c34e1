"""Comparing a rebuilt artefact with the published one, difference by difference.

Every function returns :class:`Difference` records: the artefact, the report section it is in, what
rebuilding gives (``expected``) and what is published (``found``). Byte-identical files give none;
otherwise the comparison falls back to what a reader sees: the text in reading order (every word and
number), the figures, the PDF's tags and metadata, the cells of a table, the values of a JSON document.
"""

from __future__ import annotations

import csv
import difflib
import html
import zipfile
import io
import json
import re
from dataclasses import asdict, dataclass
from html.parser import HTMLParser

from iro_metrics.report.sections import REPORT_SECTIONS

LIMIT = 20  # differences listed per artefact; the rest are counted
_CONTEXT = 6  # words of context either side of a difference in running text


@dataclass(frozen=True)
class Difference:
    artefact: str  # e.g. "appendix.html", "tables/cla_by_age.csv"
    section: str  # the report section it is in, or "" where it belongs to none
    expected: str  # what rebuilding gives
    found: str  # what is published
    where: str = ""  # e.g. "cell 8", "page 3", "row 2, column count"

    def line(self) -> str:
        place = ", ".join(p for p in (self.section, self.where) if p)
        return f"{self.artefact}{f' ({place})' if place else ''}: expected {self.expected}, found {self.found}"

    def as_dict(self) -> dict:
        return asdict(self)


def capped(differences: list[Difference], artefact: str) -> list[Difference]:
    """At most ``LIMIT`` differences, and one line saying how many more there are."""
    if len(differences) <= LIMIT:
        return differences
    more = len(differences) - LIMIT
    return differences[:LIMIT] + [Difference(artefact, "", "…", "…", f"{more} more differences, not listed")]


def show(value: object, width: int = 160) -> str:
    """A value quoted for a report line, shortened in the middle when long."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split()) if isinstance(value, str) else text
    if len(text) > width:
        text = text[: width // 2 - 2] + " … " + text[-(width // 2 - 2):]
    return f'"{text}"' if isinstance(value, str) else text


# --- text in reading order ------------------------------------------------------------------------

Words = list[tuple[str, str]]  # (section, word) in reading order

_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "tr", "caption", "figcaption",
           "section", "header", "nav", "table", "br", "figure", "main", "footer", "ol", "ul", "dt", "dd"}
_SKIP = {"style", "script", "head"}


class _Text(HTMLParser):
    """Words of an HTML page in reading order, each with the ``<h2>`` section it falls under; an
    image counts as its alt text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: Words = []
        self.section, self._skip, self._h2, self._heading = "", 0, False, []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "h2":
            self._h2, self._heading = True, []
        elif tag == "img":
            alt = dict(attrs).get("alt") or ""
            self._add(f"[image: {alt}]" if alt else "[image without alt text]", split=False)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "h2" and self._h2:
            self._h2 = False
            self.section = " ".join(self._heading)
            self.words += [(self.section, w) for w in self._heading]

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._add(data)

    def _add(self, text: str, split: bool = True) -> None:
        words = text.split() if split else [text]
        if self._h2:
            self._heading += words
        else:
            self.words += [(self.section, w) for w in words]


def html_words(page: str) -> Words:
    parser = _Text()
    parser.feed(page)
    parser.close()
    return parser.words


def text_words(pages: list[str], sections: list[str]) -> list[tuple[str, str, int]]:
    """Words of extracted PDF text, each with its section (a line equal to a known section title starts
    that section) and its page number."""
    titles = set(sections)
    out, section = [], ""
    for number, text in enumerate(pages, 1):
        for line in text.splitlines():
            if " ".join(line.split()) in titles:
                section = " ".join(line.split())
            out += [(section, w, number) for w in line.split()]
    return out


def word_differences(artefact: str, expected: list[tuple], found: list[tuple]) -> list[Difference]:
    """Differences between two word sequences (section, word[, page]) in reading order, each shown
    with a few words of context."""
    a, b = [w[1] for w in expected], [w[1] for w in found]
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        at = expected[i1] if i1 < len(expected) else (expected[-1] if expected else ("", "", 0))
        before = " ".join(a[max(0, i1 - _CONTEXT):i1])
        where = f"page {at[2]}, " if len(at) > 2 else ""
        out.append(Difference(artefact, at[0], show(" ".join(a[i1:i2]) or "nothing"),
                              show(" ".join(b[j1:j2]) or "nothing"), f"{where}after “{show(before, 60)[1:-1]}”"))
    return capped(out, artefact)


def html_differences(artefact: str, expected: str, found: str) -> list[Difference]:
    """Text first (what a reader sees), then images, then the markup itself."""
    if expected == found:
        return []
    diffs = word_differences(artefact, html_words(expected), html_words(found))
    if diffs:
        return diffs
    images = [(x, y) for x, y in zip(_images(expected), _images(found), strict=False) if x != y]
    if images or len(_images(expected)) != len(_images(found)):
        return [Difference(artefact, "", "the figures as rebuilt", "different image data", "figures")]
    return [_first_line_difference(artefact, expected.splitlines(), found.splitlines(), "markup")]


_IMAGE = re.compile(r'src="data:image/[a-z]+;base64,([A-Za-z0-9+/=]+)"')


def _images(page: str) -> list[str]:
    return _IMAGE.findall(page)


def _first_line_difference(artefact: str, a: list[str], b: list[str], what: str) -> Difference:
    for n, (x, y) in enumerate(zip(a, b, strict=False), 1):
        if x != y:
            x, y = _around_first_difference(x, y)
            return Difference(artefact, "", show(x), show(y), f"{what}, line {n}")
    return Difference(artefact, "", f"{len(a)} lines", f"{len(b)} lines", what)


def _around_first_difference(x: str, y: str, before: int = 50, width: int = 150) -> tuple[str, str]:
    """The stretch of two long lines where they first differ (a line of markup can run to thousands of
    characters: shortened in the middle, both would show the same ends)."""
    first = next((i for i, (c, d) in enumerate(zip(x, y, strict=False)) if c != d), min(len(x), len(y)))
    start = max(0, first - before)
    return tuple(("…" if start else "") + t[start:start + width] + ("…" if len(t) > start + width else "")
                 for t in (x, y))


# --- PDF ------------------------------------------------------------------------------------------

def pdf_differences(artefact: str, expected: bytes, found: bytes, page: str) -> list[Difference]:
    """Text in reading order page by page, then metadata, then the tag structure (with alt texts).
    ``page`` is the HTML the PDF was made from: its section headings name where a difference is."""
    if expected == found:
        return []
    sections = list(dict.fromkeys(s for s, _ in html_words(page) if s))
    try:
        a, b = _pdf(expected), _pdf(found)
    except Exception as e:  # noqa: BLE001 - any unreadable PDF is reported, whatever pypdf raises
        return [Difference(artefact, "", "a readable PDF", show(f"unreadable ({type(e).__name__}: {e})"))]
    diffs = word_differences(artefact, text_words(a["pages"], sections), text_words(b["pages"], sections))
    for key in sorted(set(a["metadata"]) | set(b["metadata"])):
        if a["metadata"].get(key) != b["metadata"].get(key):
            diffs.append(Difference(artefact, "", show(a["metadata"].get(key, "none")),
                                    show(b["metadata"].get(key, "none")), f"metadata {key}"))
    if a["xmp"] != b["xmp"]:
        diffs.append(Difference(artefact, "", "the rebuilt XMP metadata", "different XMP metadata", "metadata"))
    if a["tags"] != b["tags"]:
        diffs.append(_first_tag_difference(artefact, a["tags"], b["tags"]))
    if not diffs:
        diffs.append(Difference(artefact, "", "the rebuilt bytes", "the same text, tags and metadata but different "
                                "bytes (fonts, images or layout)", "file"))
    return capped(diffs, artefact)


def _pdf(data: bytes) -> dict:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    xmp = root.get("/Metadata")
    tags: list[str] = []
    if "/StructTreeRoot" in root:
        _walk(root["/StructTreeRoot"].get("/K"), tags)
    return {"pages": [p.extract_text() or "" for p in reader.pages],
            "metadata": {str(k): str(v) for k, v in (reader.metadata or {}).items()},
            "xmp": xmp.get_object().get_data() if xmp is not None else b"", "tags": tags}


def _walk(node, out: list[str]) -> None:
    """The structure tree in document order: each element's type, with its alt text where it has one."""
    if node is None:
        return
    node = node.get_object() if hasattr(node, "get_object") else node
    if isinstance(node, list):
        for kid in node:
            _walk(kid, out)
    elif hasattr(node, "keys") and "/S" in node:
        alt = node.get("/Alt")
        out.append(f"{node['/S']}" + (f" (alt: {alt})" if alt else ""))
        _walk(node.get("/K"), out)


def _first_tag_difference(artefact: str, a: list[str], b: list[str]) -> Difference:
    for n, (x, y) in enumerate(zip(a, b, strict=False), 1):
        if x != y:
            return Difference(artefact, "", show(x), show(y), f"tags, element {n}")
    return Difference(artefact, "", f"{len(a)} tagged elements", f"{len(b)}", "tags")


# --- tables and JSON ------------------------------------------------------------------------------

def section_of_figure(name: str) -> str:
    """The report section an indicator or table belongs to."""
    from iro_metrics.metrics import REGISTRY  # pandas: imported only when a figure differs

    metric = REGISTRY.get(name)
    return REPORT_SECTIONS.get(metric.section, metric.section) if metric else ""


def csv_differences(artefact: str, name: str, expected: str, found: str) -> list[Difference]:
    """Cell by cell: the header, then each row (named by its first cell) and column."""
    if expected == found:
        return []
    section = section_of_figure(name)
    a, b = list(csv.reader(io.StringIO(expected))), list(csv.reader(io.StringIO(found)))
    if not a or not b or a[0] != b[0]:
        return [Difference(artefact, section, show(",".join(a[0]) if a else "a header"),
                           show(",".join(b[0]) if b else "an empty file"), "header")]
    header, diffs = a[0], []
    for n in range(1, max(len(a), len(b))):
        x, y = (a[n] if n < len(a) else None), (b[n] if n < len(b) else None)
        if x is None or y is None:
            diffs.append(Difference(artefact, section, show(",".join(x)) if x else "no row",
                                    show(",".join(y)) if y else "no row", f"row {n}"))
            continue
        for col, (u, v) in enumerate(zip(x, y, strict=False)):
            if u != v:
                diffs.append(Difference(artefact, section, show(u), show(v),
                                        f"row {n} ({x[0]}), column {header[col] if col < len(header) else col + 1}"))
        if len(x) != len(y):
            diffs.append(Difference(artefact, section, f"{len(x)} cells", f"{len(y)} cells", f"row {n}"))
    return capped(diffs or [_first_line_difference(artefact, expected.splitlines(), found.splitlines(), "text")],
                  artefact)


def json_differences(artefact: str, expected: object, found: object, path: str = "") -> list[Difference]:
    """Value by value, each named by its path (``indicators.reviews_held.value``)."""
    if expected == found:
        return []
    if isinstance(expected, dict) and isinstance(found, dict):
        out = []
        for key in list(expected) + [k for k in found if k not in expected]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in found:
                out.append(Difference(artefact, _json_section(sub), show(expected[key]), "nothing", sub))
            elif key not in expected:
                out.append(Difference(artefact, _json_section(sub), "nothing", show(found[key]), sub))
            else:
                out += json_differences(artefact, expected[key], found[key], sub)
        return out if path else capped(out, artefact)
    if isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        out = [d for n, (x, y) in enumerate(zip(expected, found, strict=True))
               for d in json_differences(artefact, x, y, f"{path}[{n}]")]
        return out if path else capped(out, artefact)
    return [Difference(artefact, _json_section(path), show(expected), show(found), path)]


def _json_section(path: str) -> str:
    parts = path.split(".")
    return section_of_figure(parts[1].split("[")[0]) if len(parts) > 1 and parts[0] in ("indicators", "tables") \
        else ""


def docx_differences(artefact: str, expected: bytes, found: bytes) -> list[Difference]:
    """A Word paper: its words in reading order (each under the heading it follows), then the file."""
    if expected == found:
        return []
    try:
        a, b = _docx_words(expected), _docx_words(found)
    except (zipfile.BadZipFile, KeyError) as e:
        return [Difference(artefact, "", "a Word document", f"unreadable ({type(e).__name__})")]
    return word_differences(artefact, a, b) or [
        Difference(artefact, "", "the Word paper rebuilt from the page", "the same words in a different file",
                   "layout, styles or pictures")]


def _docx_words(data: bytes) -> list[tuple[str, str]]:
    """(heading, word) in reading order from ``word/document.xml`` (no library beyond the standard one)."""
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode("utf-8")
    out, heading = [], ""
    for para in re.findall(r"<w:p[ >].*?</w:p>", xml, flags=re.S):
        text = html.unescape("".join(re.findall(r"<w:t(?: [^>]*)?>([^<]*)</w:t>", para)))
        if re.search(r'<w:pStyle w:val="Heading[12]"', para):
            heading = text
        out += [(heading, w) for w in text.split()]
    return out


def xlsx_differences(artefact: str, expected: bytes, found: bytes) -> list[Difference]:
    """A spreadsheet: the sheet and cell of each differing value, then the file."""
    if expected == found:
        return []
    try:
        a, b = _xlsx_cells(expected), _xlsx_cells(found)
    except (zipfile.BadZipFile, KeyError) as e:
        return [Difference(artefact, "", "a spreadsheet", f"unreadable ({type(e).__name__})")]
    out = []
    for sheet, ref in sorted(set(a) | set(b)):
        x, y = a.get((sheet, ref), ("", True)), b.get((sheet, ref), ("", True))
        if x != y:
            kinds = x[0] == y[0]  # the same characters: a number in one, text in the other (Excel sums no text)
            out.append(Difference(artefact, sheet, _cell_shown(x, kinds), _cell_shown(y, kinds), f"cell {ref}"))
    return capped(out, artefact) or [
        Difference(artefact, "", "the spreadsheet rebuilt from the tables", "the same values in a different file",
                   "layout or styles")]


def _cell_shown(cell: tuple[str, bool], kind: bool) -> str:
    value, text = cell
    return f"the {'text' if text else 'number'} {show(value)}" if kind else show(value)


_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", flags=re.S)  # a cell's attributes and content


def _xlsx_cells(data: bytes) -> dict[tuple[str, str], tuple[str, bool]]:
    """(sheet name, cell reference) -> (the value shown, whether it is text), from the workbook's XML
    (standard library)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    shared = [html.unescape("".join(re.findall(r"<t[^>]*>([^<]*)</t>", si)))
              for si in re.findall(r"<si>.*?</si>", z.read("xl/sharedStrings.xml").decode("utf-8"), flags=re.S)] \
        if "xl/sharedStrings.xml" in z.namelist() else []
    rels = dict(re.findall(r'<Relationship [^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"',
                           z.read("xl/_rels/workbook.xml.rels").decode("utf-8")))
    rels.update({k: v for v, k in re.findall(r'<Relationship [^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"',
                                             z.read("xl/_rels/workbook.xml.rels").decode("utf-8"))})
    sheets = re.findall(r'<sheet [^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', z.read("xl/workbook.xml").decode("utf-8"))
    cells = {}
    for name, rid in sheets:
        xml = z.read("xl/" + rels[rid].removeprefix("/xl/")).decode("utf-8")
        for attributes, content in _CELL.findall(xml):
            ref, kind = re.search(r'\br="([A-Z]+[0-9]+)"', attributes), re.search(r'\bt="(\w+)"', attributes)
            kind = kind.group(1) if kind else ""
            if ref is None:  # a cell whose place is left to its position: not written by any program we know
                continue
            if kind == "inlineStr":  # as other programs (openpyxl, LibreOffice) write text
                value = html.unescape("".join(re.findall(r"<t[^>]*>([^<]*)</t>", content)))
            elif (v := re.search(r"<v>([^<]*)</v>", content)) is not None:
                value = shared[int(v.group(1))] if kind == "s" else html.unescape(v.group(1))
            else:  # a cell with a style and no value
                continue
            cells[(html.unescape(name), ref.group(1))] = (value, kind in ("s", "inlineStr", "str"))
    return cells
