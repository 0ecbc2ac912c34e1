"""Read one CSV file of the 903 or the IRO records into a typed frame with internal names.

Fatal problems (not a CSV, wrong delimiter, unknown table, missing columns, no rows) raise
:class:`~iro_metrics.errors.FatalDataError`; row-level problems become findings and every row is
either kept or excluded with a finding, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from iro_metrics import spec
from iro_metrics.errors import FatalDataError, Problem
from iro_metrics.ingest import findings as F
from iro_metrics.years import CollectionYear, year_of

LIIA_COLUMNS = ("LA", "YEAR")
PROVENANCE = ("_file", "_row")
#: the column of every table holding the child's CHILD identifier: categories here, a number once loaded
#: (``load.number_children``)
CHILD = "child_id"

_DMY = r"\d{1,2}/\d{1,2}/\d{4}"
#: formats checked for text columns (the DfE validator's rule 168 for UPNs; the Royal Mail pattern)
_FORMATS = {
    "upn": (r"(?![IOS])[A-Z]\d{11}[0-9A-Z]|UN[1-5]", "upn-format"),
    "postcode": (r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", "postcode-format"),
}
_ISO = r"\d{4}-\d{2}-\d{2}"
_BLANK_LINE = re.compile(r"^[, \t\r]*$", re.MULTILINE)  # an empty line, or one with only commas
#: padded cells and blank rows are looked for in the text's bytes with numpy (a regular expression tried
#: at every character of a national return took 11 s)
_BEFORE_PADDING = np.frombuffer(b",\n", dtype=np.uint8)  # a space after one starts a cell, before one ends it
_MAY_START_BLANK = np.frombuffer(b", \t\r\n", dtype=np.uint8)  # what a blank row may start with
_EOL = (ord("\r"), ord("\n"))

_EXCEL_MAGIC = {b"PK\x03\x04": "an Excel workbook (.xlsx)", b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook (.xls)"}


@dataclass
class RawTable:
    """A file whose header matched a known table; cells still text."""

    table: spec.Table
    path: Path
    label: str  # how findings name the file, e.g. "2024-25/episodes.csv"
    frame: pd.DataFrame  # DfE columns as strings, plus _row
    liia: bool
    padded: bool = True  # some cell may have leading or trailing spaces


def _decode(path: Path, label: str) -> str:
    try:
        data = path.read_bytes()
    except PermissionError:
        raise FatalDataError([Problem(label, "the file cannot be read (permission denied); ask whoever manages "
                                             "the folder to give you read access, or copy the file")]) from None
    if not data.strip():
        raise FatalDataError([Problem(label, "the file is empty (expected a CSV header row and data rows)")])
    for magic, what in _EXCEL_MAGIC.items():
        if data.startswith(magic):
            raise FatalDataError([Problem(label, f"this is {what} renamed .csv, not a CSV file; "
                                                 "open it in Excel and save as 'CSV UTF-8'")])
    if b"\x00" in data[:4096]:
        raise FatalDataError([Problem(label, "the file holds binary data (NUL bytes), not CSV text")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        raise FatalDataError([Problem(label, f"byte 0x{data[e.start]:02x} is not UTF-8 text; save the file "
                                             "as 'CSV UTF-8'", row=row)]) from None
    if "\n" not in text and "\r" in text:  # old Mac line endings (CR only): read as ordinary lines
        text = text.replace("\r", "\n")
    return text


def _header_problems(header: list[str], label: str) -> list[Problem]:
    """Columns named twice: which copy holds the data cannot be known."""
    seen: dict[str, int] = {}
    problems = []
    for i, h in enumerate(header, start=1):
        if h and h in seen:
            problems.append(Problem(label, f"the column name appears twice (columns {seen[h]} and {i}); delete "
                                           "or rename one of them", column=h, row=1))
        seen.setdefault(h, i)
    return problems


_TOO_MANY = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _parse(text: str, header: list[str], label: str) -> pd.DataFrame:
    """The cells as text; a malformed row is a fatal problem naming it."""
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False,
                           header=0, names=header, index_col=False, on_bad_lines="error", engine="c")
    except pd.errors.ParserError as e:
        if m := _TOO_MANY.search(str(e)):
            want, line, saw = (int(g) for g in m.groups())
            raise FatalDataError([Problem(label, f"{saw} fields in this row but {want} columns in the header; a "
                                                 "value holding a comma must be in double quotes", row=line)]) from None
        if m := _OPEN_QUOTE.search(str(e)):
            raise FatalDataError([Problem(label, "a double quote opened in this row is never closed; close it or "
                                                 "remove it (a quote inside a quoted value is written twice: \"\")",
                                          row=int(m.group(1)) + 1)]) from None
        raise FatalDataError([Problem(label, f"not readable as CSV ({e}); save the file as 'CSV UTF-8'")]) from None


def first_line(text: str) -> str:
    end = text.find("\n")
    return text if end < 0 else text[:end]


def _has_blank_line(text: str, data: np.ndarray) -> bool:
    """A data row that is empty or only commas, spaces and tabs (the header and the file's final line
    endings aside). Such a row starts right after a line break; only when one might is the text searched
    line by line. ``data`` is the text's UTF-8 bytes (:func:`_bytes`)."""
    start, end = len(first_line(text)), len(text)
    while end and text[end - 1] in "\r\n":
        end -= 1
    if start >= end:  # no data rows: only a text of line endings is one empty row
        return end == 0
    if start:  # the line breaks before the final line endings: the first ends the header
        b_end = len(data)
        while b_end and data[b_end - 1] in _EOL:
            b_end -= 1
        breaks = np.flatnonzero(data[:b_end - 1] == ord("\n"))
        if not np.isin(data[breaks + 1], _MAY_START_BLANK).any():
            return False
    return _BLANK_LINE.search(text, start, end) is not None


