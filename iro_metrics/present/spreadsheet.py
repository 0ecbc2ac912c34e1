"""The published tables as a spreadsheet (``tables.xlsx``), following the Analysis Function's guidance
on releasing statistics in spreadsheets: a cover sheet, a contents sheet, a notes sheet, then one table
per sheet, named, starting in column A below its title lines, numbers stored as numbers and the symbols
c, x and z explained. Written by gptables (made for this guidance); byte-stable.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path

import pandas as pd

from iro_metrics.metrics import REGISTRY, ordered
from iro_metrics.metrics.registry import label
from iro_metrics.present.suppression import NO_CASES, NOT_APPLICABLE
from iro_metrics.present.zipstamp import restamp

_NUMBER = re.compile(r"^-?[\d,]*\.?\d+$")


def notes(threshold: int) -> pd.DataFrame:
    """The notes sheet: what the symbols mean and how the tables were protected."""
    return pd.DataFrame({"Note number": ["note 1", "note 2", "note 3"], "Note text": [
        f"c: suppressed. A count from 1 to {threshold} below the level of the whole council, or a figure that would "
        "reveal one, is not shown (statistical disclosure control); a percentage or median of a hidden count is "
        "hidden too.",
        "x: not available. z: not applicable, including a percentage or rate of no cases (shown as – in the "
        "appendix).",
        "Figures are the council's own, computed from its SSDA903 return by the iro-metrics package. Council-level "
        "totals are shown unrounded, as DfE publishes them."]})


def sheet(df: pd.DataFrame) -> pd.DataFrame:
    """A published table for a spreadsheet: display headers; numbers as numbers, symbols as text."""
    out = df.rename(columns={c: label(str(c)) for c in df.columns}).astype(object)
    for c in out.columns[1:]:
        out[c] = [_value(v) for v in out[c]]
    return out


def _value(v: object) -> object:
    if v == NO_CASES:  # the guidance wants letters, not a dash: a percentage of nothing is not applicable
        return NOT_APPLICABLE
    if isinstance(v, str) and _NUMBER.match(v):
        return float(v.replace(",", "")) if "." in v else int(v.replace(",", ""))
    return v


def _sheets(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str, pd.DataFrame]]:
    """(sheet name, table id, table) in report order."""
    order = [m.id for m in ordered() if m.id in tables]
    return [(f"Table_{i}", mid, sheet(tables[mid])) for i, mid in enumerate(order, 1)]


def _title(mid: str, council: str, year: str) -> str:
    return f"{REGISTRY[mid].title}, {council}, {year} [note 1] [note 2]"


def write_xlsx(tables: dict[str, pd.DataFrame], out: Path, council: str, year: str, threshold: int,
               when: dt.date) -> Path:
    """``tables.xlsx`` by gptables, dated ``when`` (not now) so that rebuilding gives the same bytes."""
    import gptables as gpt
    from xlsxwriter.exceptions import FileCreateError

    sheets = {}
    for name, mid, df in _sheets(tables):
        sheets[name] = gpt.GPTable(
            table=df, table_name=mid, title=_title(mid, council, year),
            subtitles=["This worksheet contains one table. Some cells are shown as c, x or z: see the notes sheet."],
            source="Source: the council's SSDA903 return, computed by iro-metrics [note 3]",
            instructions="This worksheet contains one table with a header row; the first column names each row. "
                         "A blank cell in an Attention column means the group is not marked for attention.")
    cover = gpt.Cover(
        title=f"{council}: Independent Reviewing Officer annual report {year}, tables",
        intro=["The published tables of the statistical appendix, one table per worksheet, with disclosure "
               "control applied."],
        about=["Symbols: c suppressed (a small count, or a figure that would reveal one); x not available; "
               "z not applicable. The notes worksheet explains them.",
               "The same tables are in the appendix (HTML, PDF and Word) and as CSV files."])
    with warnings.catch_warnings():  # gptables warns of blank cells; the instructions above explain them
        warnings.simplefilter("ignore")
        wb = gpt.produce_workbook(filename=str(out), sheets=sheets, cover=cover, notes_table=notes(threshold),
                                  contentsheet_label="Contents", notesheet_label="Notes")
    stamp = dt.datetime(when.year, when.month, when.day)
    wb.set_properties({"title": f"{council}: IRO annual report {year}, tables", "created": stamp})
    wb.set_custom_property("Language", "en-GB")
    try:
        wb.close()
    except FileCreateError as e:  # xlsxwriter wraps the OSError (a full disk, no permission): pass it on as one
        raise (e.__context__ if isinstance(e.__context__, OSError) else OSError(str(e))) from None
    restamp(out, stamp)
    return out


def write_ods(tables: dict[str, pd.DataFrame], out: Path, council: str, year: str, threshold: int,
              when: dt.date) -> Path:
    """``tables.ods`` (OpenDocument, for councils on LibreOffice) with the same sheets as the workbook:
    a cover, contents, notes, then one table per sheet below its title lines; numbers stored as numbers;
    dated ``when`` (not now) so that rebuilding gives the same bytes."""
    from odf.element import Element
    from odf.namespaces import nsdict
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    # odfpy declares on each file the namespaces its process has met so far (one dict for the class):
    # declare every one, in one order, so that the bytes do not depend on what the process wrote before
    known = {**dict(Element.namespaces), **nsdict}
    Element.namespaces.clear()
    Element.namespaces.update(sorted(known.items()))

    def row(values: list[object]) -> TableRow:
        r = TableRow()
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cell = TableCell(valuetype="float", value=v)
                cell.addElement(P(text=f"{v:g}"))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text="" if v is None else str(v)))
            r.addElement(cell)
        return r

    def add_sheet(name: str, lines: list[str], frame: pd.DataFrame | None = None) -> None:
        t = Table(name=name)
        for line in lines:
            t.addElement(row([line]))
        if frame is not None:
            t.addElement(row(list(frame.columns)))
            for values in frame.itertuples(index=False):
                t.addElement(row(list(values)))
        doc.spreadsheet.addElement(t)

    doc = OpenDocumentSpreadsheet()
    sheets = _sheets(tables)
    add_sheet("Cover", [f"{council}: Independent Reviewing Officer annual report {year}, tables",
                        "The published tables of the statistical appendix, one table per worksheet, with disclosure "
                        "control applied.",
                        "Symbols: c suppressed; x not available; z not applicable. The Notes worksheet explains them.",
                        "The same tables are in the appendix (HTML, PDF and Word), in tables.xlsx and as CSV files."])
    add_sheet("Contents", ["Contents: one table per worksheet"],
              pd.DataFrame({"Sheet name": [n for n, _, _ in sheets],
                            "Table title": [_title(mid, council, year) for _, mid, _ in sheets]}))
    add_sheet("Notes", ["Notes"], notes(threshold))
    for name, mid, frame in sheets:
        add_sheet(name, [_title(mid, council, year),
                         "This worksheet contains one table. Some cells are shown as c, x or z: see the notes sheet.",
                         "Source: the council's SSDA903 return, computed by iro-metrics [note 3]"], frame)
    stamp = dt.datetime(when.year, when.month, when.day)
    doc.meta.addElement(_meta_title(f"{council}: IRO annual report {year}, tables"))
    doc.save(str(out))
    restamp(out, stamp, meta_dates=True)
    return out


def _meta_title(text: str):
    from odf.dc import Title

    return Title(text=text)
