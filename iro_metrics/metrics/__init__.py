"""Every indicator and table of the appendix. Importing this package registers them all."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pandas as pd

from iro_metrics.errors import MetricError
from iro_metrics.metrics import (equalities, escalations, iro_service, participation, population,  # noqa: F401
                                 quality, reviews, stability)
from iro_metrics.metrics.registry import REGISTRY, SECTIONS, Indicator, Metric
from iro_metrics.model import Model

__all__ = ["REGISTRY", "SECTIONS", "Indicator", "Metric", "compute_all", "ordered", "to_json"]


def ordered() -> list[Metric]:
    """Registered metrics in report order: by section, then as defined."""
    sections = list(SECTIONS)
    return sorted(REGISTRY.values(), key=lambda x: sections.index(x.section))


def _supplied(m: Model, metric: Metric) -> bool:
    return all(m.data.has(t) for t in metric.needs)


def compute_all(m: Model, only: Collection[str] | None = None
                ) -> tuple[dict[str, Indicator], dict[str, pd.DataFrame | None]]:
    """Every registered indicator and table (or just those in ``only``); a metric whose input is not
    supplied gives value None (indicators) or None (tables)."""
    indicators: dict[str, Indicator] = {}
    tables: dict[str, pd.DataFrame | None] = {}
    for metric in ordered():
        mid = metric.id
        if only is not None and mid not in only:
            continue
        try:
            result = metric.func(m) if _supplied(m, metric) else None
        except Exception as e:  # name the metric and its section, not just a traceback
            raise MetricError(f"{SECTIONS[metric.section]}: metric {mid} failed: {type(e).__name__}: {e}") from e
        if metric.is_table:
            tables[mid] = result
        else:
            indicators[mid] = result if result is not None else Indicator(None)
    return indicators, tables


def _table_records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if df is None:
        return None
    return json.loads(df.to_json(orient="records"))


def to_json(m: Model, council: str | None = None,
            computed: tuple[dict[str, Indicator], dict[str, pd.DataFrame | None]] | None = None,
            comparators: dict[str, dict] | None = None,
            reconciliation: list[dict] | None = None) -> dict[str, Any]:
    """The management-information document (unsuppressed) of ``iro-report metrics``; pass
    ``computed`` (from :func:`compute_all`) when the figures are already computed, and ``comparators``
    (from :func:`iro_metrics.comparators.lookup`) to carry them beside each indicator, and
    ``reconciliation`` (records of :func:`iro_metrics.comparators.reconcile.reconcile`) when there is one.

    Findings carry no child identifier: identifier values are never stored in findings.
    """
    indicators, tables = computed or compute_all(m)
    f = m.data.findings
    return {
        "council": council or m.data.la,
        "year": m.year.label,
        "indicators": {k: {**v.as_dict(), **({"comparators": comparators[k]} if comparators and k in comparators
                                             else {})} for k, v in indicators.items()},
        "tables": {k: _table_records(v) for k, v in tables.items()},
        "findings": json.loads(f.frame().to_json(orient="records")),
        **({"reconciliation": reconciliation} if reconciliation is not None else {}),
    }
