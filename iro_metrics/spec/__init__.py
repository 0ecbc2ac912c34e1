"""Table schemas and code lists, read from the YAML data files beside this module.

Code lists are versioned by collection year: a code is valid in a year when the year lies between
its ``from`` and ``until`` (both optional, inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from iro_metrics.shipped import read_yaml

from iro_metrics.years import CollectionYear

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Column:
    dfe_name: str
    name: str
    type: str
    required: bool = False
    codes: str | None = None
    year_from: str | None = None  # internal date column whose collection year picks the code list
    identifier: bool = False
    any_year: bool = False  # a code valid in any year is accepted (not a 903 return)
    min: float | None = None
    max: float | None = None
    by_year_end: bool = False  # a date that cannot fall after the end of the return's collection year
    not_before: str | None = None  # the DfE column of the start this end date cannot precede


@dataclass(frozen=True)
class Table:
    key: str
    source: str  # "ssda903" or "iro"
    file: str
    columns: tuple[Column, ...]
    required_file: bool = False
    first_year: CollectionYear | None = None
    every_year: bool = False  # a year's return without a usable row of it has not supplied it

    @property
    def dfe_columns(self) -> list[str]:
        return [c.dfe_name for c in self.columns]


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    group: str | None = None
    first: CollectionYear | None = None
    last: CollectionYear | None = None
    extra: dict = field(default_factory=dict)

    def valid_in(self, year: CollectionYear) -> bool:
        return (self.first is None or self.first <= year) and (self.last is None or year <= self.last)


def _year(value) -> CollectionYear | None:
    return CollectionYear.parse(value) if value else None


@cache
def tables() -> dict[str, Table]:
    """Every input table, keyed by its short name (``episodes``, ``iro_staff``...)."""
    raw = read_yaml(_HERE / "tables.yaml")
    out: dict[str, Table] = {}
    for source, group in raw.items():
        for key, t in group.items():
            cols = tuple(Column(dfe_name=k, **v) for k, v in t["columns"].items())
            out[key] = Table(key=key, source=source, file=t["file"], columns=cols,
                             required_file=t.get("required_file", False), first_year=_year(t.get("from")),
                             every_year=t.get("every_year", False))
    return out


@cache
def code_lists() -> dict[str, dict[str, Code]]:
    raw = read_yaml(_HERE / "codes.yaml")
    out: dict[str, dict[str, Code]] = {}
    for name, codes in raw.items():
        out[name] = {}
        for code, info in codes.items():
            info = dict(info)
            out[name][str(code)] = Code(
                code=str(code), label=info.pop("label"), group=info.pop("group", None),
                first=_year(info.pop("from", None)), last=_year(info.pop("until", None)), extra=info)
    return out


def valid_codes(list_name: str, year: CollectionYear) -> frozenset[str]:
    """Codes of ``list_name`` valid in collection ``year``."""
    return frozenset(c.code for c in code_lists()[list_name].values() if c.valid_in(year))


def all_codes(list_name: str) -> frozenset[str]:
    """Codes of ``list_name`` valid in any year."""
    return frozenset(code_lists()[list_name])


def labels(list_name: str) -> dict[str, str]:
    return {c.code: c.label for c in code_lists()[list_name].values()}


def groups(list_name: str) -> dict[str, str]:
    """Code -> the group used in report breakdowns (``metrics.md`` §1)."""
    return {c.code: c.group for c in code_lists()[list_name].values() if c.group}


def codes_where(list_name: str, **extra) -> frozenset[str]:
    """Codes whose extra attributes match, e.g. ``codes_where("PLACE", temporary=True)``."""
    return frozenset(c.code for c in code_lists()[list_name].values()
                     if all(c.extra.get(k) == v for k, v in extra.items()))


def sex_internal() -> dict[str, str]:
    """903 SEX code (either coding) -> internal M / F / U."""
    return {c.code: c.extra["internal"] for c in code_lists()["SEX"].values()}


def is_identifier(column: Column) -> bool:
    """True for columns whose values identify a child or an officer: never shown in outputs."""
    return column.type == "id" or column.identifier
