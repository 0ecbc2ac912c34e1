"""Load a council's data for a collection year: every return up to it, checked and combined.

Two layouts are accepted:

* **DfE folders**: ``DIR/<YYYY-YY>/`` holding that year's 903 CSVs (DfE headers, dd/mm/yyyy) and
  the IRO records;
* **LIIA flat files**: ``DIR/*.csv`` with the DfE headers plus ``LA`` and ``YEAR`` columns and ISO
  dates, many councils and years per file (choose the council with ``la``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from iro_metrics import spec
from iro_metrics.errors import FatalDataError, Problem, UsageError
from iro_metrics.ingest import findings as F
from iro_metrics.ingest.checks import check_combined, check_return, identifier_forms
from iro_metrics.ingest.combine import close_unrestated, combine
from iro_metrics.ingest.read import CHILD, RawTable, read_raw, type_table
from iro_metrics.shipped import sha256_file
from iro_metrics.years import CollectionYear, is_year_label



@dataclass
class CouncilData:
    """Everything read for one council and collection year, with internal column names."""

    year: CollectionYear
    earliest_year: CollectionYear
    tables: dict[str, pd.DataFrame]
    findings: F.Findings
    files: dict[str, str] = field(default_factory=dict)  # label -> sha256
    notes: list[str] = field(default_factory=list)
    la: str | None = None
    #: the episodes table and, derived from it by the checks, its care episodes and periods of care, so
    #: that the model need not derive them again (only while ``tables["episodes"]`` is that same frame)
    care: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False)
    #: every CHILD identifier in the returns loaded (a history's, for a year of :func:`load_history`), in
    #: order: each table's ``child_id`` is an identifier's position here (loads of other returns differ)
    children: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object), repr=False)
    #: the tables with a usable row in the collection year's own return (None: not known)
    in_year: frozenset[str] | None = None

    def child_key(self, identifier: str) -> int:
        """The ``child_id`` of the child whose CHILD is ``identifier`` (KeyError when there is none)."""
        return int(self.children.get_loc(identifier))

    def __getitem__(self, table: str) -> pd.DataFrame:
        """A table's combined rows; an empty frame with the right columns when not supplied."""
        if table in self.tables:
            return self.tables[table]
        return empty_table(table)

    def has(self, table: str) -> bool:
        """Whether ``table`` was supplied: it has rows and, for a table every return must hold
        (``every_year`` in ``tables.yaml``), the collection year's own return has a usable row of it."""
        if self.in_year is not None and spec.tables()[table].every_year and table not in self.in_year:
            return False
        return table in self.tables and len(self.tables[table]) > 0

    def unusable(self) -> list[Problem]:
        """Why no figure can be computed: a table every figure needs (header, episodes) was not
        supplied. Only LIIA flat files can lack one; a folder per year without it is refused on load."""
        who = f" for council {self.la}" if self.la else ""
        return [Problem(t.file, f"no rows{who} up to {self.year.label}: every figure is built from this table")
                for t in spec.tables().values() if t.required_file and t.key not in self.tables]


_EMPTY_DTYPES = {"date": "datetime64[s]", "int": "Int64", "flag": "Int64", "float": "Float64"}


def empty_table(table: str) -> pd.DataFrame:
    """A table with no rows but the right columns and types (for inputs not supplied)."""
    cols = spec.tables()[table].columns
    return pd.DataFrame({c.name: pd.Series(dtype="int64" if c.name == CHILD else _EMPTY_DTYPES.get(c.type, "string"))
                         for c in cols})


def _read_folder(folder: Path, label_prefix: str, problems: list[Problem], unreadable: set[str]) -> list[RawTable]:
    """Every CSV in ``folder``; a file that cannot be read adds its problems (and is not also
    reported as missing)."""
    raws: list[RawTable] = []
    try:
        paths = sorted(folder.iterdir())
    except PermissionError:
        problems.append(Problem(label_prefix or str(folder), "the folder cannot be read (permission denied); ask "
                                "whoever manages it to give you read access, or copy it"))
        unreadable.add(label_prefix.lower())
        return raws
    for path in paths:
        if path.suffix.lower() != ".csv" or not path.is_file():
            continue
        label = f"{label_prefix}{path.name}"
        try:
            raws.append(read_raw(path, label))
        except FatalDataError as e:
            problems.extend(e.problems)
            unreadable.add(label.lower())
    return raws


