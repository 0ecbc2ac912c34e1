"""``synth --like`` for every English council in the shipped tables, then ``reconcile``: wall time and
peak memory (max RSS, the last figure of RESULT, MB) per council, each in a fresh process, and how many calibrated figures agree.

    python benchmarks/like_all.py [--years 2023-24:2024-25] [--limit N] [--out benchmarks/results/like_all.csv]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from iro_metrics.comparators import DATA

# every breakdown synth --like calibrates (the rate per 10,000 needs a population: not computed)
CALIBRATED = {"", "Age group", "Sex", "Ethnicity", "Category of need", "Unaccompanied asylum-seeking children",
              "Legal status", "Placement", "numerator", "denominator", "percentage"}

CHILD = """
import resource, sys
from iro_metrics.comparators.reconcile import reconcile
from iro_metrics.errors import UsageError
from iro_metrics.ingest.load import load_council
from iro_metrics.model import build_model
from iro_metrics.synth import write_council
from iro_metrics.synth.calibrate import like
from iro_metrics.years import year_range
code, years, out = sys.argv[1:4]
try:
    cfg, cal = like(code, year_range(years))
except UsageError as e:
    print("ERROR", e); sys.exit(0)
write_council(out, cfg, cal)
t = reconcile(build_model(load_council(out, year_range(years)[-1].label)), code)
cal_rows = t[t["breakdown"].isin(%r) & t["status"].isin(["agrees", "differs"])]
print("RESULT", cfg.children, len(cal_rows), int((cal_rows["status"] == "agrees").sum()),
      int((t["status"] == "agrees").sum()), int(t["status"].isin(["agrees", "differs"]).sum()),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""" % CALIBRATED


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", default="2023-24:2024-25")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/like_all.csv"))
    args = ap.parse_args()
    cla = pd.read_csv(DATA / "cla_number_and_rate_per_10k_children.csv", dtype=str, keep_default_na=False,
                      encoding="utf-8-sig")
    codes = sorted(cla.loc[cla["geographic_level"] == "Local authority", "new_la_code"].unique())[: args.limit]
    rows = []
    for code in codes:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", CHILD, code, args.years, tmp], capture_output=True, text=True)
            wall = time.perf_counter() - t0
        line = next((x for x in r.stdout.splitlines() if x.startswith(("RESULT", "ERROR"))), "FAILED " + r.stderr[-200:])
        rows.append({"code": code, "wall_s": round(wall, 2), "outcome": line})
        print(code, f"{wall:.1f}s", line, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
