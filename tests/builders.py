"""Hand-built councils for tests: write tiny 903 returns and IRO records in the input layout.

Dates are written dd/mm/yyyy; every episode is restated in each return whose year it is open in,
with DEC and REC blanked when it ends after that year, as real returns do.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from iro_metrics import spec
from iro_metrics.ingest.load import CouncilData, load_council
from iro_metrics.model import Model, build_model
from iro_metrics.years import CollectionYear


def d(text: str | None) -> pd.Timestamp | None:
    """'2024-03-22' -> Timestamp (None stays None)."""
    return None if text is None else pd.Timestamp(text)


def dmy(ts: pd.Timestamp | None) -> str:
    return "" if ts is None else ts.strftime("%d/%m/%Y")


@dataclass
class Council:
    root: Path
    children: dict[str, dict] = field(default_factory=dict)
    episodes: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)
    iro: dict[str, list[dict]] = field(default_factory=dict)
    uasc: list[dict] = field(default_factory=list)

    def child(self, cid: str, dob: str, sex: str = "M", ethnic: str = "WBRI") -> Council:
        self.children[cid] = {"CHILD": cid, "DOB": d(dob), "SEX": sex, "ETHNIC": ethnic}
        return self

    def episode(self, cid: str, decom: str, dec: str | None = None, rne: str = "S", ls: str = "C2",
                place: str = "U4", rec: str | None = None, cin: str = "N1", provider: str = "PR1") -> Council:
        if dec is not None and rec is None:
            rec = "X1"
        self.episodes.append({"CHILD": cid, "DECOM": d(decom), "RNE": rne, "LS": ls, "CIN": cin, "PLACE": place,
                              "PLACE_PROVIDER": "" if place.startswith("T") else provider, "DEC": d(dec),
                              "REC": rec or "", "REASON_PLACE_CHANGE": "", "HOME_POST": "ZZ1 1AA",
                              "PL_POST": "ZZ2 2BB", "URN": "XXXXXXX"})
        return self

    def stay(self, cid: str, *steps: tuple, rec: str | None = None, **kw) -> Council:
        """Chained episodes: steps are (decom, rne, place[, ls]); the last ends at ``end`` in kw."""
        end = kw.pop("end", None)
        for i, step in enumerate(steps):
            decom, rne, place = step[:3]
            ls = step[3] if len(step) > 3 else kw.get("ls", "C2")
            nxt = steps[i + 1][0] if i + 1 < len(steps) else end
            last = i + 1 == len(steps)
            self.episode(cid, decom, nxt, rne=rne, ls=ls, place=place,
                         rec=(rec if last else "X1") if nxt else None, cin=kw.get("cin", "N1"))
        return self

    def review(self, cid: str, date: str, code: str = "PN1") -> Council:
        self.reviews.append({"CHILD": cid, "REVIEW": d(date), "REVIEW_CODE": code})
        return self

    def record(self, table: str, **row) -> Council:
        self.iro.setdefault(table, []).append(row)
        return self

    def write(self, first: str, last: str) -> Path:
        years = [CollectionYear(y) for y in range(CollectionYear.parse(first).start_year,
                                                    CollectionYear.parse(last).start_year + 1)]
        for y in years:
            folder = self.root / y.label
            folder.mkdir(parents=True, exist_ok=True)
            eps = [e for e in self.episodes if e["DECOM"] <= y.end and (e["DEC"] is None or e["DEC"] >= y.start)]
            rows = []
            for e in eps:
                r = dict(e)
                if r["DEC"] is not None and r["DEC"] > y.end:
                    r["DEC"], r["REC"] = None, ""
                rows.append({**r, "DECOM": dmy(r["DECOM"]), "DEC": dmy(r["DEC"])})
            kids = sorted({e["CHILD"] for e in eps} | {r["CHILD"] for r in self.reviews
                                                          if y.start <= r["REVIEW"] <= y.end})
            header = []
            for cid in kids:
                c = self.children[cid]
                sex = c["SEX"] if y.start_year >= 2024 else {"M": "1", "F": "2"}[c["SEX"]]
                header.append({"CHILD": cid, "SEX": sex, "DOB": dmy(c["DOB"]), "ETHNIC": c["ETHNIC"],
                               "UPN": "A123456789012", "MOTHER": "0" if c["SEX"] == "F" else "", "MC_DOB": ""})
            reviews = [{"CHILD": r["CHILD"], "DOB": dmy(self.children[r["CHILD"]]["DOB"]), "REVIEW": dmy(r["REVIEW"]),
                        "REVIEW_CODE": r["REVIEW_CODE"]} for r in self.reviews if y.start <= r["REVIEW"] <= y.end]
            write_csv(folder / "header.csv", "header", header)
            write_csv(folder / "episodes.csv", "episodes", rows)
            write_csv(folder / "reviews.csv", "reviews", reviews)
            if self.uasc:
                write_csv(folder / "uasc.csv", "uasc", self.uasc)
            if y == years[-1]:
                for table, rows_ in self.iro.items():
                    write_csv(folder / spec.tables()[table].file, table, rows_)
        return self.root

    def model(self, first: str, last: str, year: str | None = None, population: int | None = None) -> Model:
        self.write(first, last)
        return build_model(load_council(self.root, year or last), population=population)


def write_csv(path: Path, table: str, rows: list[dict]) -> None:
    cols = spec.tables()[table].dfe_columns
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})


def by_child(data: CouncilData, series: pd.Series) -> dict:
    """A figure per child (indexed by ``child_id``) keyed by the child's CHILD identifier instead."""
    return series.rename(lambda key: data.children[key]).to_dict()