def _liia_years(raw: RawTable) -> pd.Series:
    """Map LIIA ``YEAR`` values to collection start years.

    LIIA's own convention is the end year (2017-18 -> 2018), but some published files use the
    start year. When any episode in a YEAR block starts after 31 March of that YEAR, the block
    must be the start year; otherwise the end year is assumed.
    """
    y = pd.to_numeric(raw.frame["YEAR"], errors="coerce")
    if raw.table.key == "episodes":
        decom = pd.to_datetime(raw.frame["DECOM"], format="%Y-%m-%d", errors="coerce")
        late = decom > pd.to_datetime(y.astype("Int64").astype("string") + "-03-31", errors="coerce")
        start_convention = bool(late.any())
    else:
        start_convention = None
    return y, start_convention


def _las(flat: list[RawTable]) -> list[str]:
    return sorted(set().union(*(set(r.frame["LA"]) for r in flat)) - {""})


def liia_councils(data: str | Path) -> list[str]:
    """The councils (``LA`` values) in a folder of LIIA flat files; none if it holds none."""
    problems: list[Problem] = []
    raws = _read_folder(Path(data), "", problems, set())
    if problems:
        raise FatalDataError(problems)
    return _las([r for r in raws if r.liia])


def _discover(data: Path, year: CollectionYear, la: str | None, problems: list[Problem], unreadable: set[str]
              ) -> tuple[dict[int, list[RawTable]], list[str], str | None]:
    """Raw tables per collection start year, up to ``year``."""
    notes: list[str] = []
    year_dirs = sorted(p for p in data.iterdir() if p.is_dir() and is_year_label(p.name))
    if year_dirs:
        out: dict[int, list[RawTable]] = {}
        for d in year_dirs:
            cy = CollectionYear.parse(d.name)
            if cy <= year:
                out[cy.start_year] = _read_folder(d, f"{d.name}/", problems, unreadable)
        if year.start_year not in out:
            raise UsageError(f"{data}: no folder {year.label}/ (found: {', '.join(p.name for p in year_dirs)})")
        return out, notes, None
    raws = _read_folder(data, "", problems, unreadable)
    flat = [r for r in raws if r.liia]
    if not flat:
        raise UsageError(f"{data}: expected one folder per collection year named like {year.label}/, "
                         "or LIIA flat files with LA and YEAR columns")
    las = _las(flat)
    if la is None:
        if len(las) > 1:
            raise UsageError(f"{data}: the files hold {len(las)} councils; choose one with --la "
                             f"({', '.join(las)})")
        la = las[0] if las else None
    elif la not in las:
        raise UsageError(f"{data}: no rows for council {la!r} (found: {', '.join(las)})")
    # the year convention is decided once, from the episodes when present
    conv = next((c for r in flat for c in [_liia_years(r)[1]] if c is not None), False)
    notes.append(f"LIIA flat files: council {la}; YEAR read as the {'start' if conv else 'end'} "
                 "of the collection year")
    out = {}
    for r in flat:
        mine = r.frame["LA"] == la
        notes.append(f"{r.label}: {int(mine.sum())} of {len(r.frame)} rows belong to {la}")
        y = pd.to_numeric(r.frame["YEAR"], errors="coerce")
        start = y if conv else y - 1
        for sy in sorted(start[mine].dropna().unique()):
            if int(sy) > year.start_year:
                continue
            part = r.frame[mine & (start == sy)].reset_index(drop=True)
            out.setdefault(int(sy), []).append(RawTable(r.table, r.path, r.label, part, liia=True))
    for r in raws:
        if not r.liia:
            problems.append(Problem(r.label, "DfE-layout file beside LIIA flat files: put DfE files in "
                                             "a folder per collection year"))
    if year.start_year not in out:
        raise UsageError(f"{data}: no rows for collection year {year.label}")
    return out, notes, la


def load_council(data: str | Path, year: str | CollectionYear, la: str | None = None, cut_at_gap: bool = False
                 ) -> CouncilData:
    """Read, check and combine every return up to ``year`` from ``data``.

    Raises :class:`FatalDataError` listing every file-level problem at once. A collection year missing
    between the first and ``year`` is one of them, unless ``cut_at_gap``: then the years before the
    gap are not used, with a finding for each of their files.
    """
    year = year if isinstance(year, CollectionYear) else CollectionYear.parse(year)
    return load_history(data, year, la=la, cut_at_gap=cut_at_gap)[year.label]


