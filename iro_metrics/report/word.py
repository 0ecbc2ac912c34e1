"""``appendix.docx``: the committee paper, made by pandoc from the same HTML page as the PDF, so it has
the same headings, tables (with header rows), charts (with their alt text) and commentary. A council's
own ``reference.docx`` styles it when the params name one; pandoc's clean default otherwise. Dated
``when`` and its zip entries restamped, so rebuilding gives the same bytes.

An officer's rebuild (``build --watch``) waits mostly for this paper: pandoc reads the whole page (about
0.13 s), then writes the paper (about 0.14 s). As for the PDF (``pdf_source``), when a page differs from
the last one this thread wrote only in its commentary, and no commentary has a heading (pandoc makes a
heading's identifier unique across the page), pandoc reads only the commentary, and the paper is
written from the last page's document (pandoc's JSON) with the new commentary in place of the old. That
document, the "frame", is used only once proven: a background thread checks that the page's commentary
put into it gives exactly the document pandoc reads from the whole page (the paper pandoc writes from a
document is the paper it writes from the page, tested). It checks after the first such rebuild, or,
in a thread that expects edits (``frame.expecting_edits``: ``build --watch``), after its first page, so
that the officer's first save finds the frame proven."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from iro_metrics.present.zipstamp import restamp
from iro_metrics.report.frame import eager, has_heading, marked, split
from iro_metrics.report.render import RenderError, pandoc_input

#: what the page has that a Word paper does not: the contents list (Word builds its own) and the
#: table wrappers' scrolling
_NAV = re.compile(r"<nav\b.*?</nav>", flags=re.S)
_MARK = f"IROWORD{secrets.token_hex(6)}"  # a commentary's place in a frame (no page can hold it)
_local = threading.local()


@dataclass
class _Proof:
    """What is known of a frame, shared by the pages that have it: the thread checking it (once started),
    and its document once the check proved it exact."""

    checking: threading.Thread | None = None
    document: dict | None = None


@dataclass
class _Last:
    """The last page this thread wrote: its frame (the page without its commentary) and commentary."""

    frame: str
    notes: list[str]
    proof: _Proof


def start_docx(page: str, out: Path, title: str, when: dt.date, lang: str = "en-GB",
               reference: Path | None = None) -> Callable[[], None]:
    """Write ``out`` from the appendix page (headings stay headings, tables keep their header row, every
    chart is an image with alt text; document title and language set) with pandoc running in the
    background: returns at once, and the function returned waits for pandoc (raising
    :class:`~iro_metrics.report.render.RenderError` if it failed) and restamps the file."""
    stamp = dt.datetime(when.year, when.month, when.day, tzinfo=dt.timezone.utc)
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    given = pandoc_input(_NAV.sub("", page), folder)
    notes, frame = split(given)
    last = getattr(_local, "last", None)
    same_frame = last is not None and last.frame == frame
    plain = not has_heading(notes)
    usable = same_frame and plain and not has_heading(last.notes)
    check = plain and (same_frame or eager())
    proof = last.proof if same_frame else _Proof()
    _local.last = _Last(frame, notes, proof)
    args = ["--to=docx", f"--output={out}", "--standalone", "--quiet", "-M", f"title={title}", "-M", f"lang={lang}",
            f"--resource-path={folder}", *([f"--reference-doc={reference}"] if reference is not None else [])]
    # pandoc dates the document by SOURCE_DATE_EPOCH: the date of the return, not today
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(stamp.timestamp()))}
    pool = ThreadPoolExecutor(1)
    written = pool.submit(_write, given, notes, proof.document if usable else None, folder, args, env)
    pool.shutdown(wait=False)

    def wait() -> None:
        try:
            err = written.result()
        finally:
            tmp.cleanup()
        if err is not None:
            raise RenderError(f"pandoc could not write {out.name}: {err}")
        restamp(out, stamp.replace(tzinfo=None))
        if check and proof.checking is None:  # checked once, while the officer reads what was written
            proof.checking = threading.Thread(target=_check, args=(proof, given, notes), daemon=True)
            proof.checking.start()

    return wait


def _write(given: str, notes: list[str], document: dict | None, folder: Path, args: list[str],
           env: dict[str, str]) -> str | None:
    """pandoc writes the paper, from the frame's document with ``notes`` in place when there is one and
    they come apart as they went in, from the page ``given`` otherwise; pandoc's error, or None."""
    import pypandoc

    try:
        blocks = _blocks(notes) if document is not None else None
    except (OSError, RuntimeError, ValueError):  # pandoc could not read the commentary alone: the page whole
        blocks = None

    def run(source: Path) -> subprocess.CompletedProcess:
        return subprocess.run([pypandoc.get_pandoc_path(), str(source), f"--from={source.suffix[1:]}", *args],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    if blocks is not None and (doc := _spliced(document, blocks)) is not None:
        source = folder / "appendix.json"
        source.write_text(json.dumps(doc), encoding="utf-8")
        if run(source).returncode == 0:
            return None  # (a paper pandoc could not write from the frame is written from the page)
    source = folder / "appendix.html"
    source.write_text(given, encoding="utf-8")
    done = run(source)
    return done.stderr.decode(errors="replace").strip()[:500] if done.returncode != 0 else None


def _read(html: str) -> dict:
    """The document pandoc reads from ``html`` (its JSON)."""
    import pypandoc

    return json.loads(pypandoc.convert_text(html, "json", format="html", verify_format=False))


def _blocks(notes: list[str]) -> list[dict] | None:
    """Each commentary ``<div>``'s block, read together in one pandoc run (None if they do not come
    apart as they went in)."""
    if not notes:
        return []
    blocks = _read("".join(notes))["blocks"]
    ok = len(blocks) == len(notes) and all(b["t"] == "Div" and "commentary" in b["c"][0][1] for b in blocks)
    return blocks if ok else None


def _is_mark(block: dict) -> int | None:
    """The number a frame's marked commentary holds, else None."""
    if block["t"] != "Div" or len(block["c"][1]) != 1:
        return None
    inner = block["c"][1][0]
    if inner["t"] != "Para" or len(inner["c"]) != 1 or inner["c"][0]["t"] != "Str":
        return None
    text = inner["c"][0]["c"]
    return int(text[len(_MARK):]) if text.startswith(_MARK) and text[len(_MARK):].isdigit() else None


def _spliced(document: dict, blocks: list[dict]) -> dict | None:
    """The frame's document with its n-th mark replaced by ``blocks[n - 1]`` (None unless the frame
    holds each mark once, in order, among its top-level blocks, as the page's commentary is)."""
    marks = [(i, n) for i, b in enumerate(document["blocks"]) if (n := _is_mark(b)) is not None]
    if [n for _, n in marks] != list(range(1, len(blocks) + 1)):
        return None
    out = list(document["blocks"])
    for i, n in marks:
        out[i] = blocks[n - 1]
    return {**document, "blocks": out}


def _check(proof: _Proof, given: str, notes: list[str]) -> None:
    """Prove the frame of the page ``given`` (whose commentary is ``notes``): the page read whole must be
    its frame with its commentary in place; only then do later rebuilds use the frame."""
    try:
        document, blocks, whole = _read(marked(given, _MARK)), _blocks(notes), _read(given)
    except Exception:  # noqa: BLE001 - whatever failed in this background thread, the frame is not used
        return
    if blocks is not None and _spliced(document, blocks) == whole:
        proof.document = document
