"""``iro-report build``: one council and year's outputs, written atomically.

Writes ``outputs/<council>/<year>/`` (:data:`PUBLISHED`): ``appendix.ipynb`` (the executed notebook),
``appendix.html``, ``appendix.pdf``, ``appendix.docx``, ``metrics.json`` (as ``iro-report metrics``),
``tables/*.csv`` and ``tables.xlsx`` (the breakdown tables as published, with disclosure control).
Everything is built in a temporary folder beside the
target and swapped in at the end, so a build that fails part-way leaves the previous outputs untouched.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import nbformat

from iro_metrics.comparators import lookup
from iro_metrics.comparators.reconcile import for_build, records
from iro_metrics.ingest.load import load_council
from iro_metrics.ingest.population import read_population_by_ethnicity
from iro_metrics.metrics import REGISTRY, compute_all, to_json
from iro_metrics.model import build_model
from iro_metrics.present.publish import publish_tables, write_tables
from iro_metrics.present.spreadsheet import write_xlsx
from iro_metrics.report import commentary as C
from iro_metrics.report.kernel import Kernel, execute
from iro_metrics.report.manifest import MANIFEST, manifest
from iro_metrics.report.params import Params, load_params
from iro_metrics.report.publication import Publication
from iro_metrics.report.render import RenderError, to_html, to_pdf
from iro_metrics.report.word import to_docx

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "appendix.ipynb"
#: every artefact a build publishes in ``outputs/<council>/<year>/`` (``tables/`` holds one CSV per table)
PUBLISHED = ["appendix.ipynb", "appendix.html", "appendix.pdf", "appendix.docx", "metrics.json", "tables.xlsx",
             "tables/", MANIFEST]


def output_dir(root: str | Path, council_slug: str, year: str) -> Path:
    return Path(root) / council_slug / year


def build(params_path: str | Path, outputs: str | Path = "outputs", notebook: Path = NOTEBOOK,
          timings: dict[str, float] | None = None, final: bool = False,
          discard_notebook_edits: bool = False, kernel: Kernel | None = None) -> Path:
    """Build the outputs of one params file; returns their folder.

    The officers' commentary file beside the params is injected into the narrative cells (a skeleton is
    written for a new council). The build refuses, changing nothing, when the previous executed notebook
    holds commentary the file does not or the file holds text in no section (unless
    ``discard_notebook_edits``), and with ``final`` while any section is empty or shows the placeholder.
    One build of a folder runs at a time (a lock); an interrupted one is repaired first. ``timings``,
    when given, receives the seconds each part took. ``kernel`` is the notebook kernel to use (a batch
    worker's warm one); by default a fresh one.
    """
    clock = _Clock(timings)
    params_path = Path(params_path)
    params, data_dir = load_params(params_path)
    target = output_dir(outputs, params.slug, params.year)
    with Publication(target) as pub:  # one build of the folder at a time; repairs an interrupted one first
        _build_into(pub, params_path, params, data_dir, notebook, clock, final, discard_notebook_edits, kernel)
    return target


def _build_into(pub: Publication, params_path: Path, params: Params, data_dir: Path, notebook: Path, clock: _Clock,
                final: bool, discard_notebook_edits: bool, kernel: Kernel | None) -> None:
    target = pub.target
    template = nbformat.read(notebook, as_version=4)
    notes_file = C.commentary_path(params_path)
    notes = C.prepare(notes_file, target / "appendix.ipynb", C.sections(template), discard_notebook_edits, final)
    # fails early, with clear errors, on bad data
    data = load_council(data_dir, params.year, la=params.la, cut_at_gap=params.cut_at_gap)
    by_ethnicity = params_path.parent / params.population_by_ethnicity if params.population_by_ethnicity else None
    model = build_model(data, population=params.population,
                        population_by_ethnicity=read_population_by_ethnicity(by_ethnicity) if by_ethnicity else None)
    indicators, tables = compute_all(model)
    clock.lap("metrics")
    local = (params_path.parent / params.comparators).resolve() if params.comparators else None
    comparators = lookup(params.la_code, params.year, local=local) if params.la_code else None
    figures = C.figures(indicators, {k: m.unit for k, m in REGISTRY.items()})
    # a bad figure quote fails now, naming the section
    C.inject(template, notes, Path(os.path.relpath(notes_file, target)).as_posix(), figures)
    work = pub.work
    reconciled, _ = for_build(model, params.la_code)
    doc = to_json(model, council=params.council, computed=(indicators, tables), comparators=comparators,
                  reconciliation=records(reconciled))
    (work / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    published = publish_tables(tables, threshold=params.suppression_threshold)
    write_tables(published, work / "tables")
    write_xlsx(published, work / "tables.xlsx", params.council, params.year, params.suppression_threshold,
               when=data.year.end.date())
    clock.lap("spreadsheet")
    nbformat.write(template, work / "template.ipynb")
    out = work / "appendix.ipynb"
    nb = execute(work / "template.ipynb", out, parameters(params, out, data_dir, local, by_ethnicity), kernel)
    (work / "template.ipynb").unlink()
    clock.lap("execute")
    title = f"{params.council}: IRO annual report {params.year}, statistical appendix"
    page = to_html(_with_figures(nb, figures), title, draft=not final)
    (work / "appendix.html").write_text(page, encoding="utf-8")
    clock.lap("html")
    try:
        to_pdf(page, work / "appendix.pdf", title, when=data.year.end.date(), draft=not final, footer=params.council)
    except RenderError as e:
        raise C.CommentaryError(e.explain(_with_figures(nb, figures))) from None
    clock.lap("pdf")
    reference = params_path.parent / params.reference_docx if params.reference_docx else None
    to_docx(page, work / "appendix.docx", title, when=data.year.end.date(), reference=reference)
    clock.lap("docx")
    (work / MANIFEST).write_text(json.dumps(manifest(params_path, notebook), indent=2, sort_keys=True) + "\n",
                                 encoding="utf-8")
    pub.commit()


def parameters(params: Params, out: Path, data_dir: Path, comparators: Path | None,
               population_by_ethnicity: Path | None = None) -> dict:
    """The notebook's parameters, with the data (and other input files) given relative to its folder,
    so that a reviewer can re-run the published notebook where it lies."""
    values = asdict(params)
    values["data"] = Path(os.path.relpath(data_dir, out.parent)).as_posix()
    for key, path in (("comparators", comparators), ("population_by_ethnicity", population_by_ethnicity)):
        if path is not None:
            values[key] = Path(os.path.relpath(path.resolve(), out.parent)).as_posix()
    return values


def _with_figures(nb: nbformat.NotebookNode, figures: dict[str, str]) -> nbformat.NotebookNode:
    """A copy for the page, with ``{{ figure }}`` quotes in the commentary rendered."""
    page = copy.deepcopy(nb)
    for cell in C.commentary_cells(page):
        cell.source = C.render(cell.source, cell.metadata["iro"]["section"], figures)
    return page


class _Clock:
    def __init__(self, into: dict[str, float] | None):
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[name] = now - self.t
        self.t = now