def _without_gaps(per_year: dict[int, list[RawTable]], cut: bool, problems: list[Problem], found: F.Findings,
                  notes: list[str]) -> dict[int, list[RawTable]]:
    """The returns, checked for a collection year missing in the middle of the history."""
    years = sorted(per_year)
    missing = [y for y in range(years[0], years[-1]) if y not in per_year]
    if not missing:
        return per_year
    first, last = CollectionYear(years[0]).label, CollectionYear(years[-1]).label
    if not cut:
        flat = any(r.liia for raws in per_year.values() for r in raws)  # no folder per year to name
        problems.extend(Problem(f"{CollectionYear(y).label}{' (flat files)' if flat else '/'}",
                                f"this collection year's return is missing from the history ({first} to {last})"
                                f"{': the flat files have no rows for it' if flat else ''}: without it, children's "
                                "care in that year is unknown and the figures are wrong. Add it, or use only the "
                                "years after the gap (--cut-at-gap, or cut_at_gap: true in a params file)")
                        for y in missing)
        return per_year
    gap, start = CollectionYear(max(missing)), CollectionYear(max(missing) + 1)
    for y in years:
        if y < gap.start_year:
            for r in per_year[y]:
                n = len(r.frame)
                rows = "the file (no rows)" if not n else "its row" if n == 1 else f"its {n:,} rows"
                if r.liia:  # a flat file holds many years: only this one's rows are left out
                    rows = f"{'the row' if n == 1 else f'the {n:,} rows'} for {CollectionYear(y).label}"
                found.add(F.make(r.label, [1], None, None, "history-gap", "ignored",
                                 f"{rows} not used: the {gap.label} return is missing, so the history "
                                 f"starts in {start.label} and care before it is unknown"))
    notes.append(f"The {gap.label} return is missing: only the returns from {start.label} are used, so children's "
                 f"care before {start.label} is unknown to every figure.")
    return {y: raws for y, raws in per_year.items() if y > gap.start_year}


def load_history(data: str | Path, year: str | CollectionYear, la: str | None = None, earlier: int = 0,
                 cut_at_gap: bool = False) -> dict[str, CouncilData]:
    """``year`` and up to ``earlier`` collection years before it (those supplied), each as
    :func:`load_council` would load it, keyed by label, oldest first. (Each child has one number in every
    year of the history, which may differ from its number in a load of fewer returns: compare loads by
    ``data.children[number]``.)

    Each return is read, typed and checked once and shared by every year it belongs to: the five-year
    trends cost one load, not five.
    """
    history = check_history(data, year, la=la, earlier=earlier, cut_at_gap=cut_at_gap)
    return {label: history.year(label) for label in history.labels}


def check_history(data: str | Path, year: str | CollectionYear, la: str | None = None, earlier: int = 0,
                  cut_at_gap: bool = False,
                  in_parallel: Callable[[Callable[[], dict]], Callable[[], dict]] | None = None,
                  meanwhile: Callable[[], object] | None = None) -> History:
    """Every return up to ``year`` read, typed and checked once (:func:`load_history`'s first step), for
    :meth:`History.year` to combine for ``year`` and up to ``earlier`` years before it.

    ``in_parallel(work)``, when given, starts ``work()`` elsewhere and returns a function giving its
    result (the notebook kernel's helper, ``report/helper.py``): the earliest returns are checked there
    (as many as :func:`helpers_share` says), while this process checks the others and then calls
    ``meanwhile()`` (the kernel imports the charts' libraries). Either way the first error in year
    order is the one raised."""
    data = Path(data)
    year = year if isinstance(year, CollectionYear) else CollectionYear.parse(year)
    if not data.is_dir():
        raise UsageError(f"{data}: no such folder")
    problems: list[Problem] = []
    unreadable: set[str] = set()
    per_year, notes, la = _discover(data, year, la, problems, unreadable)
    gap_found = F.Findings()
    per_year = _without_gaps(per_year, cut_at_gap, problems, gap_found, notes)
    for sy, raws in per_year.items():
        present = {r.table.key for r in raws}
        prefix = f"{CollectionYear(sy).label}/" if not la else ""
        for t in spec.tables().values():
            label = f"{prefix}{t.file}"
            if (t.required_file and t.key not in present and not la and label.lower() not in unreadable
                    and prefix.lower() not in unreadable):
                problems.append(Problem(label, f"required file missing for {CollectionYear(sy).label}"))
        seen: dict[str, str] = {}
        for r in raws:
            if r.table.key in seen and not r.liia:
                problems.append(Problem(r.label, f"a second file for the {r.table.key} table "
                                                 f"(the first is {seen[r.table.key]})"))
            seen.setdefault(r.table.key, r.label)
    if problems:
        raise FatalDataError(problems)
    years = sorted(per_year)
    cut = helpers_share([sum(len(r.frame) for r in per_year[y]) for y in years], meanwhile is not None) \
        if in_parallel else 0
    early, late = years[:cut], years[cut:]

    def check(part: list[int]) -> dict[int, _Return]:
        return {sy: _check_return(CollectionYear(sy), per_year[sy]) for sy in part}

    theirs = (in_parallel if in_parallel and early else lambda work: work)(lambda: check(early))
    try:
        ours, failed = check(late), None
    except Exception as e:  # raised after any error in an earlier return, as when checked in order
        ours, failed = {}, e
    if meanwhile is not None:
        meanwhile()
    returns = {**theirs(), **ours}
    if failed is not None:
        raise failed
    children, returns = number_children(returns)
    labels = [CollectionYear(sy).label for sy in years if sy >= year.start_year - earlier]
    supplied = {sy: {r.table.key for r in raws} for sy, raws in per_year.items()}
    return History(returns, labels, supplied, gap_found, notes, la, children)


