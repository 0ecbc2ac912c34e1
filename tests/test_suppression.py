"""Statistical disclosure control (metrics.md §8), cases worked by hand."""

import pandas as pd

from iro_metrics.present.suppression import published, suppress_counts


def frame(**cols):
    return pd.DataFrame(cols, index=[f"r{i}" for i in range(len(next(iter(cols.values()))))])


def test_small_counts_are_hidden_zero_is_shown():
    t = frame(n=[0, 1, 5, 6, 40])
    # 1 and 5 are small; two are hidden in the column, so neither can be recovered from the total
    assert suppress_counts(t)["n"].tolist() == [False, True, True, False, False]


def test_a_lone_small_count_takes_the_next_smallest_with_it():
    t = frame(n=[3, 10, 8, 40])
    # 3 alone could be recovered as total - 58: the smallest other non-zero cell (8) goes too
    assert suppress_counts(t)["n"].tolist() == [True, False, True, False]


def test_threshold_is_a_parameter():
    t = frame(n=[7, 9, 50])
    assert suppress_counts(t, threshold=10)["n"].tolist() == [True, True, False]
    assert suppress_counts(t)["n"].tolist() == [False, False, False]


def test_two_way_table_is_protected_in_rows_and_columns():
    """   a   b           a: 2 is small; b: the column then needs a second cell (4 is small anyway)
    r0   2  20          rows: r0 has one hidden cell, so 20 goes; r1 has 4 hidden and 30 must go
    r1  30   4          columns: a has 2 and 30, b has 20 and 4: all protected."""
    t = pd.DataFrame({"a": [2, 30], "b": [20, 4]}, index=["r0", "r1"])
    hidden = suppress_counts(t, rows_total=True, columns_total=True)
    assert hidden.to_numpy().tolist() == [[True, True], [True, True]]


def test_nothing_to_hide():
    t = frame(n=[0, 12, 40])
    assert not suppress_counts(t)["n"].any()


def test_published_text():
    t = frame(n=[3, 10, 8, 1200], pct=[10.0, 20.5, None, 50.0])
    hidden = suppress_counts(t[["n"]])
    hidden["pct"] = hidden["n"]  # a percentage of a hidden count is hidden
    out = published(t, hidden)
    assert out["n"].tolist() == ["c", "10", "c", "1,200"]
    assert out["pct"].tolist() == ["c", "20.5", "c", "50.0"]


def test_published_tables_of_the_synthetic_council(demo_data, tmp_path):
    from iro_metrics.cli import main

    assert main(["publish", "--data", str(demo_data), "--year", "2024-25", "--out", str(tmp_path / "t")]) == 0
    files = sorted((tmp_path / "t").glob("*.csv"))
    assert len(files) >= 15
    header = (demo_data / "2024-25" / "header.csv").read_text().splitlines()[1:]
    children = {line.split(",")[0] for line in header}
    for f in files:
        df = pd.read_csv(f, dtype=str)
        for col in df.columns[1:]:
            numbers = pd.to_numeric(df[col].str.replace(",", ""), errors="coerce")
            small = numbers.between(1, 5) & ~col.endswith("pct") & (col != "median_working_days")
            assert not small.any(), (f.name, col)
        text = f.read_text()
        assert not any(c in text for c in children), f.name
    stage = pd.read_csv(tmp_path / "t" / "escalations_by_stage.csv", dtype=str)
    assert "c" in set(stage["escalations"])  # some stages are rare
