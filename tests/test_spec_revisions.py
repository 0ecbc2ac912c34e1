"""The 2026-11-30 revisions of metrics.md (§0, §1, §4), worked by hand. Year 2024-25 unless said.

§0/§1 the return window: "open during the year" is DECOM <= 31 March and (DEC blank or DEC >= 1 April).
W1 in care 01/06/2020 - 01/04/2024 (E4A): ceased in 2024-25 and looked after during it; not at 31 March.
W2 in care 01/06/2020 - 01/04/2024 (E4A), again from 01/10/2024 (U4), moved 01/12/2024 (P, U6): looked
   after on 31 March; placements in the year = 2 periods open in the window + 1 move = 3.
   So during the year 2 (W1, W2), ceased 2, started 1 (W2), 3+ placements 1 of 1 = 100.0%.

§4 long-term stability counts time with the same carer(s): RNE T and U do not restart it.
All born 01/01/2014 (11 on 31 March 2025), in care since 01/06/2020 (more than 2.5 years), returns
from 2022-23.
T1 U6, then 01/06/2024 T U4 (same carers): stable. The T is still a placement move: 2 placements.
T2 U6, then 01/05/2024 T U4, then 01/09/2024 U U5 (with a placement order): stable, 3 placements.
T3 U6, then 01/06/2024 P U4 (new carers): not stable.
T4 U6, then 01/06/2024 B U4 (new legal status and carers): not stable.
Long-term: 2 of 4 = 50.0%. 3+ placements: T2 of 4 = 25.0%.
"""

from pathlib import Path

import pandas as pd
import pytest

from builders import by_child
from iro_metrics.cli import main
from iro_metrics.errors import FatalDataError
from iro_metrics.ingest.load import load_council
from iro_metrics.metrics.iro_service import iro_changes
from iro_metrics.metrics.population import cla_at_31_march, cla_ceased, cla_during_year, cla_starts
from iro_metrics.metrics.stability import long_term_stability_pct, placements_3plus_pct, placements_in_year
from iro_metrics.model import build_model


def test_issue_repro_a_child_who_ceased_on_1_april_was_looked_after_in_the_year(council):
    council.child("W1", "2012-01-01").stay("W1", ("2020-06-01", "S", "U4"), end="2024-04-01", rec="E4A")
    m = council.model("2024-25", "2024-25")
    assert (cla_ceased(m).value, cla_during_year(m).value, cla_at_31_march(m).value) == (1, 1, 0)


def test_return_window(council):
    council.child("W1", "2012-01-01").child("W2", "2012-01-01")
    council.stay("W1", ("2020-06-01", "S", "U4"), end="2024-04-01", rec="E4A")
    council.stay("W2", ("2020-06-01", "S", "U4"), end="2024-04-01", rec="E4A")
    council.stay("W2", ("2024-10-01", "S", "U4"), ("2024-12-01", "P", "U6"))
    m = council.model("2024-25", "2024-25")
    assert cla_during_year(m).value == 2
    assert cla_ceased(m).value == 2
    assert cla_starts(m).value == 1
    assert by_child(m.data, placements_in_year(m))["W2"] == 3
    pct = placements_3plus_pct(m)
    assert (pct.numerator, pct.denominator, pct.value) == (1, 1, 100.0)


def test_an_iro_allocation_that_ended_on_1_april_was_not_in_force_in_the_year(council):
    """The decision for IRO records: their end date is the first day they no longer apply (§5), so
    the 903's return window is not theirs. K had I1 until 01/04/2024 (exclusive), then I2."""
    council.child("K", "2012-01-01").stay("K", ("2023-06-01", "S", "U4"))
    council.record("iro_staff", IRO_ID="I1", FTE="1", START_DATE="01/01/2020", END_DATE="", AGENCY="0")
    council.record("iro_staff", IRO_ID="I2", FTE="1", START_DATE="01/01/2020", END_DATE="", AGENCY="0")
    council.record("iro_allocations", CHILD="K", IRO_ID="I1", START_DATE="01/06/2023", END_DATE="01/04/2024")
    council.record("iro_allocations", CHILD="K", IRO_ID="I2", START_DATE="01/04/2024", END_DATE="")
    m = council.model("2023-24", "2024-25")
    assert iro_changes(m).set_index("iros")["children"].to_dict() == {
        "none recorded": 0, "1": 1, "2": 0, "3 or more": 0}


