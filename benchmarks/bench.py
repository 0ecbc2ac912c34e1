"""Benchmarks: synthetic data, loading and metrics, at one-council and national scale.

    python benchmarks/bench.py            # full run (national scale: a few minutes, ~2 GB of memory)
    python benchmarks/bench.py --quick    # smaller sizes, for a smoke test
    python benchmarks/bench.py --national DIR --baseline-python PY   # issue 20's national comparison

Each step runs in its own process, so its peak memory (max RSS) is its own. Every figure is reported
beside a baseline run side by side on the same data:

* synth: time per child against the default 450-child council;
* load: ``load_council`` against bare ``pandas.read_csv`` of the same files (the floor);
* metrics: the vectorised model and indicators against the per-child reference implementation
  (``reference.py``), which must agree on every indicator it covers.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
YEAR = "2024-25"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_synth(out: str, children: int, councils: int) -> dict:
    from iro_metrics.synth import SynthConfig, write_councils

    t = time.perf_counter()
    write_councils(out, SynthConfig(children=children), councils=councils)
    return {"wall_s": time.perf_counter() - t}


def step_read_csv(data: str) -> dict:
    import pandas as pd

    t = time.perf_counter()
    rows = sum(len(pd.read_csv(p, dtype=str, keep_default_na=False)) for p in sorted(Path(data).rglob("*.csv")))
    return {"wall_s": time.perf_counter() - t, "rows": rows}


def step_read_csv_pyarrow(data: str) -> dict:
    """Issue 20's national baseline: a bare ``read_csv(engine="pyarrow")`` of every file (run by an
    interpreter that has pyarrow: the project does not depend on it)."""
    import pandas as pd

    t = time.perf_counter()
    rows = sum(len(pd.read_csv(p, engine="pyarrow")) for p in sorted(Path(data).rglob("*.csv")))
    return {"wall_s": time.perf_counter() - t, "rows": rows}


def step_load(data: str) -> dict:
    from iro_metrics.ingest.load import load_council

    t = time.perf_counter()
    d = load_council(data, YEAR)
    return {"wall_s": time.perf_counter() - t, "rows": int(sum(len(v) for v in d.tables.values()))}


def _councils(data: str) -> list[Path]:
    root = Path(data)
    return [root] if (root / YEAR).exists() else sorted(p for p in root.iterdir() if (p / YEAR).exists())


def step_metrics(data: str, limit: int | None) -> dict:
    """Load, then time the model and every indicator for each council (load, model and indicators timed
    apart)."""
    from iro_metrics.ingest.load import load_council
    from iro_metrics.metrics import compute_all
    from iro_metrics.model import build_model

    load_s = model_s = indicators_s = 0.0
    councils = _councils(data)[:limit]
    for c in councils:
        t = time.perf_counter()
        d = load_council(c, YEAR)
        t1 = time.perf_counter()
        model = build_model(d)
        t2 = time.perf_counter()
        compute_all(model)
        load_s, model_s, indicators_s = load_s + t1 - t, model_s + t2 - t1, indicators_s + time.perf_counter() - t2
    return {"wall_s": load_s + model_s + indicators_s, "load_s": load_s, "compute_s": model_s + indicators_s,
            "model_s": model_s, "indicators_s": indicators_s, "councils": len(councils)}


def step_reference(data: str, limit: int | None) -> dict:
    """The per-child reference on the same councils; checks agreement with the package."""
    sys.path.insert(0, str(HERE))
    from reference import agree, reference_indicators

    from iro_metrics.ingest.load import load_council
    from iro_metrics.metrics import compute_all
    from iro_metrics.model import build_model

    compute_s, disagreements = 0.0, []
    councils = _councils(data)[:limit]
    for c in councils:
        d = load_council(c, YEAR)
        t = time.perf_counter()
        ref = reference_indicators(d)
        compute_s += time.perf_counter() - t
        disagreements += agree(compute_all(build_model(d))[0], ref)
    return {"wall_s": compute_s, "compute_s": compute_s, "councils": len(councils), "disagreements": disagreements}


def step_build(data: str) -> dict:
    """One council's full build (the executed notebook computing every figure, HTML, PDF, Word, spreadsheets), by part."""
    from iro_metrics.report.build import build

    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "params.yaml"
        params.write_text(f"council: Bench Borough\nyear: {YEAR}\ndata: {data}\npopulation: 52000\n")
        parts: dict[str, float] = {}
        t = time.perf_counter()
        build(params, outputs=Path(tmp) / "out", timings=parts)
        return {"wall_s": time.perf_counter() - t, **{f"{k}_s": v for k, v in parts.items()}}


