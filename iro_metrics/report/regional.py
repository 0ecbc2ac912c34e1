"""A regional summary: the councils built together, side by side on each key indicator."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import nbformat
import pandas as pd

from iro_metrics.errors import UsageError
from iro_metrics.metrics import REGISTRY, Indicator
from iro_metrics.report.appendix import KEY_INDICATORS, Context, _format, comparator_text, table_html

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "regional.ipynb"


def collect(outputs: str | Path, year: str) -> dict[str, dict]:
    """Council name -> its ``metrics.json`` for ``year``, from ``outputs/<council>/<year>/``."""
    found = {}
    for path in sorted(Path(outputs).glob(f"*/{year}/metrics.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        found[doc.get("council") or path.parent.parent.name] = doc
    if not found:
        raise UsageError(f"{outputs}: no council has outputs for {year} (build them first)")
    return found


def summary(outputs: str, year: str) -> None:
    """Shown by the regional notebook: one table, a row per indicator and a column per council."""
    from IPython.display import HTML, display

    from iro_metrics.comparators import england as published

    docs = collect(outputs, year)
    national = published(year)  # for councils built without la_code (their metrics carry no comparators)
    rows = []
    for mid in KEY_INDICATORS:
        m = REGISTRY[mid]
        row = {"indicator": m.title}
        england = None
        for council, doc in docs.items():
            ind = doc["indicators"][mid]
            row[council] = _format(Indicator(ind["value"], ind["numerator"], ind["denominator"]), m.unit)
            england = england or ind.get("comparators", {}).get("england")
        row["England"] = comparator_text(england or national.get(mid), m.unit)
        rows.append(row)
    ctx = Context("region", None, None, {}, {}, None, {}, {}, {})  # only numbers the tables
    plural = "s" if len(docs) != 1 else ""
    display(HTML(f"<h1>Regional summary: {len(docs)} council{plural}, {html.escape(year)}</h1>"
                 "<p>Each council's figures as computed from its own data (unsuppressed council-level "
                 "figures); England as published by DfE where it publishes the indicator.</p>"
                 + table_html(pd.DataFrame(rows), f"Key indicators by council, {year}", ctx)))


def build_regional(outputs: str | Path, year: str) -> Path:
    """``outputs/regional/<year>/regional.ipynb`` and ``.html``, written atomically."""
    from iro_metrics.report.kernel import execute
    from iro_metrics.report.publication import Publication
    from iro_metrics.report.render import to_html

    outputs = Path(outputs)
    collect(outputs, year)  # fails early, clearly, when there is nothing to summarise
    target = outputs / "regional" / year
    with Publication(target, what="regional summary") as pub:
        out = pub.work / "regional.ipynb"
        nb = execute(NOTEBOOK, out, {"outputs": os.path.relpath(outputs, pub.work), "year": year})
        nbformat.write(nb, out)
        (pub.work / "regional.html").write_text(to_html(nb, f"Regional summary {year}", draft=False), encoding="utf-8")
        pub.commit()
    return target