def _same_carer(c):
    for cid in ["T1", "T2", "T3", "T4"]:
        c.child(cid, "2014-01-01")
    c.stay("T1", ("2020-06-01", "S", "U6"), ("2024-06-01", "T", "U4"))
    c.stay("T2", ("2020-06-01", "S", "U6", "C2"), ("2024-05-01", "T", "U4", "C2"), ("2024-09-01", "U", "U5", "E1"))
    c.stay("T3", ("2020-06-01", "S", "U6"), ("2024-06-01", "P", "U4"))
    c.stay("T4", ("2020-06-01", "S", "U6", "C2"), ("2024-06-01", "B", "U4", "E1"))
    return c.model("2022-23", "2024-25")


def test_long_term_stability_is_time_with_the_same_carers(council):
    m = _same_carer(council)
    pct = long_term_stability_pct(m)
    assert (pct.numerator, pct.denominator, pct.value) == (2, 4, 50.0)
    carer = by_child(m.data, m.cla_episodes_at_year_end["carer_start"].dt.strftime("%Y-%m-%d"))
    assert carer == {"T1": "2020-06-01", "T2": "2020-06-01", "T3": "2024-06-01", "T4": "2024-06-01"}


def test_t_and_u_still_count_as_placements(council):
    m = _same_carer(council)
    assert by_child(m.data, placements_in_year(m)) == {"T1": 2, "T2": 3, "T3": 2, "T4": 2}
    pct = placements_3plus_pct(m)
    assert (pct.numerator, pct.denominator, pct.value) == (1, 4, 25.0)


def _drop_child(path: Path, child: str) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df[df["CHILD"] != child].to_csv(path, index=False)


def test_an_open_episode_the_next_return_does_not_restate_ends_at_its_return(council):
    """N open at 31 March 2023 in 2022-23 (no DEC), absent from the 2023-24 and 2024-25 returns: ended
    31/03/2023, so not looked after on 31 March 2025. R is restated and stays looked after. Before the
    revision N stayed looked after for ever: 2 instead of 1."""
    council.child("N", "2012-01-01").child("R", "2012-01-01")
    council.stay("N", ("2022-06-01", "S", "U4")).stay("R", ("2022-06-01", "S", "U4"))
    root = council.write("2022-23", "2024-25")
    for later in ("2023-24", "2024-25"):
        _drop_child(root / later / "episodes.csv", "N")
        _drop_child(root / later / "header.csv", "N")
    data = load_council(root, "2024-25")
    ep = data["episodes"].set_index("child_id")
    assert ep.loc[data.child_key("N"), "end_date"] == pd.Timestamp("2023-03-31")
    assert pd.isna(ep.loc[data.child_key("R"), "end_date"])
    assert cla_at_31_march(build_model(data)).value == 1
    f = data.findings.frame()
    f = f[f["rule"] == "not-restated"]
    assert f[["file", "row", "column", "action"]].values.tolist() == [["2022-23/episodes.csv", 2, "DEC", "ended"]]
    assert "2022-23 return" in f["message"].iloc[0] and "2023-24 return" in f["message"].iloc[0]
    assert "1 such children" in f["message"].iloc[0]
    # the 2022-23 return on its own has no next return: N is looked after on 31 March 2023
    alone = load_council(root, "2022-23")
    assert pd.isna(alone["episodes"].set_index("child_id").loc[alone.child_key("N"), "end_date"])
    assert not (alone.findings.frame()["rule"] == "not-restated").any()


def test_header_only_liia_input_is_a_clear_error_in_validate_and_metrics(tmp_path, capsys):
    (tmp_path / "header.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,LA,YEAR\n"
                                         "1,1,2010-05-01,WBRI,UN1,,,Demo,2017\n")
    for cmd in ("validate", "metrics"):
        assert main([cmd, "--data", str(tmp_path), "--year", "2016-17"]) == 1
        err = capsys.readouterr().err
        assert "episodes.csv: no rows for council Demo up to 2016-17: every figure is built from this table" in err
        assert "internal error" not in err
    data = load_council(tmp_path, "2016-17")  # the header alone still loads, to be looked at
    with pytest.raises(FatalDataError):
        build_model(data)


def test_the_model_builds_with_no_episodes(council):
    """A council with no episodes at all (the API, not the CLI, which refuses it) gives zeros."""
    data = load_council(council.child("A", "2012-01-01").stay("A", ("2024-05-01", "S", "U4")).write(
        "2024-25", "2024-25"), "2024-25")
    data.tables["episodes"] = data["episodes"].iloc[0:0]
    m = build_model(data)
    assert (cla_at_31_march(m).value, cla_during_year(m).value, len(m.reviews)) == (0, 0, 0)