STEPS = {"build": step_build, "synth": step_synth, "read_csv": step_read_csv, "load": step_load, "metrics": step_metrics,
         "reference": step_reference, "read_csv_pyarrow": step_read_csv_pyarrow}


def run(step: str, python: str = sys.executable, **kw) -> dict:
    """Run one step in a fresh interpreter (``python``) and return its figures (with peak memory)."""
    cmd = [python, __file__, "--step", step, "--kw", json.dumps(kw)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def national(data: str, baseline_python: str, rounds: int) -> dict:
    """Issue 20's national goal, side by side: each round, the bare pyarrow read (by ``baseline_python``),
    then load + every indicator, each in a fresh process; the ratio of the medians."""
    base, ours = [], []
    print("| round | bare `read_csv(engine=\"pyarrow\")` | load + every indicator (load, model, indicators) | "
          "peak memory | ratio |\n|---|---|---|---|---|")
    for n in range(rounds):
        base.append(run("read_csv_pyarrow", python=baseline_python, data=data))
        ours.append(run("metrics", data=data, limit=None))
        b, o = base[-1], ours[-1]
        print(f"| {n + 1} | {b['wall_s']:.2f} s ({b['peak_mb']:.0f} MB) | {o['wall_s']:.1f} s ({o['load_s']:.1f}, "
              f"{o['model_s']:.1f}, {o['indicators_s']:.1f}) | {o['peak_mb']:.0f} MB | "
              f"{o['wall_s'] / b['wall_s']:.1f}x |", flush=True)
    med = statistics.median
    ratio = med(o["wall_s"] for o in ours) / med(b["wall_s"] for b in base)
    print(f"| **median** | {med(b['wall_s'] for b in base):.2f} s | {med(o['wall_s'] for o in ours):.1f} s | "
          f"{max(o['peak_mb'] for o in ours):.0f} MB (the most) | **{ratio:.1f}x** |")
    return {"baseline": base, "load_and_metrics": ours, "ratio": ratio}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--national", metavar="DIR", help="only issue 20's national comparison, on this data folder "
                    "(e.g. from `iro-report synth --children 80000`); needs --baseline-python")
    ap.add_argument("--baseline-python", metavar="PYTHON", help="an interpreter with pandas and pyarrow, for "
                    "--national's baseline (the project itself does not install pyarrow)")
    ap.add_argument("--rounds", type=int, default=3, help="--national's rounds (default 3)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--kw", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        result = STEPS[a.step](**json.loads(a.kw))
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return
    if a.national:
        if not a.baseline_python:
            ap.error("--national needs --baseline-python (an interpreter with pandas and pyarrow)")
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / "national.json").write_text(json.dumps(national(a.national, a.baseline_python, a.rounds), indent=2))
        return
    national_children = 8000 if a.quick else 80000
    n_councils, ref_sample = (15, 3) if a.quick else (150, 10)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        one, nat, many = f"{tmp}/one", f"{tmp}/national", f"{tmp}/councils"
        results["synth_one"] = run("synth", out=one, children=450, councils=1)
        results["synth_national"] = run("synth", out=nat, children=national_children, councils=1)
        results["synth_councils"] = run("synth", out=many, children=480, councils=n_councils)
        results["read_csv_national"] = run("read_csv", data=nat)
        results["load_national"] = run("load", data=nat)
        results["build_one"] = run("build", data=one)
        results["metrics_one"] = run("metrics", data=one, limit=None)
        results["reference_one"] = run("reference", data=one, limit=None)
        results["metrics_councils"] = run("metrics", data=many, limit=None)
        results["metrics_sample"] = run("metrics", data=many, limit=ref_sample)
        results["reference_sample"] = run("reference", data=many, limit=ref_sample)
        results["metrics_national"] = run("metrics", data=nat, limit=None)
        results["reference_national"] = run("reference", data=nat, limit=None)
    report(results, national_children, n_councils, ref_sample)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / ("quick.json" if a.quick else "latest.json")).write_text(json.dumps(results, indent=2))


