"""Benchmark: ``iro-report verify`` of one council against ``iro-report build`` of the same council,
side by side in one run (issue 20's goal: verify <= 1.0x build).

    python benchmarks/verify.py             # 3 rounds (the median ratio is reported)
    python benchmarks/verify.py --rounds 1  # a smoke test

Both are timed as a user runs them: the command line in a fresh process, wall clock, on the 450-child
synthetic council; each round builds, then verifies what it built. The parts of each are timed
afterwards, in-process, so that the instrumentation does not touch the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

YEAR = "2024-25"


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return time.perf_counter() - t


def parts(root: Path) -> dict[str, float]:
    """Verify's own parts, in-process: nbval's re-execution (with metrics.json and the tables written
    by its kernel), the page, the PDF, then the whole again."""
    import nbformat

    from iro_metrics.report import verify as V

    notebook = root / "outputs" / "bench-borough" / YEAR / "appendix.ipynb"
    out: dict[str, float] = {}
    t = time.perf_counter()
    published = nbformat.read(notebook, as_version=4)
    values = V.parameters(published)
    data = V.data_folder(notebook, values["data"], None, "bench-borough")
    with tempfile.TemporaryDirectory() as tmp:
        cells, *_ = V._rerun(published, values, data, None, Path(tmp), notebook.parent)
    out["nbval re-execution, metrics.json and tables"] = time.perf_counter() - t
    t = time.perf_counter()
    rerun = V._rerun_notebook(published, cells)
    page, _ = V._rebuild_page(rerun, notebook.parent, values)
    out["HTML"] = time.perf_counter() - t
    t = time.perf_counter()
    V._rebuild_pdf(page, values)
    out["PDF"] = time.perf_counter() - t
    t = time.perf_counter()
    V.verify_one(notebook)  # the whole again, for the total in-process
    out["whole verify, in-process"] = time.perf_counter() - t
    return out


def build_parts(root: Path) -> dict[str, float]:
    """The build's own parts, in-process, for comparison."""
    from iro_metrics.report.build import build

    timings: dict[str, float] = {}
    t = time.perf_counter()
    build(root / "params" / "bench" / f"{YEAR}.yaml", outputs=root / "outputs", timings=timings, reuse=False)
    return {**timings, "whole build, in-process": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    cli = [sys.executable, "-m", "iro_metrics"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([*cli, "synth", "--out", str(root / "data")], check=True, capture_output=True)
        params = root / "params" / "bench" / f"{YEAR}.yaml"
        params.parent.mkdir(parents=True)
        params.write_text(f"council: Bench Borough\nyear: {YEAR}\ndata: ../../data\npopulation: 52000\n"
                          "la_code: E09000028\n")
        rounds = []
        for _ in range(a.rounds):
            b = timed([*cli, "build", str(params), "--outputs", "outputs", "--full"], root)  # not a reuse
            v = timed([*cli, "verify", "outputs"], root)
            rounds.append({"build_s": b, "verify_s": v, "ratio": v / b})
            print(f"build {b:.2f} s, verify {v:.2f} s: verify / build = {v / b:.2f}", flush=True)
        by_part = parts(root)
        build_by_part = build_parts(root)
    ratio = statistics.median(r["ratio"] for r in rounds)
    print(f"\nmedian verify / build over {len(rounds)} rounds: {ratio:.2f}")
    for name, seconds in by_part.items():
        print(f"  verify part: {name}: {seconds:.2f} s")
    for name, seconds in build_by_part.items():
        print(f"  build part: {name}: {seconds:.2f} s")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    doc = {"rounds": rounds, "median_ratio": ratio, "verify_parts": by_part, "build_parts": build_by_part}
    (out / "verify.json").write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
