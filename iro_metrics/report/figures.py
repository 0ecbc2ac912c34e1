"""The figures a build publishes beside its notebook, computed once, by the notebook.

The notebook is where every figure is computed (so that a reviewer can re-execute it); once its last
cell has run, :func:`write_figures` runs in the same kernel and writes ``metrics.json`` and the
published tables from what the notebook computed. ``build`` and ``verify`` both use it, so the two
cannot drift apart. :func:`quotable` gives what commentary may quote, from the notebook's record.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

#: what :func:`write_figures` writes (``tables`` is the folder of CSV files)
WRITTEN = ("metrics.json", "tables", "tables.xlsx", "tables.ods")


def write_figures(ctx, folder: str | Path) -> None:
    """Run in the kernel that executed the notebook, after its last cell: ``metrics.json``, the published
    tables (CSV), ``tables.xlsx`` and ``tables.ods`` in ``folder``, from the notebook's ``ctx``."""
    from iro_metrics.comparators.reconcile import records
    from iro_metrics.metrics import to_json
    from iro_metrics.present.publish import publish_tables, write_tables
    from iro_metrics.present.spreadsheet import write_ods, write_xlsx
    from iro_metrics.report import helper

    out = Path(folder)
    # never made here: a kernel left running by a killed build must not recreate a scratch folder removed since
    (out / "tables").mkdir()
    threshold = ctx.params["suppression_threshold"]
    published = publish_tables(ctx.tables, threshold=threshold)
    # the workbook, the longest part, is written by a helper (where the kernel has them) meanwhile; the
    # kernel writes it itself if the helper could not, after stopping it
    workbook = helper.in_parallel(lambda: write_xlsx(published, out / "tables.xlsx", ctx.council, ctx.year.label,
                                                     threshold, when=ctx.year.end_date))
    model = SimpleNamespace(data=ctx.data, year=ctx.year)  # all that to_json reads of a model
    doc = to_json(model, council=ctx.council, computed=(ctx.indicators, ctx.tables), comparators=ctx.comparators,
                  reconciliation=records(ctx.reconciliation))
    write_tables(published, out / "tables")
    write_ods(published, out / "tables.ods", ctx.council, ctx.year.label, threshold, when=ctx.year.end_date)
    (out / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    workbook()


def after_last_cell(folder: str | Path) -> str:
    """The code a kernel runs after the notebook's last cell to write its figures into ``folder``."""
    # absolute: the kernel's working folder need not be the one the command was given in
    return f"from iro_metrics.report.figures import write_figures\nwrite_figures(ctx, {str(Path(folder).resolve())!r})"


def recorded(nb) -> dict:
    """The figures the executed notebook recorded (its one JSON output, ``appendix.record``)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "application/json" in output.get("data", {}):
                return output["data"]["application/json"]
    return {}


def quotable(nb) -> dict[str, str]:
    """The figures commentary can quote, as the executed notebook ``nb`` recorded them."""
    from iro_metrics.metrics import ordered
    from iro_metrics.report.commentary import figures

    record = recorded(nb).get("indicators", {})
    # in report order, as the notebook computed them (a notebook read from disk has its keys sorted)
    indicators = {m.id: SimpleNamespace(value=record[m.id]["value"], denominator=record[m.id]["denominator"])
                  for m in ordered() if m.id in record}
    return figures(indicators, {m.id: m.unit for m in ordered() if m.id in record})


def names() -> list[str]:
    """Every figure commentary can quote (the registry's indicators), for checking quotes before a run."""
    from iro_metrics.metrics import ordered

    return [m.id for m in ordered() if not m.is_table]
