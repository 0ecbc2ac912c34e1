"""The council's population aged 0 to 17 by ethnic group (``metrics.md`` §9), for disproportionality.

A small CSV the analyst writes from Census 2021 or an ONS estimate (``docs/data.md``)::

    ethnicity,population
    White,38400
    Mixed,4100
    Asian,3900
    Black,4600
    Other,1000

``ethnicity`` is one of the 903's major groups (White, Mixed, Asian, Black, Other); each at most
once; ``population`` a whole number of children, more than zero. Groups left out get no rate.
"""

from __future__ import annotations

import csv
from pathlib import Path

from iro_metrics.errors import FatalDataError, Problem

GROUPS = ("White", "Mixed", "Asian", "Black", "Other")
COLUMNS = ("ethnicity", "population")


def read_population_by_ethnicity(path: str | Path) -> dict[str, int]:
    """Read the file; every problem is reported at once, naming its row and column."""
    path = Path(path)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FatalDataError([Problem(label, "no such file (population_by_ethnicity in the params file)")]) from None
    except IsADirectoryError:
        raise FatalDataError([Problem(label, "is a folder; expected a CSV file of ethnicity,population")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise FatalDataError([Problem(label, f"cannot be read as UTF-8 text ({e.__class__.__name__}); save it "
                                             "as CSV UTF-8")]) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0]] != list(COLUMNS):
        raise FatalDataError([Problem(label, "expected the header row: ethnicity,population", row=1)])
    out: dict[str, int] = {}
    seen: set[str] = set()
    problems: list[Problem] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 2:
            problems.append(Problem(label, f"expected 2 values, found {len(row)}", row=n))
            continue
        group = row[0].strip().capitalize()
        value = row[1].strip().replace(",", "")
        if group not in GROUPS:
            problems.append(Problem(label, f"{row[0].strip()!r} is not one of {', '.join(GROUPS)}", "ethnicity", n))
        elif group in seen:
            problems.append(Problem(label, f"{group} is given twice", "ethnicity", n))
        if not value.isdigit() or int(value) == 0:
            problems.append(Problem(label, f"{row[1].strip()!r} is not a whole number of children above 0",
                                    "population", n))
        elif group in GROUPS and group not in seen:
            out[group] = int(value)
        seen.add(group)
    if problems:
        raise FatalDataError(problems)
    if not out:
        raise FatalDataError([Problem(label, "no rows: give each ethnic group's population aged 0 to 17")])
    return out
