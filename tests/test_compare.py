"""How verify words a difference (``report/compare.py``), on small hand-made files: no build needed."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from iro_metrics.report.compare import html_differences, xlsx_differences


def test_a_change_deep_inside_a_long_line_of_markup_is_shown_where_it_is():
    """The text reads the same (a chart's label is not text), so the markup is compared: the stretch
    where the line first differs is shown, not the line's two ends, which are the same."""
    label = "Reviews on time, " + ", ".join(f"{y}: {90 + y % 7}.{y % 10}" for y in range(2000, 2040))
    page = ('<html><body><h2>Reviews</h2><p>Text.</p><svg aria-label="{}" width="100"><g>' + "<path d='M0 0'/>" * 60
            + "</g></svg></body></html>")
    assert "2019: 93.9" in label
    expected, found = page.format(label), page.format(label.replace("2019: 93.9", "2019: 39.9"))
    [d] = html_differences("appendix.html", expected, found)
    assert d.where == "markup, line 1"
    assert "2019: 93.9" in d.expected and "2019: 39.9" in d.found


def test_a_workbook_saved_again_by_another_program_shows_only_the_cell_changed(tmp_path):
    """openpyxl (like LibreOffice) writes text cells inline, not as shared strings: such a workbook is read
    cell by cell too, so only the value changed by hand is reported."""
    import openpyxl

    from iro_metrics.present.spreadsheet import write_xlsx

    table = pd.DataFrame({"age": ["Under 1", "1 to 4"], "children": [12, 30]})
    ours = write_xlsx({"cla_by_age": table}, tmp_path / "tables.xlsx", "Demo", "2024-25", 5, dt.date(2025, 3, 31))
    book = openpyxl.load_workbook(ours)
    sheet, cell = next((s, c) for s in book.worksheets for row in s.iter_rows() for c in row if c.value == 30)
    cell.value = 31
    book.save(tmp_path / "saved.xlsx")
    [d] = xlsx_differences("tables.xlsx", ours.read_bytes(), (tmp_path / "saved.xlsx").read_bytes())
    assert (d.section, d.where, d.expected, d.found) == (sheet.title, f"cell {cell.coordinate}", '"30"', '"31"')
    cell.value = "30"  # the same characters, typed as text: a sum in Excel leaves it out
    book.save(tmp_path / "saved.xlsx")
    [d] = xlsx_differences("tables.xlsx", ours.read_bytes(), (tmp_path / "saved.xlsx").read_bytes())
    assert (d.where, d.expected, d.found) == (f"cell {cell.coordinate}", 'the number "30"', 'the text "30"')
