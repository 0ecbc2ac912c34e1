"""Children, periods of care and chained 903 episodes, vectorised over periods.

Dates are whole days since 1970-01-01 (int64) inside this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iro_metrics.dates import add_months
from iro_metrics.synth.config import SynthConfig

YEAR = 365.25
TEMPORARY = "T4"
SUPPORTED_FROM = int(np.datetime64("2023-04-01", "D").astype(int))  # K3 replaces H5 for new placements

# placement mix by age at the time of placement (PLACE code -> weight)
PLACE_MIX = {
    0: {"U6": 55, "U3": 15, "U5": 10, "U4": 8, "R3": 7, "P1": 5},
    1: {"U6": 55, "U3": 22, "U4": 10, "U5": 5, "P1": 5, "U1": 3},
    5: {"U6": 50, "U3": 18, "U4": 14, "U1": 6, "P1": 5, "K2": 7},
    10: {"U6": 35, "U3": 10, "U4": 15, "U1": 5, "K2": 22, "K1": 1, "P1": 4, "S1": 4, "R1": 4},
    16: {"U6": 22, "U4": 8, "U3": 7, "K2": 15, "SUP": 40, "P2": 3, "P1": 5},
}
UASC_MIX = {14: {"U6": 70, "K2": 30}, 16: {"SUP": 70, "U6": 30}}
FOSTER_MIX = {"U6": 60, "U5": 25, "U4": 15}
PROVIDERS = {
    "P1": {"PR0": 1}, "R2": {"PR3": 1}, "R5": {"PR3": 1}, "K1": {"PR1": 60, "PR2": 40},
    "K2": {"PR1": 20, "PR4": 80}, "SUP": {"PR1": 15, "PR4": 70, "PR5": 15},
    "A5": {"PR1": 80, "PR2": 20}, "A6": {"PR1": 70, "PR2": 30},
    "default": {"PR1": 60, "PR4": 35, "PR5": 5},
}
NO_PROVIDER = {"T0", "T1", "T2", "T3", "T4", "Z1"}  # DfE rule 178
NO_URN = {"P1", "P3", "R1", "R2", "R5", "T0", "T1", "T2", "T3", "T4", "Z1"}
OFSTED_URN = {"K1", "K2", "K3"}
REGISTRATION_DAY = int(np.datetime64("2023-10-28", "D").astype(int))  # H5 providers registered (K3)
REASON_PLACE_CHANGE = {"CARPL": 31, "PLACE": 24, "OTHER": 22, "CREQB": 8, "CREQO": 6, "CHILD": 3, "LAREQ": 2,
                       "STAND": 1, "CLOSE": 1, "ALLEG": 1, "APPRR": 1}
CIN_MIX = {"N1": 65, "N2": 3, "N3": 3, "N4": 7, "N5": 13, "N6": 1, "N8": 8}
ETHNIC_MIX = {"WBRI": 60, "WOTH": 7, "WIRI": 1, "WIRT": 1, "WROM": 2, "MWBC": 4, "MWBA": 2, "MWAS": 2, "MOTH": 3,
              "BAFR": 4, "BCRB": 2, "BOTH": 1, "APKN": 2, "ABAN": 1, "AIND": 1, "AOTH": 1, "OOTH": 4.5,
              "CHNE": 0.5, "NOBT": 1}
UASC_ETHNIC_MIX = {"OOTH": 35, "AOTH": 25, "BAFR": 25, "WOTH": 10, "BOTH": 5}

# events that end one episode and start the next
POLICE_END, LS_CHANGE, MOVE, TEMP_START, TEMP_END, ADOPTION = range(6)


def _choice(rng: np.random.Generator, mix: dict, n: int) -> np.ndarray:
    keys = np.array(list(mix))
    w = np.array(list(mix.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=w / w.sum())]


def day(ts) -> int:
    return int(np.datetime64(pd.Timestamp(ts).date(), "D").astype(int))


def to_dates(days: np.ndarray) -> pd.Series:
    """Whole days (NaN/-1 for none) -> datetime Series."""
    d = pd.Series(days).astype("float")
    return pd.to_datetime(d, unit="D").astype("datetime64[s]").where(d.notna())


def birthday(dob: np.ndarray, years: int) -> np.ndarray:
    """The day of each ``years``-th birthday (29 February -> 28 February)."""
    s = add_months(to_dates(dob), years * 12)
    return s.to_numpy(dtype="datetime64[D]").astype(np.int64)


def draw_placements(rng, ages: np.ndarray, days: np.ndarray, uasc: np.ndarray, foster_only: np.ndarray,
                    care_order: np.ndarray) -> np.ndarray:
    """A placement type for each placement, from the mix for the child's age at the time."""
    out = np.empty(len(ages), dtype=object)
    bands = sorted(PLACE_MIX)
    band = np.searchsorted(bands, ages, side="right") - 1
    for i, lo in enumerate(bands):
        sel = band == i
        if sel.any():
            out[sel] = _choice(rng, PLACE_MIX[lo], int(sel.sum()))
    for lo, mix in UASC_MIX.items():
        sel = uasc & (ages >= lo)
        if sel.any():
            out[sel] = _choice(rng, mix, int(sel.sum()))
    if foster_only.any():
        out[foster_only] = _choice(rng, FOSTER_MIX, int(foster_only.sum()))
    # placed with parents needs a care order (DfE rule 378); others go to foster care
    out[(out == "P1") & ~care_order] = "U6"
    sup = out == "SUP"
    out[sup] = np.where(days[sup] >= SUPPORTED_FROM, "K3", "H5")
    return out


