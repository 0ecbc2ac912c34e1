"""``iro-report verify``: prove that a published appendix, every artefact of it, reproduces.

For each ``outputs/<council>/<year>/`` folder:

1. the executed notebook is re-executed with nbval (``pytest --nbval`` in the current environment,
   with the project's sanitiser file), in a scratch copy whose data folder is the reviewer's (the
   published one is never touched); nbval compares every cell's outputs with the published ones, and
   the re-executed outputs are kept (:mod:`iro_metrics.report.nbval_capture`);
2. in the same kernel, after the last cell, ``metrics.json`` and ``tables/*.csv`` are written from the
   figures the notebook computed, as ``build`` writes them (so they are computed once);
3. the HTML page and the PDF are rebuilt from the re-executed notebook and the commentary file it was
   built from, exactly as ``build`` makes them;
4. each rebuilt artefact is compared with the published one: byte for byte, and where they differ,
   by what a reader sees (:mod:`iro_metrics.report.compare`). A missing or an extra file fails.

The outcome is one of three: it reproduces; it does not reproduce (each difference listed with its
artefact, section, expected and found); or it could not be run (no data where the notebook or
``--data`` says, parameters that cannot be read, a notebook that fails before any figure).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import json
import multiprocessing
import os
import re
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import nbformat

from iro_metrics.errors import IroMetricsError, UsageError
from iro_metrics.report import commentary as C
from iro_metrics.report.compare import (Difference, csv_differences, docx_differences, html_differences, html_words,
                                        json_differences, pdf_differences, word_differences, xlsx_differences)
from iro_metrics.report.build import PUBLISHED
from iro_metrics.report.figures import after_last_cell, quotable
from iro_metrics.report.manifest import MANIFEST
from iro_metrics.report.params import slug as council_slug
from iro_metrics.report.sections import REPORT_SECTIONS
from iro_metrics.shipped import sha256_file

T = TypeVar("T")

SANITISER = Path(__file__).parent / "nbval-sanitise.cfg"
DATA_ENV = "IRO_REPORT_DATA"  # the data folder, when it is not where the notebook says
REPRODUCES, DIFFERS, COULD_NOT_RUN = "reproduces", "does not reproduce", "could not run"
EXIT = {REPRODUCES: 0, DIFFERS: 1, COULD_NOT_RUN: 2}


class CouldNotRun(IroMetricsError):
    """Verification could not be carried out (not a finding about the published outputs)."""


@dataclass
class Outcome:
    folder: Path
    status: str
    differences: list[Difference] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # artefacts compared
    cells: int = 0  # code cells re-executed
    reason: str = ""  # why it could not run
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == REPRODUCES

    def report(self) -> str:
        lines = [f"{self.folder}: {self.status.upper()}"]
        if self.reason:
            lines.append(f"  {self.reason}")
        lines += [f"  {d.line()}" for d in self.differences]
        lines += [f"  note: {n}" for n in self.notes]
        if self.checked:
            lines.append(f"  compared: {', '.join(self.checked)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"folder": str(self.folder), "status": self.status, "reason": self.reason, "cells": self.cells,
                "checked": self.checked, "notes": self.notes, "differences": [d.as_dict() for d in self.differences]}


def notebooks(path: str | Path) -> list[Path]:
    """``path`` itself (an appendix.ipynb or its folder), or every ``appendix.ipynb`` below a folder."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder")
    found = sorted(p for p in path.rglob("appendix.ipynb") if not any(part.startswith(".") for part in p.parts))
    if not found:
        raise UsageError(f"{path}: no appendix.ipynb found")
    return found


def verify(path: str | Path, workers: int = 1, data: str | Path | None = None) -> list[Outcome]:
    """Verify every appendix below ``path``; ``data`` (or ``$IRO_REPORT_DATA``) is the data folder
    when it is not where the notebooks record it (see :func:`data_folder`)."""
    data = data or os.environ.get(DATA_ENV) or None
    found = notebooks(path)
    if workers > 1 and len(found) > 1:
        # spawned, not forked: a fork of a process with threads running (zmq's, the render thread's) can hang
        with ProcessPoolExecutor(min(workers, len(found)), mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(verify_one, found, [data] * len(found)))
    return [verify_one(nb, data) for nb in found]


