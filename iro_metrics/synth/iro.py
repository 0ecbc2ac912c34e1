"""The IRO service records of the synthetic council: staff, allocations, escalations, contacts,
review records, feedback and audits (``iro-records.md``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from iro_metrics.dates import add_working_days
from iro_metrics.synth.care import YEAR, _choice, to_dates

FTE_MIX = {1.0: 70, 0.8: 15, 0.6: 10, 0.5: 5}
STAGE_MIX = {"INFORMAL": 60, "FORMAL1": 25, "FORMAL2": 10, "FORMAL3": 4, "CAFCASS": 1}
THEME_MIX = {"CARE_PLAN": 22, "PERMANENCE": 14, "PLACEMENT": 16, "CONTACT": 10, "HEALTH": 8, "EDUCATION": 9,
             "DRIFT": 12, "SAFEGUARDING": 4, "LEGAL": 3, "OTHER": 2}
RESPONDENT_MIX = {"CHILD": 35, "PARENT": 20, "CARER": 25, "SOCIAL_WORKER": 15, "OTHER": 5}
QUESTIONS = ["I felt listened to", "The review was about the right things", "I knew what would happen next"]
GRADE_MIX = {"OUTSTANDING": 10, "GOOD": 50, "REQUIRES_IMPROVEMENT": 30, "INADEQUATE": 10}


def _wd(days: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Working days after each day (vectorised over n as well)."""
    s = to_dates(days)
    out = np.empty(len(days), dtype=np.int64)
    for k in np.unique(n):
        sel = n == k
        out[sel] = add_working_days(s[sel], int(k)).to_numpy(dtype="datetime64[D]").astype(np.int64)
    return out


HANDBOOK_MOST = 70  # children per full-time IRO, at most (IRO Handbook)


def staff(n_posts: int, first: int, last: int, rng) -> pd.DataFrame:
    """IRO posts, each held by a sequence of people (a leaver is replaced the same day)."""
    posts, ids, starts, ends, fte = [], [], [], [], []
    counter = 0
    for post in range(n_posts):
        s = first - int(19 * YEAR) - int(rng.integers(0, 365))
        while s <= last:
            counter += 1
            tenure = int(rng.exponential(7 * YEAR)) + 60
            e = s + tenure
            posts.append(post)
            ids.append(f"IRO{counter:04d}")
            starts.append(s)
            ends.append(e if e <= last else -1)
            fte.append(_choice(rng, FTE_MIX, 1)[0])
            s = e
    df = pd.DataFrame({"post": posts, "IRO_ID": ids, "START_DATE": starts, "END_DATE": ends, "FTE": fte})
    df["AGENCY"] = (rng.random(len(df)) < 0.1).astype(int)
    # a blank is "Not recorded", as in real HR extracts
    df["SEX"] = _choice(rng, {"F": 76, "M": 19, "": 5}, len(df))
    df["ETHNIC"] = _choice(rng, {"WBRI": 66, "BCRB": 8, "BAFR": 5, "APKN": 4, "MWBC": 4, "WOTH": 4, "": 9}, len(df))
    return df


def fit_caseload(st: pd.DataFrame, children: int, last: int, most: float = HANDBOOK_MOST) -> pd.DataFrame:
    """Part-time IROs in post on the last day go full time, one by one, while the council's children per
    full-time IRO would be above ``most`` (the Handbook's 70): posts are sized on the average FTE, and
    a small service's draw can fall short of it."""
    st = st.copy()
    in_post = (st["START_DATE"] <= last) & ((st["END_DATE"] < 0) | (st["END_DATE"] > last))
    for i in st.index[in_post & (st["FTE"].astype(float) < 1)]:
        if children / st.loc[in_post, "FTE"].astype(float).sum() <= most:
            break
        st.loc[i, "FTE"] = 1.0
    return st


def allocations(p: pd.DataFrame, st: pd.DataFrame, last: int, rng) -> pd.DataFrame:
    """Each period of care gets an IRO soon after it starts, and sometimes a change of IRO."""
    n = len(p)
    late = rng.random(n) < 0.1
    lag = np.where(late, rng.integers(6, 20, n), rng.integers(0, 5, n))
    first = np.minimum(_wd(p["start"].to_numpy(), lag), p["end"].to_numpy() - 1)
    first = np.maximum(first, p["start"].to_numpy())
    years = (p["end"] - p["start"]).to_numpy() / YEAR
    n_changes = rng.poisson(0.3 * years)
    pid = np.repeat(np.arange(n), n_changes + 1)
    seq = np.concatenate([np.arange(k + 1) for k in n_changes]) if n else np.array([], dtype=int)
    span = (p["end"].to_numpy() - first)[pid]
    start = np.where(seq == 0, first[pid], first[pid] + (rng.random(len(pid)) * span).astype(np.int64))
    a = pd.DataFrame({"pid": pid, "START_DATE": start}).sort_values(["pid", "START_DATE"], kind="stable")
    a = a[~(a["pid"].eq(a["pid"].shift()) & (a["START_DATE"] - a["START_DATE"].shift() < 14))]
    nxt = a.groupby("pid")["START_DATE"].shift(-1)
    period_end = p["end"].to_numpy()[a["pid"].to_numpy()]
    open_ = p["open"].to_numpy()[a["pid"].to_numpy()]
    a["END_DATE"] = np.where(nxt.notna(), nxt.fillna(0).to_numpy(), np.where(open_, -1, period_end))
    # the IRO: whoever holds a randomly chosen post on the allocation date
    a["post"] = rng.integers(0, st["post"].max() + 1, len(a))
    holders = st.sort_values("START_DATE")[["post", "IRO_ID", "START_DATE"]].rename(columns={"START_DATE": "held"})
    a = pd.merge_asof(a.sort_values("START_DATE"), holders, left_on="START_DATE", right_on="held", by="post")
    a["CHILD_IDX"] = p["child"].to_numpy()[a["pid"].to_numpy()]
    return a.sort_values(["pid", "START_DATE"], kind="stable").reset_index(drop=True)