def _has_padding(data: np.ndarray) -> bool:
    """Some cell starts or ends with a space or a tab: one after a comma or a line break (or first), or
    before a comma or a line's end (or last). ``data`` is the text's UTF-8 bytes (:func:`_bytes`)."""
    at = np.flatnonzero((data == ord(" ")) | (data == ord("\t")))
    if not len(at):
        return False
    if at[0] == 0 or at[-1] == len(data) - 1:
        return True
    if np.isin(data[at - 1], _BEFORE_PADDING).any() or np.isin(data[at + 1], _BEFORE_PADDING).any():
        return True
    cr = at[data[at + 1] == ord("\r")]  # before a CRLF line ending, or a CR that ends the text
    after = np.minimum(cr + 2, len(data) - 1)
    return bool(((cr + 2 == len(data)) | (data[after] == ord("\n"))).any())


def _bytes(text: str) -> np.ndarray:
    """The text's UTF-8 bytes, for searching: a multi-byte character holds no ASCII byte, so a comma,
    space, tab or line ending found there is one in the text."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)



def identify(header: list[str], path: Path) -> tuple[spec.Table | None, bool]:
    """Which table a header belongs to: by file name first, else by its exact DfE column set."""
    cols = {h for h in header if h}
    liia = all(c in cols for c in LIIA_COLUMNS)
    core = cols - set(LIIA_COLUMNS) if liia else cols
    by_name = {t.file.lower(): t for t in spec.tables().values()}
    table = by_name.get(path.name.lower())
    if table is None:
        # every DfE column present; extra columns are reported as findings. The widest match wins.
        fits = [t for t in spec.tables().values() if set(t.dfe_columns) <= core]
        table = max(fits, key=lambda t: len(t.dfe_columns), default=None)
    return table, liia


def read_raw(path: Path, label: str) -> RawTable:
    text = _decode(path, label)
    first = next(csv.reader(io.StringIO(text)), [])
    header = [h.strip() for h in first]
    if len(header) == 1 and any(d in header[0] for d in ";\t|"):
        sep = next(d for d in ";\t|" if d in header[0])
        raise FatalDataError([Problem(label, f"the columns are separated by {sep!r}, not commas; "
                                             "save the file as comma-separated CSV", row=1)])
    if problems := _header_problems(header, label):
        raise FatalDataError(problems)
    table, liia = identify(header, path)
    if table is None:
        known = ", ".join(sorted(t.file for t in spec.tables().values()))
        raise FatalDataError([Problem(label, "the header matches no known table (name the file as one "
                                             f"of: {known}, with its DfE column names)", row=1)])
    missing = [c for c in table.dfe_columns if c not in header]
    if missing:
        raise FatalDataError([Problem(label, f"required column missing (expected the DfE columns "
                                             f"{','.join(table.dfe_columns)})", column=c, row=1)
                              for c in missing])
    data = _bytes(text)  # searched before the cells are parsed, and let go
    blank_rows, padded = _has_blank_line(text, data), _has_padding(data)
    del data
    frame = _parse(text, header, label)
    frame["_row"] = pd.RangeIndex(2, len(frame) + 2)
    if blank_rows:  # rare: only then look for empty rows
        data_cols = [c for c in frame.columns if c != "_row"]
        blank = (frame[data_cols] == "").all(axis=1)
        frame = frame[~blank].reset_index(drop=True)
    if frame.empty and table.required_file:
        raise FatalDataError([Problem(label, "the file has a header but no data rows")])
    return RawTable(table=table, path=path, label=label, frame=frame, liia=liia, padded=padded)


def _dates(s: pd.Series, iso: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse dates; returns (parsed, bad_format mask, invalid_date mask)."""
    filled = s != ""
    dmy = s.str.fullmatch(_DMY)
    isoish = s.str.fullmatch(_ISO)
    ok_format = (isoish | dmy) if iso else dmy
    parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    if dmy.any():
        parsed[dmy] = pd.to_datetime(s[dmy], format="%d/%m/%Y", errors="coerce").astype("datetime64[s]")
    if iso and isoish.any():
        parsed[isoish] = pd.to_datetime(s[isoish], format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    bad_format = filled & ~ok_format
    invalid = filled & ok_format & parsed.isna()
    return parsed, bad_format, invalid


#: a date column is written in another format when at least this share of its filled cells (and at least
#: ``WRONG_FORMAT_ROWS`` of them) are not dd/mm/yyyy: the file is refused rather than those rows excluded
WRONG_FORMAT_SHARE, WRONG_FORMAT_ROWS = 0.5, 5


_US = re.compile(r"\d{1,2}/(1[3-9]|2\d|3[01])/\d{4}")  # month first: the second number cannot be a month


def _not_a_date_column(bad_u: np.ndarray, codes: np.ndarray, filled: int, values_u: np.ndarray, rows: np.ndarray,
                       col: spec.Column, iso_ok: bool, label: str) -> None:
    """Refuse a file whose date column is written in another format (an export or a spreadsheet's
    re-save writing 2024-03-31, or 03/31/2024 month first): excluding its rows one by one would publish
    figures of almost nothing. ``bad_u`` marks the distinct values (``values_u``; each row's is its
    ``codes``) that are not in the format or not a real date, of the ``filled`` rows with a date. A few
    such dates are findings, each row excluded."""
    if not bad_u.any():  # the usual case: nothing to count
        return
    bad = bad_u[codes]
    n = int(bad.sum())
    if n < max(WRONG_FORMAT_ROWS, WRONG_FORMAT_SHARE * filled):
        return
    first = int(np.argmax(bad))
    example = "" if spec.is_identifier(col) else f", such as {str(values_u[codes[first]]).strip()!r}"
    sample = [str(v).strip() for v in values_u[bad_u][:50]]
    if not iso_ok and all(re.fullmatch(_ISO, v) for v in sample):
        how = "They look like yyyy-mm-dd, which the DfE's 903 does not accept"
    elif any(_US.fullmatch(v) for v in sample):
        how = "They look like mm/dd/yyyy, month first (a spreadsheet set to US dates)"
    elif all(re.fullmatch(r"\d{5}(\.0+)?", v) for v in sample):
        how = "They look like a spreadsheet's day numbers (45382 for 31/03/2024), saved without a date format"
    elif all(re.search(r"[A-Za-z]{3}", v) for v in sample):
        how = "They are written with the month's name (31-Mar-2024)"
    else:
        how = "A spreadsheet re-saving the file may have changed them"
    expected = "dd/mm/yyyy (or yyyy-mm-dd)" if iso_ok else "dd/mm/yyyy"
    raise FatalDataError([Problem(
        label, f"{n} of the {filled} dates are not real dates written {expected}{example}: the column is in "
               f"another format, so the file is not used. {how}: export it again from the source system with "
               "dates as dd/mm/yyyy (in a spreadsheet, format the column as dd/mm/yyyy before saving as CSV)",
        column=col.dfe_name, row=int(rows[first]))])


#: no date in a 903 return or the IRO records can be earlier than this
EARLIEST_DATE = pd.Timestamp("1900-01-01")


def _impossible_dates(t: spec.Table, out: pd.DataFrame, rows: np.ndarray, year: CollectionYear, label: str,
                      found: F.Findings) -> np.ndarray:
    """Real dates that cannot be right: before 1900, after the end of the return's year (``by_year_end``),
    an end before its start (``not_before``). The row is excluded when the date is required, else the
    date is left out. Returns the rows to exclude."""
    exclude = np.zeros(len(out), dtype=bool)
    by_dfe = {c.dfe_name: c for c in t.columns}
    for col in (c for c in t.columns if c.type == "date"):
        s = out[col.name]
        checks = [(s < EARLIEST_DATE, "date-too-early", "before 1900: not a possible date here")]
        if col.by_year_end:
            checks.append((s > year.end, "date-after-year-end",
                           f"after 31 March {year.end.year}, the end of the {year.label} return that holds it"))
        if col.not_before:
            start = out[by_dfe[col.not_before].name]
            checks.append((s < start, "end-before-start", f"earlier than {col.not_before} on the same row"))
        cleared = np.zeros(len(out), dtype=bool)  # one finding per cell: the first check that fails
        for mask_s, rule, what in checks:
            mask = mask_s.fillna(False).to_numpy(dtype=bool) & ~exclude & ~cleared
            if not mask.any():
                continue
            shown = None if spec.is_identifier(col) else s[mask].dt.strftime("%d/%m/%Y").to_numpy()
            if col.required or rule == "end-before-start":  # a record's own date, or a span that cannot be
                found.add(F.make(label, rows[mask], col.dfe_name, shown, rule, "excluded", f"{what}; row excluded"))
                exclude |= mask
            else:
                found.add(F.make(label, rows[mask], col.dfe_name, shown, rule, "value-excluded",
                                 f"{what}; the date is left out (the rest of the row is kept)"))
                out.loc[mask, col.name] = pd.NaT
                cleared |= mask
    return exclude


def _child_codes(codes: np.ndarray, uniques: np.ndarray) -> pd.Categorical:
    """A CHILD column (each row's identifier ``uniques[codes]``; ``uniques`` may repeat once padding is
    stripped) as each identifier once and a code per row, so that the checks compare numbers, not text
    (a blank is a code too: its row is excluded, as CHILD is required)."""
    once, distinct = pd.factorize(uniques, use_na_sentinel=False)
    return pd.Categorical.from_codes(once[codes], categories=pd.Index(distinct, dtype=object))


def type_table(raw: RawTable, year: CollectionYear, found: F.Findings) -> pd.DataFrame:
    """Check and convert each column; return the frame with internal names plus ``_file``/``_row``.

    ``year`` is the collection year of the return holding the rows (code lists are versioned by it,
    or by the year of the column named in ``year_from``).
    """
    t, df, label = raw.table, raw.frame, raw.label
    rows = df["_row"].to_numpy()
    exclude = np.zeros(len(df), dtype=bool)
    iso_ok = raw.liia or t.source == "iro"
    extra = [c for c in df.columns if c not in t.dfe_columns and c != "_row" and c not in LIIA_COLUMNS]
    for c in extra:
        found.add(F.make(label, [1], c, None, "unexpected-column", "ignored"))
    out: dict[str, object] = {}
    distinct: dict[str, tuple[np.ndarray, pd.Series]] = {}
    # numpy masks throughout: a frame has many columns and most checks find nothing
    for col in t.columns:
        column = df[col.dfe_name].to_numpy(dtype=object)
        if col.type == "id" and not raw.padded:  # identifiers: nothing to check but blanks
            blank = column == ""
            if col.required and blank.any():
                found.add(F.make(label, rows[blank], col.dfe_name, None, "required-blank", "excluded"))
                exclude |= blank
            out[col.name] = _child_codes(*pd.factorize(column, use_na_sentinel=False)) if col.name == CHILD else \
                pd.array(np.where(blank, None, column), dtype="string")
            continue
        # every other check runs once per distinct value (codes and dates repeat a lot), then maps back
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        u_raw = pd.Series(uniques, dtype=object)
        u = u_raw.str.strip() if raw.padded else u_raw
        distinct[col.name] = (codes, u)
        shown = None if spec.is_identifier(col) else u_raw.to_numpy()[codes]
        u_blank = (u == "").to_numpy()
        blank = u_blank[codes]
        if raw.padded:
            trimmed = (u != u_raw).to_numpy()[codes]
            if trimmed.any():
                found.add(F.make(label, rows[trimmed], col.dfe_name, None if shown is None else shown[trimmed],
                                 "whitespace", "trimmed"))
        if col.required and blank.any():
            found.add(F.make(label, rows[blank], col.dfe_name, None, "required-blank", "excluded"))
            exclude |= blank
        if col.type == "date":
            parsed_u, bad_format_u, invalid_u = _dates(u, iso_ok)
            _not_a_date_column((bad_format_u | invalid_u).to_numpy(), codes, int((~blank).sum()), u_raw.to_numpy(),
                               rows, col, iso_ok, label)
            for mask_u, rule, msg in ((bad_format_u, "date-format",
                                       "expected a date written dd/mm/yyyy with a 4-digit year"),
                                      (invalid_u, "date-invalid", None)):
                mask = mask_u.to_numpy()[codes]
                if mask.any():
                    found.add(F.make(label, rows[mask], col.dfe_name, None if shown is None else shown[mask],
                                     rule, "excluded", msg))
                    exclude |= mask
            out[col.name] = parsed_u.to_numpy()[codes]
        elif col.type in ("int", "float", "flag"):
            num_u = pd.to_numeric(u.where(~u_blank), errors="coerce")
            bad_u = ~u_blank & num_u.isna().to_numpy()
            if col.type == "flag":
                bad_u |= ~u_blank & ~num_u.isin([0, 1]).to_numpy()
            elif col.type == "int":
                bad_u |= ~u_blank & (num_u.notna() & (num_u % 1 != 0)).to_numpy()
            num = num_u.where(~bad_u).to_numpy()[codes]
            bad = bad_u[codes]
            if bad.any():
                action = "excluded" if col.required else "kept"
                msg = "expected 0 or 1" if col.type == "flag" else None
                found.add(F.make(label, rows[bad], col.dfe_name, u.to_numpy()[codes][bad], "not-a-number"
                                 if col.type != "flag" else "unknown-code", action, msg))
                if col.required:
                    exclude |= bad
            lo = -np.inf if col.min is None else col.min
            hi = np.inf if col.max is None else col.max
            with np.errstate(invalid="ignore"):
                oor = ~np.isnan(num) & ((num < lo) | (num > hi))
            if oor.any():  # impossible: left out of every figure rather than distort one
                found.add(F.make(label, rows[oor], col.dfe_name, u.to_numpy()[codes][oor], "out-of-range",
                                 "value-excluded", f"expected a number from {col.min:g} to {col.max:g}; the value is "
                                 "left out of every figure that uses it (the rest of the row is kept)"))
                num = np.where(oor, np.nan, num)
            out[col.name] = pd.array(num, dtype="Float64" if col.type == "float" else "Int64")
        else:
            if col.type in _FORMATS:
                pattern, rule = _FORMATS[col.type]
                bad = (~u_blank & ~u.str.upper().str.fullmatch(pattern).astype(bool).to_numpy())[codes]
                if bad.any():
                    found.add(F.make(label, rows[bad], col.dfe_name, None, rule, "kept"))
            out[col.name] = _child_codes(codes, u.to_numpy()) if col.name == CHILD else \
                pd.array(np.where(u_blank, None, u.to_numpy())[codes], dtype="string")
    out = pd.DataFrame(out, index=df.index)
    exclude |= _impossible_dates(t, out, rows, year, label, found)
    # code checks once all columns are typed (year_from may name a date column)
    for col in t.columns:
        if col.type != "code":
            continue
        codes, u = distinct[col.name]
        s = out[col.name]
        present = s.notna().to_numpy()
        unknown = present & ~u.isin(spec.all_codes(col.codes)).to_numpy()[codes]
        if unknown.any():
            found.add(F.make(label, rows[unknown], col.dfe_name, s.to_numpy()[unknown], "unknown-code", "kept",
                             f"not a {col.dfe_name} code in any year's code list"))
        if col.year_from:
            years = year_of(out[col.year_from]).fillna(year.start_year).to_numpy()
        else:
            years = np.full(len(s), year.start_year)
        wrong_year = np.zeros(len(s), dtype=bool)
        checked = present & ~unknown
        for y in [] if col.any_year else np.unique(years[checked]):
            valid = u.isin(spec.valid_codes(col.codes, CollectionYear(int(y)))).to_numpy()[codes]
            wrong_year |= checked & (years == y) & ~valid
        if wrong_year.any():
            rule = "sex-coding" if col.codes == "SEX" else "code-not-valid-for-year"
            found.add(F.make(label, rows[wrong_year], col.dfe_name, s.to_numpy()[wrong_year], rule, "kept"))
        if col.codes == "SEX":
            out[col.name] = s.map(spec.sex_internal()).astype("string")
    if exclude.any():
        out = out[~exclude]
    out["_file"] = label
    out["_row"] = rows[~exclude].astype("int64")
    return out.reset_index(drop=True)
