"""Rendering an executed appendix notebook: accessible HTML (own nbconvert template) and a tagged
PDF/UA-1 (HTML -> pandoc -> Typst, installable from pip alone on Linux, macOS and Windows)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import tempfile
from pathlib import Path

import nbformat

TEMPLATES = Path(__file__).parent / "templates"
#: what officers' Markdown may become in the page; anything else (scripts, styles, forms) is escaped
SAFE_TAGS = ["p", "em", "strong", "ul", "ol", "li", "a", "h3", "h4", "blockquote", "br", "code", "table", "thead",
             "tbody", "tr", "th", "td", "caption"]
SAFE_ATTRIBUTES = {"a": ["href", "title"], "th": ["scope"]}


def sanitise(markup: str) -> str:
    """Officers' commentary is shown, never run: only plain formatting tags survive."""
    import bleach

    return bleach.clean(markup, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES, protocols=["https", "mailto"],
                        strip=False)
REMOVE_TAGS = ["parameters", "injected-parameters", "remove-cell"]


def to_html(nb: nbformat.NotebookNode, title: str, lang: str = "en", draft: bool = True) -> str:
    """One self-contained page: no code, no prompts, no network references."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="iro", extra_template_basedirs=[str(TEMPLATES)], exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=REMOVE_TAGS, enabled=True), enabled=True)
    exporter.register_filter("sanitise", sanitise)
    css = (TEMPLATES / "iro" / "appendix.css").read_text(encoding="utf-8")
    body, _ = exporter.from_notebook_node(nb, resources={"iro": {"lang": lang, "title": title, "css": css,
                                                                 "draft": draft}})
    return body


def to_pdf(page: str, out: Path, title: str, when: dt.date, lang: str = "en-GB", footer: str = "") -> None:
    """A4, tagged, PDF/UA-1 (the compile fails if any image lacks alt text), fonts embedded, dated
    ``when`` rather than now so that rebuilding gives the same bytes; ``footer`` (the council's name)
    beside "Page N of M" on every page."""
    import pypandoc
    import typst

    with tempfile.TemporaryDirectory() as tmp:
        typ = Path(tmp) / "appendix.typ"
        page = _images_to_files(page, Path(tmp))
        text = pypandoc.convert_text(
            page, "typst", format="html",
            extra_args=["--standalone", f"--template={TEMPLATES / 'iro' / 'appendix.typst'}", "--lua-filter",
                        str(TEMPLATES / "iro" / "figures.lua"), "-M", f"title={title}", "-V", f"lang={lang[:2]}",
                        "-V", f"footer={_typst_text(footer)}",
                        "--columns=100"])
        typ.write_text(text, encoding="utf-8")
        stamp = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
        typst.compile(str(typ), output=str(out), pdf_standards=["ua-1"], timestamp=stamp, root=tmp)


def _typst_text(text: str) -> str:
    """Plain text inside Typst markup: its markup characters escaped."""
    return re.sub(r"([\\#$*_\[\]<>@`~/=-])", r"\\\1", text)


_DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
_INLINE_SVG = re.compile(r'<svg\b[^>]*\baria-label="([^"]*)"[^>]*>.*?</svg>', flags=re.S)
#: SVG names an HTML parser lower-cases in the page (browsers restore them; a standalone SVG needs them)
_SVG_CASE = {"viewbox=": "viewBox=", "<clippath": "<clipPath", "</clippath>": "</clipPath>"}


def _images_to_files(page: str, folder: Path) -> str:
    """Embedded PNGs and inline SVG charts become files beside the Typst source or the Word document
    (both read images from files); an SVG chart becomes an image with its accessible name as alt text,
    so it stays vector in the PDF."""
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
