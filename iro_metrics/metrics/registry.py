"""The metric registry: every indicator and table with its id, title, section, unit and definition.

A metric is a pure function of a :class:`~iro_metrics.model.Model`; its docstring is its
definition in plain English, and the report's Definitions annex is generated from it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

SECTIONS: dict[str, str] = {
    "population": "Children looked after",
    "reviews": "Reviews and their timeliness",
    "participation": "Participation in reviews",
    "stability": "Placement stability",
    "iro_service": "The IRO service",
    "escalations": "Resolving concerns: escalations",
    "quality": "Quality and voice",
    "equalities": "Equalities",
}


@dataclass(frozen=True)
class Indicator:
    """A headline figure: ``value`` is None when it cannot be computed (e.g. input not supplied)."""

    value: float | int | None
    numerator: int | None = None
    denominator: int | None = None

    def as_dict(self) -> dict:
        return {"value": self.value, "numerator": self.numerator, "denominator": self.denominator}


def percent(numerator: int, denominator: int, places: int = 1) -> Indicator:
    """``numerator`` / ``denominator`` x 100, rounded half up; value None when the denominator is 0."""
    if not denominator:
        return Indicator(None, int(numerator), int(denominator))
    return Indicator(round_half_up(100 * numerator / denominator, places), int(numerator), int(denominator))


def count(n: int) -> Indicator:
    return Indicator(int(n), int(n), None)


def round_half_up(x: float, places: int = 0) -> float | int:
    """Round half away from zero (as published statistics do), not Python's banker's rounding."""
    f = 10**places
    r = math.floor(abs(x) * f + 0.5 + 1e-9) / f
    r = math.copysign(r, x)
    return int(r) if places == 0 else r


NOT_SUPPLIED = Indicator(None)

#: what each unit is called on a chart axis or beside a figure
UNITS: dict[str, str] = {"count": "Number", "percent": "Percentage (%)", "rate": "Per 10,000 children",
                         "ratio": "Children per full-time IRO"}
#: display names of the table columns, defined once for every page, chart and spreadsheet
COLUMNS: dict[str, str] = {
    "age_band": "Age band", "legal_status": "Legal status", "category_of_need": "Category of need",
    "days_late": "Days late", "code": "Participation code", "conveyed": "Views conveyed",
    "conveyed_pct": "Views conveyed (%)", "caseload_per_fte": "Children per full-time IRO", "iros": "IROs",
    "iros_pct": "IROs (%)", "median_working_days": "Median working days", "positive_pct": "Positive (%)",
    "on_time": "On time", "on_time_pct": "On time (%)", "participation_pct": "Views conveyed (%)",
    "no_participation": "No participation", "no_participation_pct": "No participation (%)",
    "placements_3plus": "3 or more placements", "placements_3plus_pct": "3 or more placements (%)",
    "long_term_children": "Children in long-term care", "long_term_stable": "Same carer(s) 2+ years",
    "long_term_stability_pct": "Same carer(s) 2+ years (%)", "per_100_children": "Per 100 children",
    "children_pct": "Children (%)", "rate_per_10000": "Rate per 10,000", "ratio_to_white": "Ratio to the White group",
    "population": "Population aged 0 to 17",
}


def label(column: str) -> str:
    """A column's display name: from :data:`COLUMNS`, else its words in sentence case ("_pct" as "(%)")."""
    if column in COLUMNS:
        return COLUMNS[column]
    text = column.replace("_pct", " (%)").replace("_", " ")
    return text[:1].upper() + text[1:]


def show(value: float | int | None, unit: str, places: int | None = None) -> str:
    """A number as the report prints it: thousands separators, one decimal place for percentages and
    ratios (or ``places``), a % sign on percentages; None as x (not available)."""
    if value is None:
        return "x"
    if places is None:
        places = 1 if unit in ("percent", "ratio") or isinstance(value, float) and not float(value).is_integer() else 0
    text = f"{value:,.{places}f}"
    return text + "%" if unit == "percent" else text


@dataclass(frozen=True)
class Metric:
    id: str
    title: str
    section: str
    unit: str  # "count", "percent", "rate", "ratio" or "table"
    func: Callable
    needs: tuple[str, ...] = ()  # input tables without which the metric is not computable

    @property
    def definition(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def is_table(self) -> bool:
        return self.unit == "table"


REGISTRY: dict[str, Metric] = {}


def metric(id: str, title: str, section: str, unit: str, needs: tuple[str, ...] = ()) -> Callable:
    """Register a metric function under ``id`` (the ids of ``metrics.md``)."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}")

    def wrap(func: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"metric {id!r} registered twice")
        if not func.__doc__:
            raise ValueError(f"metric {id!r} has no definition (docstring)")
        REGISTRY[id] = Metric(id, title, section, unit, func, needs)
        return func

    return wrap


def table(id: str, title: str, section: str, needs: tuple[str, ...] = ()) -> Callable:
    return metric(id, title, section, "table", needs)


def empty_table(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)