def draw_providers(rng, places: np.ndarray) -> np.ndarray:
    out = np.empty(len(places), dtype=object)
    keys = np.where(np.isin(places, ["H5", "K3"]), "SUP", places)
    for k in np.unique(keys):
        sel = keys == k
        out[sel] = _choice(rng, PROVIDERS.get(k, PROVIDERS["default"]), int(sel.sum()))
    out[np.isin(places, list(NO_PROVIDER))] = None
    return out


def draw_urns(rng, places: np.ndarray) -> np.ndarray:
    out = np.full(len(places), "XXXXXXX", dtype=object)
    ofsted = np.isin(places, list(OFSTED_URN))
    out[ofsted] = np.char.add("SC", rng.integers(100000, 999999, int(ofsted.sum())).astype(str))
    out[np.isin(places, list(NO_URN))] = None
    return out


def postcodes(rng, n: int) -> np.ndarray:
    """Postcode-shaped strings in an area that does not exist (ZZ), never a real address."""
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    district = rng.integers(1, 99, n).astype(str)
    sector = rng.integers(0, 9, n).astype(str)
    unit = np.char.add(letters[rng.integers(0, 20, n)], letters[rng.integers(0, 20, n)])
    return np.char.add(np.char.add(np.char.add("ZZ", district), " "), np.char.add(sector, unit)).astype(object)


