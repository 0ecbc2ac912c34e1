"""A synthetic council calibrated to a real council's published figures (``synth --like CODE``).

The generator simulates a larger council than the real one; the children are then chosen so that the
latest year has exactly the council's published children looked after on 31 March (by age group and
UASC), starts and ceases, and the children looked after on 31 March are given the published sex,
ethnicity and category of need. Suppressed published cells (``c``) are filled with small values that
add up to the published total. Everything is drawn from the seed: the same seed gives the same council.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from iro_metrics.comparators import DATA, numeric
from iro_metrics.comparators.reconcile import (CLA_FILE, STABILITY, STABILITY_FILE, _published, categories,
                                               check_published, council_name)
from iro_metrics.errors import UsageError
from iro_metrics.dates import age_in_years
from iro_metrics.synth.care import ETHNIC_MIX, UASC_ETHNIC_MIX, _choice, day, to_dates
from iro_metrics.synth import stability
from iro_metrics.synth.config import SynthConfig
from iro_metrics.synth.recode import caps, floors, recode, rules
from iro_metrics.years import CollectionYear

CALIBRATED = ("age_group", "uasc", "sex", "ethnicity", "category_of_need", "legal_status", "placement")
AGE_BANDS = [(0, 1, "Under 1 year"), (1, 5, "1 to 4 years"), (5, 10, "5 to 9 years"), (10, 16, "10 to 15 years"),
             (16, 99, "16 years and over")]
UASC_SEX_MALE = 0.95
MAX_TRIES = 6


@dataclass(frozen=True)
class Targets:
    """The council's published figures for one year, suppressed cells filled."""

    la_code: str
    name: str
    year: str
    cla: int
    starts: int
    ceases: int
    breakdowns: dict[str, dict[str, int]]  # dfe_categories.yaml name -> published category -> children
    stability: dict[str, int | None]  # three (3+ placements), cohort and stable (long-term); None: not published
    earlier: dict[str, dict[str, int]]  # earlier years (label -> cla, starts, ceases), where published


class Shortfall(Exception):
    """The simulated pool is too small for the targets: simulate a bigger one (by ``ratio``)."""

    def __init__(self, ratio: float) -> None:
        super().__init__(f"pool short by a factor {ratio:.2f}")
        self.ratio = ratio


def fill_suppressed(published: dict[str, str], total: int, rng: np.random.Generator,
                    rare: Collection[str] = (), caps: dict[str, int] | None = None,
                    floors: dict[str, int] | None = None) -> dict[str, int]:
    """Published numbers with each suppressed cell (``c``, ``x``, ``k``, blank) filled with a small value
    (1 to 5 where the total allows) so that the cells add up to ``total``. Cells in ``rare`` hold 0
    while another suppressed cell can take the children; no cell goes above its ``caps`` nor below its
    ``floors``."""
    known = {k: int(numeric(v)) for k, v in published.items() if numeric(v) is not None}
    hidden = [k for k in published if k not in known]
    if any(k not in rare for k in hidden):
        known.update({k: 0 for k in hidden if k in rare})
        hidden = [k for k in hidden if k not in rare]
    rest = total - sum(known.values())
    if rest < 0 or (not hidden and rest):
        raise UsageError(f"published cells add up to {sum(known.values())}, not the total {total}")
    out = dict(known)
    cap = np.array([(caps or {}).get(k, total) for k in hidden])
    fill = np.array([min((floors or {}).get(k, 0), c) for k, c in zip(hidden, cap)], dtype=int)
    if fill.sum() > rest:
        raise UsageError(f"the suppressed cells {', '.join(hidden)} cannot hold the {int(fill.sum())} children "
                         f"other published cells need")
    empty = np.flatnonzero((cap > 0) & (fill == 0))
    fill[rng.permutation(empty)[: max(0, min(rest - int(fill.sum()), len(empty)))]] = 1  # at least 1 where it can
    for _ in range(rest - int(fill.sum())):  # then one at a time, up to 5 each before any goes above
        room = np.flatnonzero((fill < 5) & (fill < cap))
        room = room if len(room) else np.flatnonzero(fill < cap)
        if not len(room):
            raise UsageError(f"the suppressed cells {', '.join(hidden)} cannot hold {rest} children")
        fill[rng.choice(room)] += 1
    out.update(zip(hidden, fill.tolist()))
    return {k: out[k] for k in published}


