"""``iro-report build``: one council and year's outputs, written atomically.

Writes ``outputs/<council>/<year>/``: ``appendix.ipynb`` (the executed notebook), ``appendix.html``,
``appendix.pdf``, ``metrics.json`` (as ``iro-report metrics``) and ``tables/*.csv`` (the breakdown
tables as published, with disclosure control). Everything is built in a temporary folder beside the
target and swapped in at the end, so a build that fails part-way leaves the previous outputs untouched.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import nbformat

from iro_metrics.comparators import lookup
from iro_metrics.ingest.load import load_council
from iro_metrics.metrics import REGISTRY, compute_all, to_json
from iro_metrics.model import build_model
from iro_metrics.present.publish import publish_tables, write_tables
from iro_metrics.report import commentary as C
from iro_metrics.report.kernel import Kernel, execute
from iro_metrics.report.manifest import MANIFEST, manifest
from iro_metrics.report.params import Params, load_params
from iro_metrics.report.render import to_html, to_pdf

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "appendix.ipynb"
TITLE = "{council}: IRO annual report {year}, statistical appendix"  # of the page and the PDF


def output_dir(root: str | Path, council_slug: str, year: str) -> Path:
    return Path(root) / council_slug / year


def build(params_path: str | Path, outputs: str | Path = "outputs", notebook: Path = NOTEBOOK,
          timings: dict[str, float] | None = None, final: bool = False,
          discard_notebook_edits: bool = False, kernel: Kernel | None = None) -> Path:
    """Build the outputs of one params file; returns their folder.

    The officers' commentary file beside the params is injected into the narrative cells. The build
    refuses, changing nothing, when the previous executed notebook holds commentary edits that were not
    harvested (unless ``discard_notebook_edits``), and with ``final`` while any section still shows the
    placeholder. ``timings``, when given, receives the seconds each part took. ``kernel`` is the
    notebook kernel to use (a batch worker's warm one); by default a fresh one.
    """
    clock = _Clock(timings)
    params_path = Path(params_path)
    params, data_dir = load_params(params_path)
    target = output_dir(outputs, params.slug, params.year)
    _refuse_unharvested(target / "appendix.ipynb", discard_notebook_edits)
    notes_file = C.commentary_path(params_path)
    sections = C.read(notes_file)
    data = load_council(data_dir, params.year, la=params.la)  # fails early, with clear errors, on bad data
    model = build_model(data, population=params.population)
    indicators, tables = compute_all(model)
    clock.lap("metrics")
    local = (params_path.parent / params.comparators).resolve() if params.comparators else None
    comparators = lookup(params.la_code, params.year, local=local) if params.la_code else None
    figures = C.figures(indicators, {k: m.unit for k, m in REGISTRY.items()})
    template = nbformat.read(notebook, as_version=4)
    placeholders = C.inject(template, sections, Path(os.path.relpath(notes_file, target)).as_posix())
    template.metadata["iro"]["final"] = final  # verify rebuilds the page with or without the Draft mark
    for cell in C.commentary_cells(template):  # an unknown figure name fails now, naming the section
        C.render(cell.source, cell.metadata["iro"]["section"], figures)
    if final and placeholders:
        raise C.CommentaryError(f"--final: still no commentary for {', '.join(placeholders)} (write it in "
                                f"{notes_file} or in the notebook, then harvest)")
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}-*"):  # scratch of a build that was killed
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    work.chmod(0o755)  # mkdtemp makes it private; outputs are for reading
    try:
        doc = to_json(model, council=params.council, computed=(indicators, tables), comparators=comparators)
        (work / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        write_tables(publish_tables(tables, threshold=params.suppression_threshold), work / "tables")
        nbformat.write(template, work / "template.ipynb")
        out = work / "appendix.ipynb"
        nb = execute(work / "template.ipynb", out, parameters(params, out, data_dir, local), kernel)
        (work / "template.ipynb").unlink()
        clock.lap("execute")
        title = TITLE.format(council=params.council, year=params.year)
        page = to_html(_with_figures(nb, figures), title, draft=not final)
        (work / "appendix.html").write_text(page, encoding="utf-8")
        clock.lap("html")
        to_pdf(page, work / "appendix.pdf", title, when=data.year.end.date())
        clock.lap("pdf")
        (work / MANIFEST).write_text(json.dumps(manifest(params_path, notebook), indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
        _swap(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def parameters(params: Params, out: Path, data_dir: Path, comparators: Path | None) -> dict:
    """The notebook's parameters, with the data (and local comparators) given relative to its folder,
    so that a reviewer can re-run the published notebook where it lies."""
    values = asdict(params)
    values["data"] = Path(os.path.relpath(data_dir, out.parent)).as_posix()
    if comparators is not None:
        values["comparators"] = Path(os.path.relpath(comparators, out.parent)).as_posix()
    return values


def _refuse_unharvested(published: Path, discard: bool) -> None:
    if discard or not published.exists():
        return
    sections = C.edited(nbformat.read(published, as_version=4))
    if sections:
        raise C.CommentaryError(
            f"{published} holds commentary edits that were not harvested ({', '.join(sections)}); nothing was "
            f"changed. Run `iro-report harvest {published}` first, or build with --discard-notebook-edits "
            "to throw those edits away")


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


def _swap(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new``; the old one is removed only once the new one is in place."""
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