def escalations(p: pd.DataFrame, cla: float, first: int, last: int, per_100: float, rng) -> pd.DataFrame:
    years = (last - first + 1) / YEAR
    n = rng.poisson(cla / 100 * per_100 * years)
    raised = rng.integers(first, last + 1, n)
    # the child: one looked after on that day
    starts, ends = p["start"].to_numpy(), p["end"].to_numpy()
    pid = rng.integers(0, len(p), n)
    for _ in range(20):
        bad = ~((starts[pid] <= raised) & (raised < ends[pid]))
        if not bad.any():
            break
        pid[bad] = rng.integers(0, len(p), int(bad.sum()))
    keep = (starts[pid] <= raised) & (raised < ends[pid])
    pid, raised = pid[keep], raised[keep]
    n = len(pid)
    wd = np.maximum(1, rng.lognormal(np.log(12), 0.6, n).astype(int))
    resolved = _wd(raised, wd)
    outcome = _choice(rng, {"RESOLVED": 88, "WITHDRAWN": 12}, n)
    ongoing = resolved > last
    outcome[ongoing] = "ONGOING"
    return pd.DataFrame({"ESCALATION_ID": [f"ESC{i:05d}" for i in range(1, n + 1)],
                         "CHILD_IDX": p["child"].to_numpy()[pid], "DATE_RAISED": raised,
                         "STAGE": _choice(rng, STAGE_MIX, n), "THEME": _choice(rng, THEME_MIX, n),
                         "DATE_RESOLVED": np.where(ongoing, -1, resolved), "OUTCOME": outcome})


def contacts(reviews: pd.DataFrame, rng) -> pd.DataFrame:
    """A midway contact between most pairs of reviews three or more months apart."""
    r = reviews.sort_values(["pid", "REVIEW"], kind="stable")
    nxt = r.groupby("pid")["REVIEW"].shift(-1)
    gap = nxt - r["REVIEW"]
    sel = (gap > 90).to_numpy() & (rng.random(len(r)) < 0.75)
    mid = (r["REVIEW"] + gap // 2)[sel].astype(np.int64)
    return pd.DataFrame({"CHILD_IDX": r["CHILD_IDX"][sel].to_numpy(), "CONTACT_DATE": mid.to_numpy(),
                         "CONTACT_TYPE": _choice(rng, {"MIDWAY_REVIEW": 60, "VISIT": 25, "CALL": 15}, int(sel.sum()))})


def review_records(reviews: pd.DataFrame, last: int, rng) -> pd.DataFrame:
    n = len(reviews)
    lag = np.where(rng.random(n) < 0.85, rng.integers(3, 21, n), rng.integers(21, 40, n))
    sent = _wd(reviews["REVIEW"].to_numpy(), lag)
    return pd.DataFrame({"CHILD_IDX": reviews["CHILD_IDX"].to_numpy(), "REVIEW": reviews["REVIEW"].to_numpy(),
                         "RECORD_SENT": np.where(sent <= last, sent, -1),
                         "CHILD_SEEN": (rng.random(n) < 0.9).astype(int),
                         "PARENT_PARTICIPATED": (rng.random(n) < 0.6).astype(int)})


def feedback(cla: float, first: int, last: int, rng) -> pd.DataFrame:
    n = rng.poisson(cla * 0.6 * (last - first + 1) / YEAR)
    return pd.DataFrame({"RESPONSE_ID": [f"FB{i:06d}" for i in range(1, n + 1)],
                         "DATE": np.sort(rng.integers(first, last + 1, n)),
                         "RESPONDENT": _choice(rng, RESPONDENT_MIX, n),
                         "QUESTION": np.array(QUESTIONS)[rng.integers(0, len(QUESTIONS), n)],
                         "SCORE": _choice(rng, {5: 35, 4: 35, 3: 15, 2: 10, 1: 5}, n)})


def audits(p: pd.DataFrame, cla: float, first: int, last: int, rng) -> pd.DataFrame:
    n = rng.poisson(cla * 0.15 * (last - first + 1) / YEAR)
    date = rng.integers(first, last + 1, n)
    pid = rng.integers(0, len(p), n)
    ok = (p["start"].to_numpy()[pid] <= date) & (date < p["end"].to_numpy()[pid])
    pid, date = pid[ok], date[ok]
    return pd.DataFrame({"AUDIT_ID": [f"AUD{i:05d}" for i in range(1, len(pid) + 1)],
                         "CHILD_IDX": p["child"].to_numpy()[pid], "DATE": date,
                         "GRADE": _choice(rng, GRADE_MIX, len(pid))})