def report(r: dict, national_children: int, n_councils: int, ref_sample: int) -> None:
    def row(name, res, baseline=None, base_name=""):
        ratio = f"{res['wall_s'] / baseline['wall_s']:.2f}x {base_name}" if baseline else ""
        print(f"| {name} | {res['wall_s']:.2f} s | {res['peak_mb']:.0f} MB | {ratio} |")

    print("| step | wall | peak memory | against the baseline |")
    print("|---|---|---|---|")
    row("synth, one council (450 at 31 March)", r["synth_one"])
    per_child = r["synth_national"]["wall_s"] / national_children / (r["synth_one"]["wall_s"] / 450)
    print(f"| synth, national single tree ({national_children:,} at 31 March) | {r['synth_national']['wall_s']:.2f} s "
          f"| {r['synth_national']['peak_mb']:.0f} MB | {per_child:.2f}x the one-council time per child |")
    row(f"synth, {n_councils} councils", r["synth_councils"])
    row("read_csv of the national files (baseline)", r["read_csv_national"])
    row("load_council, national (5 returns)", r["load_national"], r["read_csv_national"], "bare read_csv")
    one = r["metrics_one"]
    ref = r["reference_one"]
    print(f"| model + every indicator, one council | {one['compute_s']:.3f} s | {one['peak_mb']:.0f} MB | "
          f"speed-up against the per-child reference {ref['compute_s'] / one['compute_s']:.2f}x ({ref['compute_s']:.2f} s) |")
    s, rs = r["metrics_sample"], r["reference_sample"]
    print(f"| model + every indicator, {ref_sample} councils | {s['compute_s']:.2f} s | {s['peak_mb']:.0f} MB | "
          f"speed-up against the per-child reference {rs['compute_s'] / s['compute_s']:.2f}x ({rs['compute_s']:.2f} s) |")
    c = r["metrics_councils"]
    print(f"| load + model + indicators, all {n_councils} councils | {c['wall_s']:.1f} s (load {c['load_s']:.1f} s) "
          f"| {c['peak_mb']:.0f} MB | |")
    n, rn = r["metrics_national"], r["reference_national"]
    print(f"| load + model + indicators, national single tree | {n['wall_s']:.1f} s (load {n['load_s']:.1f} s) "
          f"| {n['peak_mb']:.0f} MB | model + indicators {n['compute_s']:.1f} s: "
          f"speed-up against the per-child reference {rn['compute_s'] / n['compute_s']:.2f}x ({rn['compute_s']:.1f} s) |")
    bad = ref["disagreements"] + rs["disagreements"] + rn["disagreements"]
    b = r["build_one"]
    print(f"| one council's full build (executing the notebook, which computes every figure, {b['execute_s']:.2f} s, "
          f"HTML {b['html_s']:.2f} s, PDF {b['pdf_s']:.2f} s, waiting for the Word paper {b['docx_s']:.2f} s and "
          f"the kernel's metrics.json and tables {b['figures_s']:.2f} s) | {b['wall_s']:.2f} s | "
          f"{b['peak_mb']:.0f} MB | |")
    print("\nThe per-child reference covers the 13 statutory-core indicators; the package computes all 40.")
    print(f"reference agreement: {'every covered indicator agrees' if not bad else bad}")


if __name__ == "__main__":
    main()
