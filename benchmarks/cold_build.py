"""One council's cold build against the floor of the toolchain it is built with.

    python benchmarks/cold_build.py [--rounds 3]

Each round, as command lines in fresh processes one after the other, on the 450-child synthetic
council: the **floor**, the `papermill` CLI executing a one-cell notebook (``1 + 1``) and then
`jupyter nbconvert --to html` of the result; and `iro-report build` into an empty outputs folder
(the notebook computes every figure, then the page, the PDF, the Word paper and the spreadsheets).
Wall clock of each, their ratio per round and the median; then one in-process build by part.
Goal (issue 20): build / floor <= 1.0.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat



def _timed(*cmds: list[str]) -> float:
    t = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    rounds = ap.parse_args().rounds
    from iro_metrics.report.build import build
    from rebuild import synthetic_council  # beside this script

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        params = synthetic_council(root)
        one = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        one.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(one, root / "one.ipynb")
        floor = ([sys.executable, "-m", "papermill", str(root / "one.ipynb"), str(root / "one-out.ipynb")],
                 [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(root / "one-out.ipynb")])
        print("| round | floor (papermill + nbconvert) | `iro-report build` | build / floor |")
        print("|---|---|---|---|")
        rows = []
        for n in range(rounds):
            f = _timed(*floor)
            b = _timed([sys.executable, "-m", "iro_metrics", "build", str(params), "--outputs", str(root / f"out{n}")])
            rows.append(b / f)
            print(f"| {n + 1} | {f:.2f} s | {b:.2f} s | {b / f:.2f} |", flush=True)
        print(f"| **median** | | | **{statistics.median(rows):.2f}** |")
        parts: dict[str, float] = {}
        t = time.perf_counter()
        build(params, outputs=root / "in-process", timings=parts)
        print(f"\nin-process build {time.perf_counter() - t:.2f} s: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))


if __name__ == "__main__":
    main()