def verify_one(notebook: Path, data: str | Path | None = None) -> Outcome:
    folder = notebook.parent
    try:
        return _verify(notebook, data)
    except CouldNotRun as e:
        return Outcome(folder, COULD_NOT_RUN, reason=str(e))
    except IroMetricsError as e:  # the data or the parameters cannot be used
        return Outcome(folder, COULD_NOT_RUN, reason=f"the inputs cannot be used: {e}")


# --- the steps ------------------------------------------------------------------------------------

def parameters(nb: nbformat.NotebookNode) -> dict:
    """The values papermill injected (the notebook's ``injected-parameters`` cell)."""
    cell = next((c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise CouldNotRun("the notebook has no injected parameters: it was not built by iro-report build")
    values = {}
    try:
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                values[node.targets[0].id] = ast.literal_eval(node.value)
    except (SyntaxError, ValueError) as e:
        raise CouldNotRun(f"the notebook's injected parameters cannot be read: {e}") from None
    missing = {"council", "year", "data"} - set(values)
    if missing:
        raise CouldNotRun(f"the notebook's injected parameters lack {', '.join(sorted(missing))}")
    return values


def data_folder(notebook: Path, recorded: str, override: str | Path | None, slug: str) -> Path:
    """Where the inputs are: ``override`` (``--data``), or ``override/<council-slug>`` when it holds
    one folder per council; else the folder the notebook records, relative to itself."""
    if override:
        base = Path(override).expanduser().resolve()
        # the council's folder: named as its slug, or a name that gives it ("Space Council/", "space_council/")
        named = sorted((d for d in base.iterdir() if d.is_dir() and council_slug(d.name) == slug),
                       key=lambda d: (d.name != slug, d.name)) if base.is_dir() else []
        if len(named) > 1 and named[0].name != slug:
            raise CouldNotRun(f"{base} (given with --data or ${DATA_ENV}) holds more than one folder for this council "
                              f"({', '.join(d.name for d in named)}): give the council's own folder")
        folder = named[0] if named else base
        how = "given with --data or $" + DATA_ENV
    else:
        folder = (notebook.parent / recorded).resolve()
        how = "recorded in the notebook, relative to it"
    if not folder.is_dir():
        raise CouldNotRun(f"no data folder at {folder} ({how}): verify needs the inputs the appendix was built "
                          f"from; give their folder with --data DIR or ${DATA_ENV}")
    return folder


def _verify(notebook: Path, override: str | Path | None) -> Outcome:
    folder = notebook.parent
    try:
        published = nbformat.read(notebook, as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises many kinds for a damaged file
        raise CouldNotRun(f"{notebook.name} cannot be read as a notebook: {type(e).__name__}") from None
    values = parameters(published)
    slug = council_slug(str(values["council"]))
    data = data_folder(notebook, values["data"], override, slug)
    for key in ("population_by_ethnicity", "comparators", "reference_docx"):  # the council's other inputs
        if values.get(key) and not (folder / values[key]).exists():
            raise CouldNotRun(f"{key}: {values[key]} (recorded in the notebook, relative to it: "
                              f"{(folder / values[key]).resolve()}) is not at hand: verify needs the inputs the "
                              "appendix was built from; verify it where it was built, beside its params folder, or "
                              "put the file there")
    local = (folder / values["comparators"]).resolve() if values.get("comparators") else None
    with tempfile.TemporaryDirectory(prefix="iro-verify-") as tmp, contextlib.ExitStack() as stack:
        from iro_metrics.report.nbval_capture import start_kernel, stop_kernel

        (Path(tmp) / "run").mkdir()
        try:
            kernel = start_kernel(Path(tmp) / "run")  # it starts while this process imports what it needs
            stack.callback(stop_kernel, kernel)
        except (OSError, RuntimeError, KeyError):  # could not be started: nbval tries itself, and says why
            kernel = None
        _import_first()
        pool = stack.enter_context(ThreadPoolExecutor(1))
        # the pages are a pure function of the outputs: render them from the published outputs while the
        # kernel re-executes, and keep them when the re-executed outputs are the same
        early = pool.submit(_in_the_background, _render, copy.deepcopy(published), folder, values)
        cells, expected_metrics, expected_tables, sheets = _rerun(published, values, data, local, Path(tmp), folder,
                                                                  kernel)
        rerun = _rerun_notebook(published, cells)
        page, pdf, docx, notes = early.result() if _same_outputs(published, rerun) else _render(rerun, folder, values)
    outcome = Outcome(folder, REPRODUCES, cells=len(cells), notes=notes)
    diffs = outcome.differences
    diffs += _notebook_differences(published, cells)
    present = _files(folder)
    wanted = {name for name in PUBLISHED if not name.endswith("/")} | {f"tables/{n}" for n in expected_tables}
    diffs += [Difference(name, "", "a published file", "none (missing)") for name in sorted(wanted - present)]
    diffs += [Difference(name, "", "no such file", "an extra file") for name in sorted(present - wanted)]
    if "appendix.html" in present:
        diffs += html_differences("appendix.html", page, _text(folder / "appendix.html"))
    if "appendix.pdf" in present:
        diffs += pdf_differences("appendix.pdf", pdf, (folder / "appendix.pdf").read_bytes(), page)
    if "appendix.docx" in present:
        diffs += docx_differences("appendix.docx", docx, (folder / "appendix.docx").read_bytes())
    if "tables.xlsx" in present:
        diffs += xlsx_differences("tables.xlsx", sheets["tables.xlsx"], (folder / "tables.xlsx").read_bytes())
    if "tables.ods" in present and (folder / "tables.ods").read_bytes() != sheets["tables.ods"]:
        diffs.append(Difference("tables.ods", "", "the spreadsheet rebuilt from the tables",
                                "a different file (its tables.xlsx and tables/*.csv twins are compared cell by cell)"))
    if "metrics.json" in present:
        diffs += _metrics_differences(expected_metrics, _text(folder / "metrics.json"))
    for name, text in sorted(expected_tables.items()):
        if f"tables/{name}" in present:
            diffs += csv_differences(f"tables/{name}", name.removesuffix(".csv"), text, _text(folder / "tables" / name))
    if MANIFEST in present:
        diffs += _manifest_differences(folder / MANIFEST, data, values["year"])
    outcome.checked = [f"appendix.ipynb ({len(cells)} code cells)", "appendix.html", "appendix.pdf", "appendix.docx",
                       "metrics.json", f"tables ({len(expected_tables)} CSV files)", "tables.xlsx", "tables.ods",
                       MANIFEST]
    outcome.status = DIFFERS if diffs else REPRODUCES
    return outcome


def _import_first() -> None:
    """Import what the two threads of :func:`_verify` use before the second starts: two threads importing
    the same modules for the first time can deadlock."""
    for module in ("iro_metrics.report.nbval_capture", "nbval.plugin", "nbconvert", "pypandoc", "typst",
                   "iro_metrics.report.build", "iro_metrics.metrics"):
        importlib.import_module(module)


def _rerun(published, values: dict, data: Path, local: Path | None, scratch: Path, folder: Path, kernel=None,
           ) -> tuple[list[tuple[int, bool, list]], str, dict[str, str], dict[str, bytes]]:
    """nbval re-executes a copy of the notebook in ``scratch/run`` whose data (and local comparators) are
    absolute paths, on ``kernel`` when one was started there for it; then, in the same kernel,
    ``metrics.json`` and the tables are written from the figures it computed
    (:func:`~iro_metrics.report.figures.write_figures`). Returns (code cell number, failed, outputs) per code cell, and the three
    rebuilds. A notebook that fails before it has loaded the data could not be run."""
    from iro_metrics.report.nbval_capture import run_nbval

    nb = copy.deepcopy(published)
    cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    moved = {"data": data.as_posix(), **({"comparators": local.as_posix()} if local else {})}
    if values.get("population_by_ethnicity"):  # an input file beside the params, recorded relative to the outputs
        moved["population_by_ethnicity"] = (folder / values["population_by_ethnicity"]).resolve().as_posix()
    lines = []
    for line in cell.source.splitlines():
        key = line.split(" = ", 1)[0]
        lines.append(f"{key} = {moved[key]!r}" if key in moved else line)
    cell.source = "\n".join(lines)
    (scratch / "run").mkdir(exist_ok=True)
    path, rebuilt = scratch / "run" / "appendix.ipynb", scratch / "rebuilt"
    rebuilt.mkdir()
    nbformat.write(nb, path)
    after = after_last_cell(rebuilt)
    capture, log = run_nbval(path, SANITISER, after, kernel)
    if not capture.outputs:  # not one cell ran: the kernel did not start (a busy machine); worth one retry
        capture, log = run_nbval(path, SANITISER, after)
    if not capture.outputs:
        raise CouldNotRun("nbval could not run the notebook (did its kernel start?):\n" + log[-1500:])
    code = [c for c in published.cells if c.cell_type == "code"]
    cells = [(n, not capture.passed.get(n, False), capture.outputs.get(n, [])) for n in range(len(code))]
    for n, _, outs in cells:
        error = next((o for o in outs if o.get("output_type") == "error"), None)
        if error is not None and _section_of(code[n]) in ("parameters", "loading the data and computing every figure"):
            raise CouldNotRun(f"the notebook failed while loading the data (cell {n}): {error.get('ename')}: "
                              f"{str(error.get('evalue', ''))[:500]}")
    if not (rebuilt / "metrics.json").is_file():
        raise CouldNotRun("the re-executed notebook computed no figures to rebuild metrics.json and the tables from")
    tables = {p.name: p.read_text(encoding="utf-8") for p in sorted((rebuilt / "tables").glob("*.csv"))}
    return (cells, (rebuilt / "metrics.json").read_text(encoding="utf-8"), tables,
            {name: (rebuilt / name).read_bytes() for name in ("tables.xlsx", "tables.ods")})


# --- rebuilding the pages ---------------------------------------------------------------------------

def _rerun_notebook(published, cells: list[tuple[int, bool, list]]) -> nbformat.NotebookNode:
    """The published notebook with each code cell's outputs replaced by the re-executed ones."""
    nb = copy.deepcopy(published)
    for cell, (_, _, outputs) in zip([c for c in nb.cells if c.cell_type == "code"], cells, strict=True):
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return nb


def _json_output(outputs: list) -> dict:
    return next((o["data"]["application/json"] for o in outputs if "application/json" in o.get("data", {})), {})


def _rebuild_page(nb, folder: Path, values: dict) -> tuple[str, list[str]]:
    """The HTML page from the re-executed notebook and the commentary file it records (the published
    notebook's own commentary when that file is not at hand), with quoted figures rendered."""
    from iro_metrics.report.build import TITLE
    from iro_metrics.report.render import to_html

    notes = []
    figures = quotable(nb)
    source = nb.metadata.get("iro", {}).get("commentary_file")
    path = (folder / source).resolve() if source else None
    try:
        if path is not None and path.is_file():
            C.inject(nb, C.read(path), source, figures, path)
        else:
            notes.append(f"the commentary file {source} is not at hand: the commentary in the published notebook "
                         "was used" if source else "the notebook records no commentary file")
        for cell in C.commentary_cells(nb):
            cell.source = C.render(cell.source, cell.metadata["iro"]["section"], figures)
    except C.CommentaryError as e:
        raise CouldNotRun(str(e)) from None
    final = bool(nb.metadata.get("iro", {}).get("final", False))
    return to_html(nb, TITLE.format(council=values["council"], year=values["year"]), draft=not final), notes


def _rebuild_pdf(page: str, values: dict) -> bytes:
    from iro_metrics.report.build import TITLE
    from iro_metrics.report.render import to_pdf
    from iro_metrics.years import CollectionYear

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "appendix.pdf"
        to_pdf(page, out, TITLE.format(council=values["council"], year=values["year"]),
               when=CollectionYear.parse(values["year"]).end_date, draft=not values.get("_final", False),
               footer=values["council"])
        return out.read_bytes()


def _start_docx(page: str, folder: Path, values: dict, tmp: Path) -> Callable[[], bytes]:
    """Start rebuilding the Word paper from the rebuilt page (pandoc in the background), with the
    council's reference.docx when it used one; the function returned waits and gives its bytes."""
    from iro_metrics.report.build import TITLE
    from iro_metrics.report.word import start_docx
    from iro_metrics.years import CollectionYear

    reference = (folder / values["reference_docx"]).resolve() if values.get("reference_docx") else None
    if reference is not None and not reference.is_file():
        raise CouldNotRun(f"the council's Word template {reference} is not at hand: verify needs it to rebuild "
                          "appendix.docx")
    out = tmp / "appendix.docx"
    written = start_docx(page, out, TITLE.format(council=values["council"], year=values["year"]),
                         when=CollectionYear.parse(values["year"]).end_date, reference=reference)

    def wait() -> bytes:
        written()
        return out.read_bytes()

    return wait


def _in_the_background(work: Callable[..., T], *args) -> T:
    """``work(*args)`` in this thread (and the processes it starts) at a lower priority, where Linux
    allows it: the kernel's re-execution, which verify waits for, goes first on a busy machine."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    return work(*args)


def _render(nb, folder: Path, values: dict) -> tuple[str, bytes, bytes, list[str]]:
    """The page, the PDF and the Word paper of ``nb`` (changed in place: commentary injected and
    rendered), and notes."""
    page, notes = _rebuild_page(nb, folder, values)
    final = bool(nb.metadata.get("iro", {}).get("final", False))
    with tempfile.TemporaryDirectory() as tmp:
        docx = _start_docx(page, folder, values, Path(tmp))
        try:
            pdf = _rebuild_pdf(page, {**values, "_final": final})
        except BaseException:
            with contextlib.suppress(Exception):  # pandoc is not left writing; the PDF's error is the one to tell
                docx()
            raise
        word = docx()
    return page, pdf, word, notes


def _same_outputs(a, b) -> bool:
    """Whether two notebooks' code cells hold the same outputs (execution counts aside: not shown)."""
    def outputs(nb) -> list:
        return [[{k: v for k, v in o.items() if k != "execution_count"} for o in c.get("outputs", [])]
                for c in nb.cells if c.cell_type == "code"]
    return outputs(a) == outputs(b)


# --- comparing ------------------------------------------------------------------------------------

def _section_of(cell) -> str:
    for sid, title in REPORT_SECTIONS.items():
        if f'"{sid}"' in cell.source or f"A.{sid}(" in cell.source:
            return title
    if "setup(" in cell.source:
        return "loading the data and computing every figure"
    if "header(" in cell.source:
        return "title and contents"
    if "record(" in cell.source:
        return "the machine-readable record of the published figures"
    tags = cell.metadata.get("tags", [])
    return "parameters" if "parameters" in tags or "injected-parameters" in tags else "other"


def _sanitisers() -> list[tuple[re.Pattern, str]]:
    pairs, regex = [], None
    for line in SANITISER.read_text(encoding="utf-8").splitlines():
        if line.startswith("regex:"):
            regex = re.compile(line.split(":", 1)[1].strip())
        elif line.startswith("replace:") and regex is not None:
            pairs.append((regex, line.split(":", 1)[1].strip()))
    return pairs


def _words(outputs: list, section: str) -> list[tuple[str, str]]:
    """What a cell shows, as words: its streams, HTML (as text) and plain text, sanitised as nbval is."""
    text = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text.append(("plain", out.get("text", "")))
        elif out.get("output_type") == "error":
            text.append(("plain", f"{out.get('ename')}: {out.get('evalue')}"))
        data = out.get("data", {})
        if "text/html" in data:
            text.append(("html", data["text/html"]))
        elif "text/plain" in data:
            text.append(("plain", data["text/plain"]))
    words = []
    for kind, value in text:
        value = "".join(value) if isinstance(value, list) else value
        for regex, replace in _sanitisers():
            value = regex.sub(replace, value)
        words += [(section, w) for _, w in html_words(value)] if kind == "html" else \
            [(section, w) for w in value.split()]
    return words


def _notebook_differences(published, cells: list[tuple[int, bool, list]]) -> list[Difference]:
    """Each cell nbval found different, shown as expected (re-executed) vs found (published); and every
    figure, which nbval does not compare (the page and the PDF embed them)."""
    code = [c for c in published.cells if c.cell_type == "code"]
    diffs = []
    for n, failed, outputs in cells:
        section, where = _section_of(code[n]), f"cell {n}"
        theirs = code[n].get("outputs", [])
        error = next((o for o in outputs if o.get("output_type") == "error"), None)
        if error is not None:
            diffs.append(Difference("appendix.ipynb", section, "the cell to run",
                                    f'it failed: {error.get("ename")}: {str(error.get("evalue", ""))[:300]}', where))
            continue
        if failed:
            found = word_differences("appendix.ipynb", _words(outputs, section), _words(theirs, section))
            found += json_differences("appendix.ipynb", _json_output(outputs), _json_output(theirs))
            diffs += [Difference(d.artefact, d.section or section, d.expected, d.found,
                                 f"{where}, {d.where}" if d.where else where) for d in found] or \
                [Difference("appendix.ipynb", section, "the re-executed output", "a different output", where)]
        mine = [o.get("data", {}).get("image/png") for o in outputs]
        if [i for i in mine if i] != [i for i in (o.get("data", {}).get("image/png") for o in theirs) if i]:
            diffs.append(Difference("appendix.ipynb", section, "the figure as re-executed", "a different image",
                                    f"{where}, figure"))
    return diffs


def _metrics_differences(expected: str, found_text: str) -> list[Difference]:
    if found_text == expected:
        return []
    try:
        found = json.loads(found_text)
    except json.JSONDecodeError as e:
        return [Difference("metrics.json", "", "a JSON document", f'"not JSON ({e})"')]
    return json_differences("metrics.json", json.loads(expected), found) or \
        [Difference("metrics.json", "", "the rebuilt bytes", "the same values, written differently", "layout")]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")  # a damaged file is a difference, not a crash


def _manifest_differences(path: Path, data: Path, year: str) -> list[Difference]:
    """``build.json`` must name exactly the input files verify used, with the same SHA-256."""
    from iro_metrics.years import CollectionYear, is_year_label

    try:
        inputs = json.loads(path.read_text(encoding="utf-8"))["inputs"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        return [Difference(MANIFEST, "", "the build manifest", f'"unreadable ({type(e).__name__})"')]
    cy, used = CollectionYear.parse(year), {}
    for file in sorted(data.rglob("*.csv")):
        rel = file.relative_to(data)
        top = rel.parts[0] if len(rel.parts) > 1 else ""
        if not (top and is_year_label(top) and CollectionYear.parse(top) > cy):
            used[f"data/{rel.as_posix()}"] = sha256_file(file)
    recorded = {k: v for k, v in inputs.items() if k.startswith("data/")}
    return [Difference(MANIFEST, "", used.get(k, "no such input file"), recorded.get(k, "not recorded"), f"inputs {k}")
            for k in sorted(set(used) | set(recorded)) if used.get(k) != recorded.get(k)]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