def simulate_periods(cfg: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Periods of care overlapping the collection years, at a steady rate of entry."""
    first, last = day(cfg.years[0].start), day(cfg.years[-1].end)
    history = int(18 * YEAR)
    lo = np.array([b[0] for b in cfg.entry_age_bands])
    hi = np.array([b[1] for b in cfg.entry_age_bands])
    share = np.array([b[2] for b in cfg.entry_age_bands])
    stay = np.array(cfg.mean_stay_years) * YEAR

    def draw(n: int):
        band = rng.choice(len(share), size=n, p=share / share.sum())
        age = rng.uniform(lo[band], hi[band]) * YEAR
        dur = np.maximum(rng.exponential(stay[band]), 3)
        return band, age, dur

    # calibrate the entry rate so that about cfg.children are looked after on any day
    _, a, d = draw(20000)
    mean_stay = np.minimum(d, 18 * YEAR - a).mean()
    rate = cfg.children * (1 - cfg.uasc_share) / mean_stay
    n = rng.poisson(rate * (history + last - first))
    band, age, dur = draw(n)
    start = rng.integers(first - history, last + 1, n)
    # unaccompanied asylum-seeking children arrive aged 14 to 17 and mostly stay until 18
    uasc_rate = cfg.children * cfg.uasc_share / (2.2 * YEAR)
    nu = rng.poisson(uasc_rate * (history + last - first))
    u_age = rng.uniform(14, 17.9, nu) * YEAR
    u_dur = np.full(nu, 30 * YEAR)
    start = np.concatenate([start, rng.integers(first - history, last + 1, nu)])
    age = np.concatenate([age, u_age])
    dur = np.concatenate([dur, u_dur])
    uasc = np.concatenate([np.zeros(n, bool), np.ones(nu, bool)])
    dob = start - age.astype(np.int64)
    eighteen = birthday(dob, 18)
    end = np.minimum(start + dur.astype(np.int64), eighteen)
    keep = (end > first) & (start <= last)
    p = pd.DataFrame({"start": start, "end": end, "dob": dob, "uasc": uasc, "at18": end == eighteen})[keep]
    p = p.sort_values(["start", "dob"], kind="stable").reset_index(drop=True)
    p["child"] = np.arange(len(p))
    p = _reentries(p, cfg, rng, last)
    p["open"] = p["end"] > last
    p["natural_end"] = p["end"]  # when care would end, beyond the data for open periods
    p.loc[p["open"], "end"] = last + 1  # placeholder beyond the data: open at the last year end
    return p.reset_index(drop=True)


def _reentries(p: pd.DataFrame, cfg: SynthConfig, rng, last: int) -> pd.DataFrame:
    """A share of children who went home come back into care after a gap (a new period)."""
    gap = rng.integers(60, 500, len(p))
    restart = p["end"].to_numpy() + gap
    eighteen = birthday(p["dob"].to_numpy(), 18)
    back = (~p["at18"] & ~p["uasc"] & (restart < last) & (restart < eighteen - int(YEAR))
            & (rng.random(len(p)) < cfg.reentry_share)).to_numpy()
    again = p[back].copy()
    again["start"] = restart[back]
    again["end"] = np.minimum(again["start"] + rng.exponential(1.5 * YEAR, len(again)).astype(np.int64) + 3,
                              eighteen[back])
    again["at18"] = again["end"].to_numpy() == eighteen[back]
    p = p.assign(reentry_after=False)
    again["reentry_after"] = True
    return pd.concat([p, again], ignore_index=True)


def plan_periods(p: pd.DataFrame, cfg: SynthConfig, rng) -> pd.DataFrame:
    """Decide each period's path: legal status, police protection, adoption and how it ends."""
    n = len(p)
    age_in = (p["start"] - p["dob"]).to_numpy() / YEAR
    dur = (p["natural_end"] - p["start"]).to_numpy()  # children still in care are on their way too
    ended = ~p["open"].to_numpy()
    uasc = p["uasc"].to_numpy()
    first_period = ~p["reentry_after"].to_numpy()
    comes_back = p["child"].isin(set(p.loc[p["reentry_after"], "child"])).to_numpy()
    adoption = (first_period & ~comes_back & ~uasc & (age_in < 4) & (dur > 1.2 * YEAR)
                & ~p["at18"].to_numpy() & (rng.random(n) < 0.45))
    police = (~uasc & ~adoption & (dur > 5) & (rng.random(n) < cfg.police_protection_share))
    care_order = adoption | (~uasc & (rng.random(n) < np.where(age_in < 1, 0.8, 0.7)))
    p = p.assign(adoption=adoption, police=police, ls0=np.where(care_order, "C1", "V2"),
                 cin=np.where(uasc, "N8", _choice(rng, CIN_MIX, n)))
    age_out = (p["end"] - p["dob"]).to_numpy() / YEAR
    reason = np.empty(n, dtype=object)
    young, mid = age_out < 5, (age_out >= 5) & (age_out < 16)
    reason[young] = _choice(rng, {"E4A": 45, "SGO": 30, "E41": 10, "E13": 8, "E8": 7}, int(young.sum()))
    reason[mid] = _choice(rng, {"E4A": 50, "E4B": 8, "E13": 10, "SGO": 12, "E41": 6, "E8": 10, "E3": 4},
                          int(mid.sum()))
    old = age_out >= 16
    reason[old] = _choice(rng, {"E4A": 30, "E13": 10, "E5": 35, "E6": 5, "E8": 15, "E4B": 5}, int(old.sum()))
    at18 = p["at18"].to_numpy()
    reason[at18] = _choice(rng, {"E17": 25, "E5": 45, "E6": 8, "E4A": 7, "E8": 10, "E13": 5}, int(at18.sum()))
    reason[uasc & at18] = _choice(rng, {"E5": 70, "E17": 20, "E6": 10}, int((uasc & at18).sum()))
    reason[adoption] = _choice(rng, {"E11": 80, "E12": 20}, int(adoption.sum()))
    reason[~ended] = None
    return p.assign(reason=reason)


def _events(p: pd.DataFrame, cfg: SynthConfig, rng) -> pd.DataFrame:
    """Dated events of each period, at least 3 days apart, temporary placements kept clear."""
    start, end = p["start"].to_numpy(), p["end"].to_numpy()
    dur = p["natural_end"].to_numpy() - start  # planned on the whole stay; events after the data drop out
    pid = np.arange(len(p))
    parts = []

    def add(mask, days, kind, extra=None):
        df = pd.DataFrame({"pid": pid[mask], "day": days[mask] if np.ndim(days) else days, "kind": kind,
                           "fixed": True})
        if extra is not None:
            df["to"] = extra[mask] if np.ndim(extra) else extra
        parts.append(df)

    police, adopt = p["police"].to_numpy(), p["adoption"].to_numpy()
    police_end = start + rng.integers(1, 3, len(p))
    add(police, police_end, POLICE_END)
    c1 = p["ls0"].to_numpy() == "C1"
    c2_day = np.where(adopt, start + (0.25 * dur).astype(int), start + rng.integers(60, 300, len(p)))
    c2_day = np.maximum(c2_day, np.where(police, police_end + 3, start + 3))
    add(c1 & (c2_day < end - 3), c2_day, LS_CHANGE, "C2")
    add(adopt, start + (0.45 * dur).astype(int), LS_CHANGE, "E1")
    add(adopt, start + (0.65 * dur).astype(int), ADOPTION)
    fixed = pd.concat(parts, ignore_index=True)

    age = (start - p["dob"].to_numpy()) / YEAR
    years_in = (end - start) / YEAR  # moves spread over the time in care within the data
    limit = np.where(adopt, start + (0.4 * dur).astype(int), end)
    # instability is concentrated: a few children move often, most rarely (gamma-mixed Poisson)
    rate = np.where(age < 10, cfg.move_rate_young, cfg.move_rate_teen) * np.minimum(rng.gamma(0.4, 1 / 0.4, len(p)), 6)
    n_moves = rng.poisson(rate * years_in)
    m_pid = np.repeat(pid, n_moves)
    lo = np.where(police, police_end + 3, start + 3)[m_pid]
    m_day = (lo + rng.random(len(m_pid)) * np.maximum(limit[m_pid] - 3 - lo, 0)).astype(np.int64)
    moves = pd.DataFrame({"pid": m_pid, "day": m_day, "kind": MOVE, "fixed": False})
    n_temp = rng.poisson(cfg.temporary_rate * years_in)
    t_pid = np.repeat(pid, n_temp)
    t_lo = np.where(police, police_end + 3, start + 3)[t_pid]
    t_day = (t_lo + rng.random(len(t_pid)) * np.maximum(limit[t_pid] - 12 - t_lo, 0)).astype(np.int64)
    t_len = rng.integers(1, 8, len(t_pid))
    temps = pd.DataFrame({"pid": t_pid, "day": t_day, "kind": TEMP_START, "fixed": False, "len": t_len})

    ev = pd.concat([fixed, moves], ignore_index=True)
    ev = ev[ev["day"] < end[ev["pid"]] - 3]
    ev = ev.sort_values(["pid", "day", "fixed"], ascending=[True, True, False], kind="stable")
    # keep events at least 3 days apart (fixed events win)
    ev = ev[~(ev["pid"].eq(ev["pid"].shift()) & (ev["day"] - ev["day"].shift() < 3) & ~ev["fixed"])]
    ev = ev[~(ev["pid"].eq(ev["pid"].shift()) & (ev["day"] - ev["day"].shift() < 3))]
    # a temporary placement needs a clear window around it
    temps = temps[temps["day"] + temps["len"] < end[temps["pid"]] - 10]
    temps = temps.sort_values(["pid", "day"], kind="stable")
    temps = temps[~(temps["pid"].eq(temps["pid"].shift()) & (temps["day"] - temps["day"].shift() < 20))]
    both = pd.merge_asof(temps.sort_values("day"), ev[["pid", "day"]].rename(columns={"day": "near"})
                         .sort_values("near"), left_on="day", right_on="near", by="pid", direction="nearest")
    clear = both["near"].isna() | ((both["near"] - both["day"]).abs() > both["len"] + 4)
    temps = both[clear.to_numpy()].drop(columns="near")
    ends = temps.assign(kind=TEMP_END, day=temps["day"] + temps["len"])
    ev = pd.concat([ev, temps, ends], ignore_index=True)
    return ev.sort_values(["pid", "day"], kind="stable").reset_index(drop=True)


def build_episodes(p: pd.DataFrame, cfg: SynthConfig, rng) -> pd.DataFrame:
    """The 903 episodes of every period, chained: each event ends one episode (X1) and starts the next."""
    n = len(p)
    dob = p["dob"].to_numpy()
    uasc = p["uasc"].to_numpy()
    adopt = p["adoption"].to_numpy()
    start = p["start"].to_numpy()
    ls = np.where(p["police"].to_numpy(), "L1", p["ls0"].to_numpy()).astype(object)
    care_order = np.isin(p["ls0"].to_numpy(), ["C1", "C2"])
    place = draw_placements(rng, (start - dob) / YEAR, start, uasc, adopt, care_order & ~p["police"].to_numpy())
    prov, urn = draw_providers(rng, place), draw_urns(rng, place)
    home = postcodes(rng, n)
    post = postcodes(rng, n)
    post[place == "P1"] = home[place == "P1"]
    ep_start, rne = start.copy(), np.full(n, "S", dtype=object)
    saved = {}
    rows = []

    def close(idx, day, next_kind):
        rpc = np.full(len(idx), None, dtype=object)
        placement_change = np.isin(next_kind, [MOVE, ADOPTION]) & (place[idx] != TEMPORARY)
        rpc[placement_change] = _choice(rng, REASON_PLACE_CHANGE, int(placement_change.sum()))
        rpc[next_kind == ADOPTION] = "CARPL"
        rows.append(pd.DataFrame({"pid": idx, "DECOM": ep_start[idx], "DEC": day, "RNE": rne[idx], "LS": ls[idx],
                                  "PLACE": place[idx], "PLACE_PROVIDER": prov[idx], "URN": urn[idx],
                                  "PL_POST": post[idx], "REC": "X1", "REASON_PLACE_CHANGE": rpc}))

    ev = _events(p, cfg, rng)
    ev["rank"] = ev.groupby("pid").cumcount()
    for _, e in ev.groupby("rank", sort=True):
        idx, d, kind = e["pid"].to_numpy(), e["day"].to_numpy(), e["kind"].to_numpy()
        close(idx, d, kind)
        ep_start[idx] = d
        # legal status changes: same placement (RNE L)
        sel = np.isin(kind, [POLICE_END, LS_CHANGE])
        i = idx[sel]
        new_ls = np.where(kind[sel] == POLICE_END, p["ls0"].to_numpy()[i], e["to"].to_numpy()[sel])
        ls[i], rne[i] = new_ls, "L"
        # moves, temporary placements and placements for adoption
        for k in (MOVE, TEMP_START):
            sel = kind == k
            i = idx[sel]
            if k == TEMP_START:
                saved.update({j: (place[j], prov[j], urn[j], post[j]) for j in i})
                place[i] = TEMPORARY
            else:
                place[i] = draw_placements(rng, (d[sel] - dob[i]) / YEAR, d[sel], uasc[i], adopt[i],
                                           np.isin(ls[i], ["C1", "C2"]))
            prov[i], urn[i] = draw_providers(rng, place[i]), draw_urns(rng, place[i])
            post[i] = postcodes(rng, len(i))
            post[i[place[i] == "P1"]] = home[i[place[i] == "P1"]]
            rne[i] = "P"
        i = idx[kind == TEMP_END]
        for j in i:
            place[j], prov[j], urn[j], post[j] = saved.pop(j)
        rne[i] = "P"
        sel = kind == ADOPTION
        i = idx[sel]
        same_carer = np.isin(place[i], ["U4", "U5", "U6"]) & (rng.random(len(i)) < 0.3)
        place[i] = np.where(same_carer, "A5", "A6")
        rne[i] = np.where(same_carer, "T", "P")
        moved = i[~same_carer]
        prov[moved] = draw_providers(rng, place[moved])
        post[moved] = postcodes(rng, len(moved))
    ended = ~p["open"].to_numpy()
    idx = np.arange(n)
    final = pd.DataFrame({"pid": idx, "DECOM": ep_start, "DEC": np.where(ended, p["end"].to_numpy(), -1),
                          "RNE": rne, "LS": ls, "PLACE": place, "PLACE_PROVIDER": prov, "URN": urn, "PL_POST": post,
                          "REC": p["reason"].to_numpy(), "REASON_PLACE_CHANGE": None})
    eps = _register_supported_accommodation(pd.concat(rows + [final], ignore_index=True), rng)
    sgo = eps["REC"] == "SGO"
    eps.loc[sgo, "REC"] = np.select([eps.loc[sgo, "PLACE"].isin(["U1", "U2", "U3"]),
                                     eps.loc[sgo, "PLACE"].isin(["U4", "U5", "U6"])], ["E45", "E46"], "E48")
    eps["CHILD_IDX"] = p["child"].to_numpy()[eps["pid"].to_numpy()]
    eps["HOME_POST"] = home[eps["pid"].to_numpy()]
    eps["CIN"] = p["cin"].to_numpy()[eps["pid"].to_numpy()]
    eps = eps.sort_values(["CHILD_IDX", "DECOM"], kind="stable").reset_index(drop=True)
    return _legal_changes_keep_placement(eps)


def _legal_changes_keep_placement(eps: pd.DataFrame) -> pd.DataFrame:
    """A change of legal status only (RNE L) keeps every placement field of the episode before it."""
    cols = ["PLACE", "PLACE_PROVIDER", "URN", "PL_POST"]
    ls_only = (eps["RNE"] == "L").to_numpy()
    while ls_only.any():
        prev = eps[cols].shift()
        differs = ls_only & (eps[cols].fillna("") != prev.fillna("")).any(axis=1).to_numpy()
        if not differs.any():
            break
        eps.loc[differs, cols] = prev[differs].to_numpy()
    return eps


def _register_supported_accommodation(eps: pd.DataFrame, rng) -> pd.DataFrame:
    """Unregulated semi-independent (H5) and independent living (P2) placements ended on 28 October
    2023, when supported accommodation had to be registered (K3, DfE rule 217t): an open one becomes
    a new K3 episode that day with the same carer (RNE T) and an Ofsted URN, and any later one is K3."""
    place, decom, dec = eps["PLACE"].to_numpy(), eps["DECOM"].to_numpy(), eps["DEC"].to_numpy()
    old = np.isin(place, ["H5", "P2"])
    later = old & (decom >= REGISTRATION_DAY)
    eps.loc[later, "PLACE"] = "K3"
    eps.loc[later, "URN"] = draw_urns(rng, eps.loc[later, "PLACE"].to_numpy())
    spans = old & (decom < REGISTRATION_DAY) & ((dec < 0) | (dec > REGISTRATION_DAY))
    if not spans.any():
        return eps
    after = eps[spans].copy()
    after["DECOM"] = REGISTRATION_DAY
    after["RNE"], after["PLACE"] = "T", "K3"
    after["URN"] = draw_urns(rng, after["PLACE"].to_numpy())
    eps.loc[spans, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = [REGISTRATION_DAY, "X1", "PLACE"]
    return pd.concat([eps, after], ignore_index=True)