#: estimated seconds to check a return: for each return, and per million rows (2-core benchmark machine:
#: only the ratios between these figures matter, and they hold from one council to the national tree)
CHECK_EACH, CHECK_PER_MILLION = 0.11, 1.3
#: per million rows, a helper's cost of sending a checked return (pickling it), and this process's of
#: taking it in (unpickling, after both have finished)
SEND_PER_MILLION, TAKE_PER_MILLION = 0.42, 0.25
#: estimated seconds of ``meanwhile``: the kernel importing the charts' libraries
MEANWHILE = 0.7


def helpers_share(rows: list[int], meanwhile: bool) -> int:
    """How many of the earliest returns (``rows`` in each, oldest first) a helper should check so that
    the check is soonest done, this process checking at least the latest: every earlier one for a council
    (the import ``meanwhile`` takes longer than checking them), about two in five at the national scale
    (every return sent back is pickled there and unpickled here)."""
    check = [CHECK_EACH + CHECK_PER_MILLION * n / 1e6 for n in rows]
    send = [n / 1e6 for n in rows]

    def done(k: int) -> float:
        theirs = sum(check[:k]) + SEND_PER_MILLION * sum(send[:k])
        ours = sum(check[k:]) + (MEANWHILE if meanwhile else 0)
        return max(theirs, ours) + TAKE_PER_MILLION * sum(send[:k])

    return min(range(len(rows)), key=lambda k: (done(k), -k))


@dataclass
class History:
    """A council's returns, each read, typed and checked on its own (:func:`check_history`)."""

    returns: dict[int, _Return]  # by collection start year
    labels: list[str]  # the years :func:`load_history` gives, oldest first
    supplied: dict[int, set[str]]  # the tables each return supplied
    gap_found: F.Findings  # about returns left out before a gap
    notes: list[str]
    la: str | None
    children: pd.Index  # every CHILD identifier, in order (:func:`number_children`)

    @cached_property
    def forms(self) -> np.ndarray:
        """Each identifier's form without spaces, leading zeros or case, found once for every year."""
        return identifier_forms(self.children)

    def year(self, label: str) -> CouncilData:
        """The collection year ``label`` as :func:`load_council` loads it (children's numbers aside: those of
        the whole history): its return and every earlier one combined, and checked across returns."""
        cy = CollectionYear.parse(label)
        sy, returns, la = cy.start_year, self.returns, self.la
        found = F.Findings(list(self.gap_found.parts))
        parts: dict[str, list[pd.DataFrame]] = {}
        files: dict[str, str] = {}
        for r in (returns[y] for y in sorted(returns) if y <= sy):
            found.parts.extend(r.findings.parts)
            files.update(r.files)
            for key, df in r.tables.items():
                parts.setdefault(key, []).append(df)
        combined = {key: combine(frames, key) for key, frames in parts.items()}
        combined = {k: v for k, v in combined.items() if len(v.columns)}
        if "episodes" in combined:
            restated = {y: returns[y].tables["episodes"]["child_id"].unique() for y in sorted(returns)
                        if y <= sy and "episodes" in returns[y].tables}
            combined["episodes"] = close_unrestated(combined["episodes"], restated, found)
        earliest = CollectionYear(min(returns))
        care = check_combined(combined, self.forms, earliest, cy, found)
        year_notes = list(self.notes)
        in_year = frozenset(k for k, df in returns[sy].tables.items() if len(df))
        for t in spec.tables().values():
            if t.every_year and t.key in combined and len(combined[t.key]) and t.key not in in_year:
                year_notes.append(f"The {cy.label} return has no usable row of {t.file}: its {cy.label} figures "
                                  "are not supplied (the earlier returns' rows serve only their own years)")
        if la:
            have = {key for y, keys in self.supplied.items() if y <= sy for key in keys}
            missing = [t.file for t in spec.tables().values() if t.required_file and t.key not in have]
            if missing:
                year_notes.append(f"LIIA flat files: not supplied: {', '.join(missing)}")
        return CouncilData(year=cy, earliest_year=earliest, tables=combined, findings=found, files=files,
                           notes=year_notes, la=la, care=care, children=self.children, in_year=in_year)


