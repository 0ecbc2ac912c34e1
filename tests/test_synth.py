"""The synthetic council: realistic enough that the DfE's own rules find nothing wrong with it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path, write_demo
from iro_metrics.ingest.load import load_council
from iro_metrics.metrics import compute_all
from iro_metrics.model import build_model
from iro_metrics.synth import SynthConfig, generate, write_council, write_councils
from iro_metrics.years import year_range

YEARS = [y.label for y in SynthConfig().years]


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.csv")):
        h.update(p.relative_to(folder).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_layout_and_headers(demo_data):
    assert sorted(p.name for p in demo_data.iterdir()) == YEARS
    first = (demo_data / "2024-25" / "episodes.csv").read_text().splitlines()[0]
    assert first == "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"
    names = {p.name for p in (demo_data / "2024-25").iterdir()}
    assert names == {"header.csv", "episodes.csv", "reviews.csv", "uasc.csv", "oc2.csv", "oc3.csv", "ad1.csv",
                     "placed_for_adoption.csv", "previous_permanence.csv", "missing.csv", "sw_episodes.csv",
                     "iro_staff.csv", "iro_allocations.csv", "escalations.csv", "iro_contacts.csv",
                     "review_records.csv", "feedback.csv", "audits.csv"}
    assert "sw_episodes.csv" not in {p.name for p in (demo_data / "2022-23").iterdir()}  # from 2023-24


@pytest.mark.parametrize("year", YEARS)
def test_validate_finds_nothing(demo_data, year):
    data = load_council(demo_data, year)
    assert len(data.findings) == 0, data.findings.summary()


@pytest.mark.slow  # several seconds: in `make test`, not in the quick loop
def test_deterministic_for_a_seed(tmp_path, demo_data):
    write_demo(tmp_path / "again")
    assert digest(tmp_path / "again") == digest(demo_data)
    write_demo(tmp_path / "other", seed=2)
    assert digest(tmp_path / "other") != digest(demo_data)
    write_council(tmp_path / "plain", SynthConfig())  # the uncalibrated generator too
    write_council(tmp_path / "plain-again", SynthConfig())
    assert digest(tmp_path / "plain") == digest(tmp_path / "plain-again")


def test_pn0_exactly_for_under_fours():
    s = generate(SynthConfig())
    r = s.reviews
    assert ((r["REVIEW_CODE"] == "PN0") == (r["age"] < 4)).all()
    assert (r["REVIEW_CODE"] == "PN0").any() and (r["REVIEW_CODE"] != "PN0").any()


@pytest.mark.parametrize(("late", "low", "high"), [(0.08, 88.0, 96.0), (0.25, 68.0, 82.0)])
def test_on_time_share_follows_the_parameter(tmp_path, late, low, high):
    out = tmp_path / "c"
    write_council(out, SynthConfig(late_share=late, years=year_range("2022-23:2024-25")))
    for y in ["2023-24", "2024-25"]:
        value = compute_all(build_model(load_council(out, y)))[0]["reviews_on_time_pct"].value
        assert low <= value <= high, (y, value)


@pytest.mark.slow  # several seconds: in `make test`, not in the quick loop
def test_children_looked_after_is_steady(demo_data):
    # the demo follows Southwark's published series (449, 457, 421, 397, 387): steady within 15%
    counts = [compute_all(build_model(load_council(demo_data, y)))[0]["cla_at_31_march"].value for y in YEARS]
    mean = np.mean(counts)
    assert all(abs(c - mean) <= 0.15 * mean for c in counts), counts
    assert 0.85 * 450 <= mean <= 1.15 * 450, counts


def test_several_councils(tmp_path):
    written = write_councils(tmp_path, SynthConfig(children=60, years=year_range("2024-25")), councils=3)
    councils = sorted({p.parent.name for p in written})
    assert councils == ["synthetic-council-001", "synthetic-council-002", "synthetic-council-003"]
    assert len({digest(tmp_path / c) for c in councils}) == 3


# The validator has no rulesets before 2022-23, so the harness checks 2020-21 and 2021-22 with the
# 2022-23 rules *and the 2022-23 collection dates*. Rules that compare dates or ages with the collection
# start or end (each reads `collection_start`/`collection_end` or the continuously-looked-after flag
# built from them) then flag correct data: an episode begun in 2021-22 is "before the collection
# start", a child's age "at 31 March" is taken a year or two late. Every other rule must pass.
DATE_ANCHORED = "104 186 189 191 197B 543 546 559 562 571 602 634 1001 NoE"
DATE_SHIFTED = {"2020-21": DATE_ANCHORED, "2021-22": DATE_ANCHORED}
# Social worker episodes (from 2023-24): rule SW12 compares every social worker episode of a child with
# the first episode of each of the child's periods of care. A child who comes back into care keeps a
# worker from before, so SW12 flags them; giving them a new worker instead breaks SW11a (a gap between
# workers) and leaving them out breaks SW01. No correct return with a re-entry can pass all three.
REENTRY_SW = "SW12STG2"


@pytest.mark.slow
@pytest.mark.parametrize("year", YEARS)
def test_dfe_realism_gate(demo_data, year):
    tool = shared_path("tools", "check-903-realism")
    if not (shutil.which("python3.11") or shutil.which("python3")):
        pytest.skip("no Python to create the DfE validator's virtual environment")
    prev = [str(demo_data / YEARS[YEARS.index(year) - 1])] if YEARS.index(year) else []
    env = dict(os.environ)
    if year in DATE_SHIFTED:
        env["ALLOW"] = "392a 392c 169 179 1015 " + DATE_SHIFTED[year]
    elif year >= "2023-24":
        env["ALLOW"] = "392a 392c 169 179 1015 " + REENTRY_SW
    r = subprocess.run(["bash", str(tool), str(demo_data / year), year, *prev], capture_output=True, text=True,
                       env=env, timeout=900)
    if r.returncode != 0 and "setting up the DfE 903 validator" in r.stderr and "lac_validator" not in r.stdout \
            and "flags in" not in r.stdout:
        pytest.skip(f"the DfE validator's virtual environment could not be created:\n{r.stderr[-2000:]}")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "0 flags in 0 rules outside the allow-list" in r.stdout
