"""``iro-report build``: one council and year's outputs, written atomically.

Writes ``outputs/<council>/<year>/``: ``appendix.ipynb`` (the executed notebook), ``appendix.html``,
``appendix.pdf``, ``metrics.json`` (as ``iro-report metrics``) and ``tables/*.csv`` (the breakdown
tables as published, with disclosure control). Everything is built in a temporary folder beside the
target and swapped in at the end, so a build that fails part-way leaves the previous outputs untouched.
"""

from __future__ import annotations

import contextlib
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
from iro_metrics.errors import IroMetricsError
from iro_metrics.ingest.load import load_council
from iro_metrics.metrics import REGISTRY, compute_all, to_json
from iro_metrics.model import build_model
from iro_metrics.present.publish import publish_tables, write_tables
from iro_metrics.report import commentary as C
from iro_metrics.report.manifest import MANIFEST, manifest
from iro_metrics.report.params import Params, load_params
from iro_metrics.report.render import to_html, to_pdf

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "appendix.ipynb"


class BuildError(IroMetricsError):
    """The notebook failed: the message names the section and metric where it could."""


def output_dir(root: str | Path, council_slug: str, year: str) -> Path:
    return Path(root) / council_slug / year


def build(params_path: str | Path, outputs: str | Path = "outputs", notebook: Path = NOTEBOOK,
          timings: dict[str, float] | None = None, final: bool = False,
          discard_notebook_edits: bool = False) -> Path:
    """Build the outputs of one params file; returns their folder.

    The officers' commentary file beside the params is injected into the narrative cells. The build
    refuses, changing nothing, when the previous executed notebook holds commentary edits that were not
    harvested (unless ``discard_notebook_edits``), and with ``final`` while any section still shows the
    placeholder. ``timings``, when given, receives the seconds each part took.
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
        nb = execute(work / "template.ipynb", work / "appendix.ipynb", params, data_dir, local)
        (work / "template.ipynb").unlink()
        clock.lap("execute")
        title = f"{params.council}: IRO annual report {params.year}, statistical appendix"
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


def execute(notebook: Path, out: Path, params: Params, data_dir: Path,
            comparators: Path | None = None) -> nbformat.NotebookNode:
    """Run the notebook with papermill in its output folder, the data folder given relative to it (so
    that a reviewer can re-run the published notebook where it lies); strip run times so that the same
    inputs give the same file."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    parameters = asdict(params)
    parameters["data"] = Path(os.path.relpath(data_dir, out.parent)).as_posix()
    if comparators is not None:
        parameters["comparators"] = Path(os.path.relpath(comparators, out.parent)).as_posix()
    log = out.parent / "kernel.log"
    try:
        with _stderr_to(log):  # the kernel's start-up chatter; shown only if the build fails
            papermill.execute_notebook(str(notebook), str(out), parameters=parameters, cwd=str(out.parent),
                                       progress_bar=False, kernel_name="python3")
    except PapermillExecutionError as e:
        raise BuildError(f"the appendix notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}") from None
    except RuntimeError as e:  # the kernel died or would not start
        raise BuildError(f"the notebook kernel failed: {e}\n{log.read_text(errors='replace')[-2000:]}") from None
    finally:
        log.unlink(missing_ok=True)
    return tidy_executed(out)


def tidy_executed(path: Path) -> nbformat.NotebookNode:
    """Strip papermill's run times and random cell id, so the same inputs give the same file."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
    nbformat.write(nb, path)
    return nb


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


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's standard error (inherited by the kernel it starts) to ``path`` for a while."""
    saved = os.dup(2)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


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
