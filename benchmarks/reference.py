"""A straightforward per-child reference implementation of the statutory core.

Plain Python, one child at a time, written from metrics.md without looking at the vectorised code.
It is slow on purpose: benchmarks measure the package against it, and tests use it as a cross-check
(both must agree on every indicator it covers).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict

import holidays

from iro_metrics.ingest.load import CouncilData

_BANK = holidays.country_holidays("GB", subdiv="ENG", years=range(1990, 2046))


def working_day_after(d: dt.date, n: int) -> dt.date:
    while n:
        d += dt.timedelta(days=1)
        if d.weekday() < 5 and d not in _BANK:
            n -= 1
    return d


def months_after(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _date(ts) -> dt.date | None:
    return None if ts is None or ts != ts else ts.date()


def reference_indicators(data: CouncilData) -> dict[str, tuple]:
    """(numerator, denominator) or (count,) per indicator id."""
    y0, y1 = data.year.start.date(), data.year.end.date()
    data_start = data.earliest_year.start.date()
    dob = {r.child_id: _date(r.dob) for r in data["header"].itertuples()}
    episodes = defaultdict(list)
    for e in data["episodes"].itertuples():
        if e.legal_status in ("V3", "V4"):
            continue
        episodes[e.child_id].append((_date(e.start_date), _date(e.end_date), e.reason_new_episode, e.placement))
    reviews = defaultdict(list)
    for r in data["reviews"].itertuples():
        d = _date(r.review_date)
        if d <= y1:
            reviews[r.child_id].append((d, r.participation))

    out = defaultdict(int)
    cla, all_on_time_num, all_on_time_den = set(), 0, 0
    three_plus, long_num, long_den = 0, 0, 0
    starts, ceases = set(), set()
    for child, eps in episodes.items():
        eps.sort(key=lambda e: (e[0], e[1] or dt.date.max))
        periods = []  # [start, end, [episodes]]
        for e in eps:
            if periods and (periods[-1][1] is None or e[0] <= periods[-1][1]):
                periods[-1][1] = None if (periods[-1][1] is None or e[1] is None) else max(periods[-1][1], e[1])
                periods[-1][2].append(e)
            else:
                periods.append([e[0], e[1], [e]])
        looked_after = any(s <= y1 and (en is None or en > y1) for s, en, _ in periods)
        # the return's window: a period that ended on 1 April was open during the year
        if any(s <= y1 and (en is None or en >= y0) for s, en, _ in periods):
            out["cla_during_year"] += 1
        if any(y0 <= s <= y1 for s, _, _ in periods):
            starts.add(child)
        if any(en is not None and y0 <= en <= y1 for _, en, _ in periods):
            ceases.add(child)
        if looked_after:
            cla.add(child)
        due_in_year, moves_in_year, open_in_year = [], 0, 0
        for start, end, pe in periods:
            open_in_year += start <= y1 and (end is None or end >= y0)
            # placement moves and the adoption placements
            adoption, carer_since, prev_temp, held = [], start, False, None
            for i, (s, _, rne, place) in enumerate(pe):
                temp = place.startswith("T")
                is_move = (i > 0 and rne in ("P", "B", "T", "U") and not temp and not (prev_temp and place == held)
                           and place not in ("A3", "A5"))
                if is_move:
                    if rne in ("P", "B"):  # new carers; T and U keep the same carers
                        carer_since = s
                    if y0 <= s <= y1:
                        moves_in_year += 1
                if place in ("A3", "A4", "A5", "A6") and (i == 0 or pe[i - 1][3] not in ("A3", "A4", "A5", "A6")):
                    adoption.append(s)
                if not temp:
                    held = place
                prev_temp = temp
            if looked_after and start <= y1 and (end is None or end > y1):
                a = age(dob[child], y1) if dob.get(child) else None
                if a is not None and a < 16 and start <= months_after(y1, -30):
                    long_den += 1
                    long_num += carer_since <= months_after(y1, -24)
            # the review clock
            known = start >= data_start
            rv = sorted(r for r in reviews[child] if start <= r[0] and (end is None or r[0] <= end))
            due = working_day_after(start, 20) if known else None
            short = known  # is the next step 3 months?
            prev = None
            pending_adoption = [p for p in adoption if p <= y1]
            for k, (d, code) in enumerate(rv):
                claimed = [p for p in pending_adoption if (prev is None or p > prev) and p <= d]
                if claimed and due is not None:
                    due = min(due, claimed[0] + dt.timedelta(days=28))
                if k == 0 and not known:
                    due = None
                in_year = y0 <= d <= y1
                if in_year:
                    out["reviews_held"] += 1
                    if due is None:
                        out["reviews_timeliness_unknown"] += 1
                    elif d <= due:
                        out["reviews_on_time"] += 1
                    else:
                        out["reviews_late"] += 1
                    if code in ("PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"):
                        out["participation_den"] += 1
                        out["participation_num"] += code != "PN7"
                if due is not None and y0 <= due <= y1:
                    due_in_year.append(d <= due)
                step = 3 if (short and k == 0) or claimed else 6
                due = months_after(d, step)
                prev = d
            # the due date still pending at the year end
            if not rv:
                pending = working_day_after(start, 20) if known else None
            else:
                pending = due
            later = [p for p in pending_adoption if prev is None or p > prev]
            if later and pending is not None:
                pending = min(pending, later[0] + dt.timedelta(days=28))
            if pending is not None and end is not None and end <= y1 and pending > end:
                pending = None
            if pending is not None and pending <= y1:
                if y0 <= pending:
                    due_in_year.append(False)
                if looked_after and start <= y1 and (end is None or end > y1):
                    out["reviews_overdue_at_31_march"] += 1
        if looked_after:
            three_plus += open_in_year + moves_in_year >= 3
            if due_in_year:
                all_on_time_den += 1
                all_on_time_num += all(due_in_year)
    return {
        "cla_at_31_march": (len(cla),),
        "cla_during_year": (out["cla_during_year"],),
        "cla_starts": (len(starts),),
        "cla_ceased": (len(ceases),),
        "reviews_held": (out["reviews_held"],),
        "reviews_on_time": (out["reviews_on_time"],),
        "reviews_late": (out["reviews_late"],),
        "reviews_timeliness_unknown": (out["reviews_timeliness_unknown"],),
        "reviews_overdue_at_31_march": (out["reviews_overdue_at_31_march"],),
        "children_all_reviews_on_time_pct": (all_on_time_num, all_on_time_den),
        "participation_pct": (out["participation_num"], out["participation_den"]),
        "placements_3plus_pct": (three_plus, len(cla)),
        "long_term_stability_pct": (long_num, long_den),
    }


def agree(indicators: dict, reference: dict) -> list[str]:
    """Where the package and the reference disagree (empty when they agree on everything)."""
    diffs = []
    for mid, ref in reference.items():
        got = indicators[mid]
        mine = (got.numerator,) if len(ref) == 1 else (got.numerator, got.denominator)
        if tuple(mine) != tuple(ref):
            diffs.append(f"{mid}: package {mine}, reference {ref}")
    return diffs