def targets(la_code: str, year: str, seed: int = 1, data: Path = DATA, earlier: Sequence[str] = ()) -> Targets:
    """The published figures ``synth --like`` reproduces, for ``la_code`` and collection ``year``, and
    the children looked after on 31 March of the ``earlier`` years it follows."""
    period = check_published(la_code, year, data)
    df = _published(CLA_FILE, data)
    row = df[(df["new_la_code"] == la_code) & (df["time_period"] == period)].set_index("population_type")
    counts = {}
    for key, label in (("cla", "Children looked after on 31 March each year"),
                       ("starts", "Children starting to be looked after each year"),
                       ("ceases", "Children ceasing to be looked after each year")):
        value = numeric(row.loc[label, "children_count"]) if label in row.index else None
        if value is None:
            raise UsageError(f"{la_code}: DfE's '{label}' for {year} is not published "
                             f"({row.loc[label, 'children_count'] if label in row.index else 'no row'})")
        counts[key] = int(value)
    rng = np.random.default_rng([seed, int(period)])
    published = {}
    for name in CALIBRATED:
        spec = categories()[name]
        pub = _published(spec["file"], data)
        pub = pub[(pub["new_la_code"] == la_code) & (pub["time_period"] == period) & (pub["cla_group"] == spec["cla_group"])]
        if pub.empty:
            continue  # not published for this council: the simulation's own mix stands
        cells = pub.drop_duplicates("characteristic", keep="last").set_index("characteristic")["number"]
        published[name] = {label: cells.get(label, "0") for label in spec["categories"]}
    breakdowns: dict[str, dict[str, int]] = {}
    for name, cells in published.items():
        breakdowns[name] = fill_suppressed(cells, counts["cla"], rng, rules()["rarely_nonzero"],
                                           caps(name, breakdowns), floors(name, published))
    history = {}
    for y in earlier:
        rows = df[(df["new_la_code"] == la_code) & (df["time_period"] == str(int(y[:4]) + 1))]
        got = {key: numeric(rows.loc[rows["population_type"] == label, "children_count"].iloc[-1])
               for key, label in (("cla", "Children looked after on 31 March each year"),
                                  ("starts", "Children starting to be looked after each year"),
                                  ("ceases", "Children ceasing to be looked after each year"))
               if (rows["population_type"] == label).any()}
        if got.get("cla") is not None:
            history[y] = {k: int(v) for k, v in got.items() if v is not None}
    if history:  # years before DfE's published series follow its first year
        first_published = history[min(history)]
        history.update({y: dict(first_published) for y in earlier if y not in history and y < min(history)})
    return Targets(la_code, council_name(la_code, data), year, breakdowns=breakdowns,
                   stability=_stability_targets(la_code, period, data), earlier=history, **counts)


def _stability_targets(la_code: str, period: str, data: Path) -> dict[str, int | None]:
    """The published numerators and denominator of the two stability measures (None where suppressed)."""
    df = _published(STABILITY_FILE, data)
    df = df[(df["new_la_code"] == la_code) & (df["time_period"] == period)]
    (three_group, three_label), (long_group, stable_label) = STABILITY.values()

    def cell(group: str, label: str) -> int | None:
        hit = df[(df["cla_group"] == group) & (df["placement_stability"] == label)]["children_count"]
        value = numeric(hit.iloc[-1]) if len(hit) else None
        return None if value is None else int(value)

    return {"three": cell(three_group, three_label), "cohort": cell(long_group, "Total children"),
            "stable": cell(long_group, stable_label)}


