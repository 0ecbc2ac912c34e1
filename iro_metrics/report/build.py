"""``iro-report build``: one council and year's outputs, written atomically.

Writes ``outputs/<council>/<year>/`` (:data:`PUBLISHED`): ``appendix.ipynb`` (the executed notebook),
``appendix.html``, ``appendix.pdf``, ``appendix.docx``, ``metrics.json`` (as ``iro-report metrics``),
``tables/*.csv``, ``tables.xlsx`` and ``tables.ods`` (the breakdown tables as published, with disclosure control).
Everything is built in a temporary folder beside the
target and swapped in at the end, so a build that fails part-way leaves the previous outputs untouched.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import nbformat

from iro_metrics.errors import UsageError
from iro_metrics.report import commentary as C
from iro_metrics.report.figures import WRITTEN, after_last_cell, names, quotable
from iro_metrics.report.kernel import PRELOAD, Kernel, execute, replay
from iro_metrics.report.manifest import MANIFEST, manifest, output_hashes
from iro_metrics.report.params import Params, ParamsError, load_params
from iro_metrics.report.publication import Publication
from iro_metrics.report.render import RenderError, to_html, to_pdf, warm_up
from iro_metrics.report.word import start_docx
from iro_metrics.years import CollectionYear

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "appendix.ipynb"
#: every artefact a build publishes in ``outputs/<council>/<year>/`` (``tables/`` holds one CSV per table)
PUBLISHED = ["appendix.ipynb", "appendix.html", "appendix.pdf", "appendix.docx", "metrics.json", "tables.xlsx",
             "tables.ods", "tables/", MANIFEST]
TITLE = "{council}: IRO annual report {year}, statistical appendix"  # of the page and the PDF


def output_dir(root: str | Path, council_slug: str, year: str) -> Path:
    return Path(root) / council_slug / year


def failure_log(target: Path) -> Path:
    """Where a failed batch build of the outputs folder ``target`` leaves its log (beside the folder)."""
    return target.with_suffix(".build.log")


def build(params_path: str | Path, outputs: str | Path = "outputs", notebook: Path = NOTEBOOK,
          timings: dict[str, float] | None = None, final: bool = False,
          discard_notebook_edits: bool = False, kernel: Kernel | None = None, reuse: bool = True,
          wait: float = 0) -> Path:
    """Build the outputs of one params file; returns their folder.

    The officers' commentary file beside the params is injected into the narrative cells (a skeleton is
    written for a new council). The build refuses, changing nothing, when the previous executed notebook
    holds commentary the file does not or the file holds text in no section (unless
    ``discard_notebook_edits``), and with ``final`` while any section is empty or shows the placeholder.
    One build of a folder runs at a time (a lock); an interrupted one is repaired first. When only the
    commentary changed since the last build, its figures and executed outputs are reused (``reuse``;
    the outputs are the same as a full build's). ``timings``,
    when given, receives the seconds each part took. ``kernel`` is the notebook kernel to use (a batch
    worker's warm one); by default a fresh one, launched once the build knows it needs a run. ``wait``
    is how many seconds to wait for another build (or a harvest) of the folder to finish before refusing.
    """
    clock = _Clock(timings)
    params_path = Path(params_path)
    params, data_dir = load_params(params_path)
    target = output_dir(outputs, params.slug, params.year)
    # one build of the folder at a time; an interrupted one is repaired first
    with Publication(target, wait=wait) as pub:
        _build_into(pub, params_path, params, data_dir, notebook, clock, final, discard_notebook_edits, kernel,
                    reuse)
    failure_log(target).unlink(missing_ok=True)  # a failed batch build's, now out of date
    return target


def _build_into(pub: Publication, params_path: Path, params: Params, data_dir: Path, notebook: Path, clock: _Clock,
                final: bool, discard_notebook_edits: bool, kernel: Kernel | None, reuse: bool) -> None:
    target = pub.target
    template = nbformat.read(notebook, as_version=4)
    template.metadata.setdefault("iro", {})["final"] = final  # verify rebuilds the page with or without the Draft mark
    notes_file = C.commentary_path(params_path)
    notes = C.prepare(notes_file, target / "appendix.ipynb", C.sections(template), discard_notebook_edits, final)
    source = Path(os.path.relpath(notes_file, target)).as_posix()
    built = manifest(params_path, notebook)  # after prepare, which may write the commentary skeleton
    work = pub.work
    reused = _commentary_only(target, built["inputs"], template, notes, source, work, notes_file) if reuse else None
    if reused is not None:
        nb, figures = reused
        _render(nb, figures, params, params_path, work, final, clock, meanwhile=lambda: _reuse(target, work, nb))
    else:
        with contextlib.ExitStack() as stack:
            if kernel is None:
                kernel = stack.enter_context(Kernel(preload=PRELOAD, helper=True))
            kernel.launch()  # it starts while this process writes and parameterises the notebook
            C.check_quotes(notes, names(), C.sections(template), notes_file)  # a bad quote fails now, naming its line
            if not data_dir.is_dir():  # named as the params file names it (the notebook names it from elsewhere)
                raise ParamsError(params_path, [f"data: {params.data}: {'not a' if data_dir.exists() else 'no such'} "
                                                f"folder (relative to the params file: {data_dir})"])
            warm_up()  # while the kernel starts: the page renders about 0.7 s faster afterwards
            nb = _execute(params_path, params, data_dir, template, work, kernel)
            clock.lap("execute")
            # the figures are written in the kernel while the page, the PDF and the Word paper are made here
            figures_written = kernel.begin(after_last_cell(work))
            try:
                figures = quotable(nb)
                C.inject(nb, notes, source, figures, notes_file)
                _render(nb, figures, params, params_path, work, final, clock,
                        meanwhile=lambda: nbformat.write(nb, work / "appendix.ipynb"))
            except Exception:
                with contextlib.suppress(Exception):  # the kernel is left idle; the first error is the one to tell
                    figures_written()
                raise
            except BaseException:  # Ctrl-C: no waiting for the spreadsheets
                kernel.stop()
                raise
            figures_written()
            clock.lap("figures")
    doc = {**built, "outputs": output_hashes(work)}
    (work / MANIFEST).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    pub.commit()


def _execute(params_path: Path, params: Params, data_dir: Path, template: nbformat.NotebookNode, work: Path,
             kernel: Kernel) -> nbformat.NotebookNode:
    """Execute the notebook, which computes every figure, once (the commentary goes in afterwards)."""
    local = (params_path.parent / params.comparators).resolve() if params.comparators else None
    by_ethnicity = params_path.parent / params.population_by_ethnicity if params.population_by_ethnicity else None
    # the council's own small input files, checked here so that a problem names them as the params do
    # (the notebook is given them relative to itself)
    if by_ethnicity is not None:
        from iro_metrics.ingest.population import read_population_by_ethnicity

        read_population_by_ethnicity(by_ethnicity)
    if local is not None and params.la_code:
        from iro_metrics.comparators import lookup

        lookup(params.la_code, params.year, local=local)
    nbformat.write(template, work / "template.ipynb")
    out = work / "appendix.ipynb"
    values = parameters(params, out, data_dir, local, by_ethnicity, params_path)
    try:
        nb = execute(work / "template.ipynb", out, values, kernel)
    except UsageError as e:  # the notebook names the data folder relative to itself: name it as the params do
        if str(e).startswith(f"{Path(values['data'])}:"):
            raise UsageError(f"{params.data}{str(e)[len(str(Path(values['data']))):]}") from None
        raise
    (work / "template.ipynb").unlink()
    return nb


def _render(nb: nbformat.NotebookNode, figures: dict[str, str], params: Params, params_path: Path, work: Path,
            final: bool, clock: _Clock, meanwhile: Callable[[], None]) -> None:
    """The page, the PDF and the Word paper, from the executed notebook with its commentary and the
    figures it quotes (pandoc writes the Word paper in the background while the PDF is typeset, then
    ``meanwhile`` runs)."""
    title = TITLE.format(council=params.council, year=params.year)
    when = CollectionYear.parse(params.year).end_date
    page = to_html(_with_figures(nb, figures), title, draft=not final)
    (work / "appendix.html").write_text(page, encoding="utf-8")
    clock.lap("html")
    reference = params_path.parent / params.reference_docx if params.reference_docx else None
    docx_written = start_docx(page, work / "appendix.docx", title, when=when, reference=reference)
    try:
        to_pdf(page, work / "appendix.pdf", title, when=when, draft=not final, footer=params.council)
    except BaseException as e:
        with contextlib.suppress(Exception):  # pandoc is not left writing; the PDF's error is the one to tell
            docx_written()
        if isinstance(e, RenderError):
            raise C.CommentaryError(e.explain(_with_figures(nb, figures))) from None
        raise
    clock.lap("pdf")
    try:
        meanwhile()
    except BaseException:
        with contextlib.suppress(Exception):  # pandoc is not left writing
            docx_written()
        raise
    docx_written()
    clock.lap("docx")


def _commentary_only(target: Path, now: dict[str, str], template: nbformat.NotebookNode, notes: C.Notes,
                     source: str, work: Path, notes_file: Path) -> tuple[nbformat.NotebookNode, dict[str, str]] | None:
    """When nothing but the commentary changed since the last build (its build.json), that build's
    figures, tables and executed outputs are reused: no data read, no kernel. The notebook is the
    template with this commentary and the previous outputs, as executing it would give (tested byte
    for byte against a full build), with the figures commentary quotes. None when anything else
    changed, or the outputs were touched."""
    try:
        recorded = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        before, made = recorded["inputs"], recorded["outputs"]
        executed = C.read_notebook(target / "appendix.ipynb")
    except (OSError, ValueError, KeyError, TypeError, C.CommentaryError):
        return None
    if {k: v for k, v in before.items() if k != "commentary"} != {k: v for k, v in now.items() if k != "commentary"}:
        return None
    if output_hashes(target) != made:  # the figures and tables are reused only as they were written
        return None
    template = copy.deepcopy(template)  # a full build after all starts from the template as it was
    figures = quotable(executed)
    C.inject(template, notes, source, figures, notes_file)
    nb = replay(template, executed)
    return None if nb is None else (nb, figures)


def _reuse(target: Path, work: Path, nb: nbformat.NotebookNode) -> None:
    """Into ``work``: the notebook ``nb`` and, as the last build's kernel wrote them, its tables."""
    for name in WRITTEN:
        (shutil.copytree if (target / name).is_dir() else shutil.copy2)(target / name, work / name)
    nbformat.write(nb, work / "appendix.ipynb")


def parameters(params: Params, out: Path, data_dir: Path, comparators: Path | None,
               population_by_ethnicity: Path | None = None, params_path: Path | None = None) -> dict:
    """The notebook's parameters, with the data (and other input files) given relative to its folder,
    so that a reviewer can re-run the published notebook where it lies."""
    values = asdict(params)
    values["data"] = Path(os.path.relpath(data_dir, out.parent)).as_posix()
    for key, path in (("comparators", comparators), ("population_by_ethnicity", population_by_ethnicity)):
        if path is not None:
            values[key] = Path(os.path.relpath(path.resolve(), out.parent)).as_posix()
    if params.reference_docx and params_path is not None:  # for verify, which rebuilds appendix.docx
        values["reference_docx"] = Path(os.path.relpath((params_path.parent / params.reference_docx).resolve(),
                                                        out.parent)).as_posix()
    return values


def _with_figures(nb: nbformat.NotebookNode, figures: dict[str, str]) -> nbformat.NotebookNode:
    """A copy for the page, with ``{{ figure }}`` quotes in the commentary rendered (the other cells
    shared with ``nb``)."""
    quoted = {id(c) for c in C.commentary_cells(nb)}
    cells = [nbformat.NotebookNode({**c, "source": C.render(c.source, c.metadata["iro"]["section"], figures)})
             if id(c) in quoted else c for c in nb.cells]
    return nbformat.NotebookNode({**nb, "cells": cells})


class _Clock:
    def __init__(self, into: dict[str, float] | None):
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[name] = now - self.t
        self.t = now

