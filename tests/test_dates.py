"""Working days and calendar months, worked by hand from metrics.md §0."""

import pandas as pd
import pytest

from iro_metrics.dates import add_months, add_working_days, age_in_years, working_days_between


def one(fn, date, *args):
    return fn(pd.Series([pd.Timestamp(date)]), *args).iloc[0]


@pytest.mark.parametrize(("start", "n", "expected"), [
    ("2024-04-01", 20, "2024-04-29"),  # the spec's example
    ("2024-03-22", 20, "2024-04-23"),  # across Good Friday and Easter Monday (spec example)
    ("2024-12-02", 20, "2025-01-02"),  # across Christmas, Boxing Day and New Year's Day
    ("2024-05-06", 20, "2024-06-04"),  # starts on the early May bank holiday; spring bank holiday skipped
    ("2024-05-04", 1, "2024-05-07"),   # a Saturday before a bank holiday Monday
    ("2022-09-16", 1, "2022-09-20"),   # the one-off holiday of 19 September 2022
    ("2023-05-05", 1, "2023-05-09"),   # the coronation holiday of 8 May 2023
])
def test_add_working_days(start, n, expected):
    assert one(add_working_days, start, n) == pd.Timestamp(expected)


@pytest.mark.parametrize(("start", "months", "expected"), [
    ("2023-08-31", 6, "2024-02-29"),  # into a leap February
    ("2024-08-31", 6, "2025-02-28"),
    ("2023-11-30", 3, "2024-02-29"),
    ("2023-08-29", 6, "2024-02-29"),
    ("2023-08-30", 3, "2023-11-30"),
    ("2024-02-29", 6, "2024-08-29"),
    ("2025-03-31", -30, "2022-09-30"),  # the 2.5-year look-back of long-term stability
    ("2025-03-31", -24, "2023-03-31"),
])
def test_add_months(start, months, expected):
    assert one(add_months, start, months) == pd.Timestamp(expected)


def test_working_days_between_counts_the_end_day_not_the_start():
    s = pd.Series([pd.Timestamp("2024-03-22"), pd.Timestamp("2024-03-22")])
    e = pd.Series([pd.Timestamp("2024-04-23"), pd.Timestamp("2024-04-24")])
    assert working_days_between(s, e).tolist() == [20, 21]


def test_age_counts_a_birthday_on_the_day():
    dob = pd.Series(pd.to_datetime(["2020-06-15", "2020-06-15", "2020-02-29"]))
    on = pd.Series(pd.to_datetime(["2024-06-14", "2024-06-15", "2024-02-28"]))
    assert age_in_years(dob, on).tolist() == [3, 4, 3]


def test_missing_dates_stay_missing():
    s = pd.Series([pd.NaT, pd.Timestamp("2024-04-01")])
    assert add_working_days(s, 20).isna().tolist() == [True, False]
    assert add_months(s, 3).isna().tolist() == [True, False]