def _largest_remainder(weights: np.ndarray, total: int, caps: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``weights``, no part above its cap."""
    out = np.zeros(len(weights), dtype=int)
    for _ in range(total):
        room = out < caps
        if not room.any():
            break
        gap = np.where(room, weights * (out.sum() + 1) / max(weights.sum(), 1e-9) - out, -np.inf)
        out[int(np.argmax(gap))] += 1
    return out


class LikeCouncil:
    """The calibration passed to :func:`iro_metrics.synth.generate` (see ``Calibration`` there)."""

    def __init__(self, t: Targets) -> None:
        self.t = t
        self.cla_children = np.array([], dtype=int)  # children looked after on 31 March, after select

    def select(self, p: pd.DataFrame, ep: pd.DataFrame, cfg: SynthConfig, rng: np.random.Generator
               ) -> tuple[pd.DataFrame, pd.DataFrame, SynthConfig]:
        y0, y1 = day(cfg.years[-1].start), day(cfg.years[-1].end)
        start, end = p["start"].to_numpy(), p["end"].to_numpy()
        long_ago = day(pd.Timestamp(cfg.years[-1].end) - pd.DateOffset(months=stability.LONG_TERM_MONTHS))
        # a period starts, as far as the returns show, with its first episode open in one of the years
        seen = ep[(ep["DEC"] < 0) | (ep["DEC"] >= day(cfg.years[0].start))].groupby("pid")["DECOM"].min()
        seen = seen.reindex(p.index, fill_value=y1 + 1).to_numpy()
        per = pd.DataFrame({"child": p["child"].to_numpy(), "cla": (start <= y1) & (end > y1),
                            "long": (seen <= long_ago) & (end > y1),
                            "s": (start >= y0) & (start <= y1), "c": (end >= y0) & (end <= y1),
                            "inyear": (start <= y1) & (end >= y0), "uasc": p["uasc"].to_numpy(),
                            "dob": p["dob"].to_numpy()})
        kids = per.groupby("child").agg(cla=("cla", "any"), long=("long", "any"), s=("s", "any"), c=("c", "any"), inyear=("inyear", "any"),
                                        uasc=("uasc", "first"), dob=("dob", "first"))
        age = age_in_years(to_dates(kids["dob"].to_numpy()), to_dates(np.array([y1]))[0]).to_numpy(dtype=int)
        kids["band"] = pd.cut(age, [b[0] for b in AGE_BANDS] + [99], right=False,
                              labels=[b[2] for b in AGE_BANDS]).astype(str)
        kids["key"] = rng.random(len(kids))
        self.starters = int((kids["s"] & kids["inyear"]).sum())
        chosen = self._choose_cla(kids[kids["cla"]], rng)
        cla_s, cla_c = int(kids.loc[chosen, "s"].sum()), int(kids.loc[chosen, "c"].sum())
        other = kids[kids["inyear"] & ~kids["cla"]].sort_values("key")
        both, ceased_only = other[other["s"]], other[~other["s"]]
        x11 = self.t.starts - cla_s
        x01 = self.t.ceases - cla_c - x11
        if x11 < 0 or x01 < 0:
            raise UsageError(f"{self.t.la_code}: the published starts ({self.t.starts}) and ceases "
                             f"({self.t.ceases}) cannot be met with these children looked after on 31 March")
        if x11 > len(both) or x01 > len(ceased_only):
            raise Shortfall(max(x11 / max(len(both), 1), x01 / max(len(ceased_only), 1)))
        fixed = np.concatenate([chosen, both.index[:x11], ceased_only.index[:x01]])
        keep = np.concatenate([fixed, self._earlier(p, fixed, kids.index[~kids["inyear"]], cfg, rng)])
        p, ep = _renumber(p, ep, np.sort(keep))
        new_child = {old: new for new, old in enumerate(np.sort(keep))}
        self.cla_children = np.array(sorted(new_child[c] for c in chosen))
        p, ep = self._need(p, ep, y1, rng)
        m = stability.measures(p, ep, self.cla_children, cfg.years)
        try:
            p, ep = recode(p, ep, self.t.breakdowns, self.cla_children, cfg.years, rng, set(m.loc[m["cohort"], "child"]))
        except UsageError as e:  # too few children fit a category (placed for adoption...): a bigger pool
            raise Shortfall(1.3) from e
        ep = stability.tune(p, ep, self.t.stability, self.cla_children, cfg.years, rng)
        return p, ep, replace(cfg, children=self.t.cla)

    def _choose_cla(self, pool: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Children looked after on 31 March: the published number in each age group and UASC, with as
        many who started in the year as the pool suggests."""
        ages = self.t.breakdowns.get("age_group")
        if ages is None:
            ages = dict(pool["band"].value_counts().reindex([b[2] for b in AGE_BANDS], fill_value=0))
            ages = dict(zip(ages, _largest_remainder(np.array(list(ages.values()), float), self.t.cla,
                                                     np.full(len(ages), self.t.cla))))
        uasc = self.t.breakdowns.get("uasc", {}).get("UASC")
        cells = []  # (band, uasc, target)
        for band, n in ages.items():
            in_band = pool[pool["band"] == band]
            cells.append([band, True, 0, in_band["uasc"].sum()])
            cells.append([band, False, n, (~in_band["uasc"]).sum()])
        if uasc is not None:
            caps = np.array([min(c[3], ages[c[0]]) for c in cells if c[1]])
            split = _largest_remainder(np.array([c[3] for c in cells if c[1]], float), uasc, caps)
            if split.sum() < uasc:
                raise Shortfall(uasc / max(split.sum(), 1))
            for c, k in zip([c for c in cells if c[1]], split):
                c[2] = k
                c_non = next(x for x in cells if x[0] == c[0] and not x[1])
                c_non[2] -= k
        short = [c[2] / max(c[3], 1) for c in cells if c[2] > c[3]]
        if short:
            raise Shortfall(max(short) * 1.1)
        # as many started in the year as the pool keeps of its starters, and enough that the ceases can
        # be met by children who left
        stayed_share = pool["s"].sum() / max(self.starters, 1)
        ratio = min(1.0, max(stayed_share * self.t.starts, self.t.starts - self.t.ceases + 2) / max(self.t.cla, 1))
        cands = [pool[(pool["band"] == band) & (pool["uasc"] == is_uasc)] for band, is_uasc, _, _ in cells]
        n = np.array([c[2] for c in cells])
        lows = np.array([max(0, k - int((~c["s"]).sum())) for k, c in zip(n, cands)])  # babies all started
        highs = np.array([min(k, int(c["s"].sum())) for k, c in zip(n, cands)])
        n_long = self._long_term(cells, cands, n)
        if n_long is not None:  # room for the long-term cohort among those who did not start in the year
            short = np.array([int((~c["s"] & ~c["long"]).sum()) for c in cands])
            highs = np.minimum(highs, n - n_long)
            young = np.array([band != AGE_BANDS[-1][2] for band, *_ in cells])
            lows = np.maximum(lows, np.where(young, n - n_long - short, lows))
            if (lows > highs).any():
                raise Shortfall(1.2)
        want = int(np.clip(round(ratio * self.t.cla), lows.sum(), min(highs.sum(), max(self.t.starts, lows.sum()))))
        n_s = lows + _largest_remainder(n.astype(float), want - int(lows.sum()), highs - lows)
        chosen = []
        for (band, *_), cand, k, k_s, k_l in zip(cells, cands, n, n_s, n_long if n_long is not None else n * 0):
            # re-entrants (who also ceased in the year) last
            started = cand[cand["s"]].sort_values(["c", "key"]).index[:k_s]
            stayed = cand[~cand["s"]].sort_values(["c", "key"])
            if n_long is not None and band != AGE_BANDS[-1][2]:  # under 16: the long-term cohort exactly
                stayed = pd.concat([stayed[stayed["long"]][:k_l], stayed[~stayed["long"]][: k - k_s - k_l]])
            chosen += [*started, *stayed.index[: k - k_s]]
        return np.array(chosen, dtype=int)

    def _earlier(self, p: pd.DataFrame, fixed: np.ndarray, rest: pd.Index, cfg: SynthConfig,
                 rng: np.random.Generator) -> np.ndarray:
        """Of the children not looked after in the last year, those kept so that each earlier year has
        its published children looked after on 31 March (latest first, as far as the pool allows), then
        its published starts and ceases, with children looked after only within a year."""
        first = day(cfg.years[0].start)
        seen = pd.Series(p["end"].to_numpy() >= first).groupby(p["child"].to_numpy()).any()
        rest = rest[seen.reindex(rest).to_numpy()]  # children in none of the returns are left out
        if not self.t.earlier:
            return rest.to_numpy()
        span = pd.DataFrame({y.label: (p["start"] <= day(y.end)) & (p["end"] > day(y.end)) for y in cfg.years[:-1]})
        span = span.groupby(p["child"].to_numpy()).any()
        events = {}
        for key, col in (("starts", "start"), ("ceases", "end")):
            events[key] = pd.DataFrame({y.label: (p[col] >= day(y.start)) & (p[col] <= day(y.end))
                                        for y in cfg.years[:-1]}).groupby(p["child"].to_numpy()).any()
        order = rng.permutation(rest.to_numpy())
        picked = pd.Series(False, index=order)
        for y in reversed(cfg.years[:-1]):  # children looked after on 31 March
            if y.label not in self.t.earlier:
                continue
            need = (self.t.earlier[y.label]["cla"] - int(span.loc[fixed, y.label].sum())
                    - int(span.loc[picked.index[picked.to_numpy()], y.label].sum()))
            free = picked.index[~picked.to_numpy() & span.loc[picked.index, y.label].to_numpy()]
            picked[free[: max(need, 0)]] = True
        within = ~span.loc[order].any(axis=1).to_numpy()  # looked after only within a year
        for key in events:  # then starts and ceases, with children looked after only within a year
            for y in cfg.years[:-1]:
                kept = np.concatenate([fixed, picked.index[picked.to_numpy()]])
                need = self.t.earlier.get(y.label, {}).get(key, 0) - int(events[key].loc[kept, y.label].sum())
                free = picked.index[within & ~picked.to_numpy() & events[key].loc[picked.index, y.label].to_numpy()]
                picked[free[: max(need, 0)]] = True
        return np.sort(picked.index[picked.to_numpy()])

    def _long_term(self, cells: list, cands: list[pd.DataFrame], n: np.ndarray) -> np.ndarray | None:
        """How many children looked after for 2.5 years each cell takes, so that those under 16 make the
        published long-term stability cohort (None: not published)."""
        target = self.t.stability.get("cohort")
        if target is None:
            return None
        young = np.array([band != AGE_BANDS[-1][2] for band, *_ in cells])
        avail = np.array([int((~c["s"] & c["long"]).sum()) for c in cands])
        caps = np.where(young, np.minimum(n, avail), 0)
        if caps.sum() < target:
            raise Shortfall(1.1 * target / max(caps.sum(), 1))
        return _largest_remainder(avail.astype(float), target, caps)

    def _need(self, p: pd.DataFrame, ep: pd.DataFrame, y1: int, rng: np.random.Generator
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The current period of each child looked after on 31 March gets the published category of need
        (absent parenting first for UASC)."""
        need = self.t.breakdowns.get("category_of_need")
        if need is None:
            return p, ep
        current = p.index[(p["start"] <= y1) & (p["end"] > y1) & p["child"].isin(self.cla_children)]
        codes = {label: codes[0] for label, codes in categories()["category_of_need"]["categories"].items()}
        pool = np.concatenate([np.full(n, codes[label]) for label, n in need.items()]) if need else np.array([])
        order = np.concatenate([current[p.loc[current, "uasc"].to_numpy()], current[~p.loc[current, "uasc"].to_numpy()]])
        pool = _prefer(pool, p.loc[order, "uasc"].to_numpy(), "N8", rng)
        p = p.copy()
        p.loc[order, "cin"] = pool
        ep = ep.copy()
        ep["CIN"] = p["cin"].to_numpy()[ep["pid"].to_numpy()]
        return p, ep

    def characteristics(self, kids: pd.DataFrame, p: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Sex and ethnicity of the children looked after on 31 March, as published (UASC mostly boys,
        of the ethnic groups unaccompanied children mostly are)."""
        kids = kids.copy()
        cla = self.cla_children
        uasc = kids.loc[cla, "uasc"].to_numpy()
        order = np.concatenate([cla[uasc], cla[~uasc]])
        is_uasc = np.concatenate([np.ones(uasc.sum(), bool), np.zeros((~uasc).sum(), bool)])
        sex = self.t.breakdowns.get("sex")
        if sex is not None:
            pool = np.concatenate([np.full(sex.get("Male", 0), "M"), np.full(sex.get("Female", 0), "F")])
            boys = np.where(rng.random(is_uasc.sum()) < UASC_SEX_MALE, "M", "F")
            kids.loc[order, "SEX"] = _prefer(pool, is_uasc, boys, rng)
        eth = self.t.breakdowns.get("ethnicity")
        if eth is not None:
            groups = categories()["ethnicity"]["categories"]
            pool = np.concatenate([np.full(n, label, dtype=object) for label, n in eth.items()])
            group_of = {code: label for label, codes in groups.items() for code in codes}
            wanted = np.array([group_of[c] for c in _choice(rng, UASC_ETHNIC_MIX, int(is_uasc.sum()))], dtype=object)
            assigned = _prefer(pool, is_uasc, wanted, rng)
            codes = np.empty(len(order), dtype=object)
            for label, members in groups.items():
                sel = assigned == label
                mix = {c: w for c, w in (UASC_ETHNIC_MIX | ETHNIC_MIX).items() if c in members} or \
                    {c: 1 for c in members}
                codes[sel] = _choice(rng, mix, int(sel.sum()))
            kids.loc[order, "ETHNIC"] = codes
        return kids


def _prefer(pool: np.ndarray, first: np.ndarray, wanted, rng: np.random.Generator) -> np.ndarray:
    """Deal the values in ``pool`` (one per child, in order) at random, except that the children flagged
    in ``first`` take their ``wanted`` value (one for all, or one each) while the pool has it left."""
    pool = list(rng.permutation(pool))
    flagged = np.flatnonzero(first)
    wanted = np.full(len(flagged), wanted, dtype=object) if np.ndim(wanted) == 0 else np.asarray(wanted, dtype=object)
    out = np.empty(len(first), dtype=object)
    for i, w in zip(flagged, wanted):
        if w in pool:
            pool.remove(w)
            out[i] = w
    for i in np.flatnonzero(out == None):  # noqa: E711 (object array)
        out[i] = pool.pop()
    return out


def _renumber(p: pd.DataFrame, ep: pd.DataFrame, keep: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Only the children in ``keep``, periods and children numbered from 0 again."""
    p = p[p["child"].isin(keep)]
    pid = pd.Series(np.arange(len(p)), index=p.index)
    child = pd.Series(np.arange(len(keep)), index=keep)
    ep = ep[ep["pid"].isin(p.index)].copy()
    ep["pid"] = pid.reindex(ep["pid"]).to_numpy()
    ep["CHILD_IDX"] = child.reindex(ep["CHILD_IDX"]).to_numpy()
    p = p.assign(child=child.reindex(p["child"]).to_numpy()).reset_index(drop=True)
    return p, ep.reset_index(drop=True)


def like(la_code: str, years: list[CollectionYear], seed: int = 1, data: Path = DATA
         ) -> tuple[SynthConfig, LikeCouncil]:
    """The configuration and calibration for a council like ``la_code`` in the last of ``years``: the
    simulated pool grows until every published figure can be met."""
    from iro_metrics.synth import generate

    t = targets(la_code, years[-1].label, seed, data, [y.label for y in years[:-1]])
    uasc = t.breakdowns.get("uasc", {}).get("UASC", round(0.08 * t.cla))
    factor = 1.6
    for _ in range(MAX_TRIES):
        cfg = SynthConfig(council=f"{t.name} (synthetic)", children=max(30, int(t.cla * factor)), years=years,
                          seed=seed, uasc_share=min(0.6, uasc / max(t.cla, 1)))
        try:
            generate(cfg, _Probe(t))
        except Shortfall as e:
            factor *= max(e.ratio, 1.1) * 1.1
        except _Fits:
            return cfg, LikeCouncil(t)
    raise UsageError(f"{la_code}: could not simulate a council with its published figures")


class _Probe(LikeCouncil):
    """Select only: stops the simulation once the children have been chosen."""

    def select(self, *args, **kw):
        super().select(*args, **kw)
        raise _Fits


class _Fits(Exception):
    pass