@dataclass
class _Return:
    """One collection year's return, typed and checked on its own."""

    tables: dict[str, pd.DataFrame]
    findings: F.Findings
    files: dict[str, str]


def _check_return(cy: CollectionYear, raws: list[RawTable]) -> _Return:
    found = F.Findings()
    typed: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    refused: list[Problem] = []  # every file refused (a date column in another format), not only the first
    for r in raws:
        files.setdefault(r.label, sha256_file(r.path))
        if not len(r.frame) and r.table.source == "iro":  # (an empty required table is fatal; an empty
            # optional 903 table is normal, e.g. no care leavers to report on)
            found.add(F.make(r.label, [1], None, None, "no-data-rows", "kept",
                             f"the file has a header but no data rows: its figures show none for {cy.label}; if "
                             "there are records, export the file again"))
        if r.table.first_year and cy < r.table.first_year:
            found.add(F.make(r.label, pd.Series([1]), None, None, "table-not-in-year", "ignored",
                             f"the {r.table.key} table starts in {r.table.first_year.label}; "
                             f"{len(r.frame)} rows ignored for {cy.label}"))
            continue
        try:
            df = type_table(r, cy, found)
        except FatalDataError as e:
            refused += e.problems
            continue
        df["_year"] = cy.start_year
        typed[r.table.key] = df
    if refused:
        raise FatalDataError(refused)
    return _Return(check_return(typed, cy, found), found, files)


def number_children(returns: dict[int, _Return]) -> tuple[pd.Index, dict[int, _Return]]:
    """Every CHILD identifier in the returns' tables, sorted, and the returns with each table's
    ``child_id`` (the identifiers of a file, ``read.type_table``) replaced by the identifier's position there.

    Joining and grouping on numbers is several times quicker than on text, and ordering by ``child_id``
    still orders by identifier. The same identifier is the same number in every return and table."""
    frames = [(y, k) for y, r in returns.items() for k, df in r.tables.items() if CHILD in df]
    if not frames:
        return pd.Index([], dtype=object), returns
    # each file's identifiers still in its rows (not those of rows excluded), as a position among them
    used, places = [], []
    for y, k in frames:
        ids = returns[y].tables[k][CHILD].array
        kept = np.bincount(ids.codes, minlength=len(ids.categories)) > 0
        used.append(ids.categories.to_numpy(dtype=object)[kept])
        places.append(np.cumsum(kept) - 1)  # a category's place among those kept
    # every file's identifiers numbered at once, then renumbered in sorted order
    codes, children = pd.factorize(np.concatenate(used))
    order = np.argsort(children, kind="stable")
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(len(order))
    numbers = np.split(rank[codes], np.cumsum([len(u) for u in used])[:-1])
    tables = {y: dict(r.tables) for y, r in returns.items()}
    for (y, k), number, place in zip(frames, numbers, places):
        df = tables[y][k]
        tables[y][k] = df.assign(**{CHILD: number[place[df[CHILD].array.codes]]})
    return (pd.Index(children[order], dtype=object),
            {y: _Return(tables[y], r.findings, r.files) for y, r in returns.items()})
