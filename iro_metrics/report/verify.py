"""``iro-report verify``: prove that a published appendix reproduces.

Each ``appendix.ipynb`` is re-executed with nbval (``pytest --nbval`` in the current environment, with
the project's sanitiser file) and every cell's new outputs are compared with the published ones; then
``metrics.json`` and ``tables/*.csv`` beside it are compared with the figures the notebook recorded.
The result is reported cell by cell in plain words.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from iro_metrics.errors import UsageError
from iro_metrics.report.appendix import REPORT_SECTIONS

SANITISER = Path(__file__).parent / "nbval-sanitise.cfg"


@dataclass
class Outcome:
    notebook: Path
    cells: list[tuple[int, str, str]] = field(default_factory=list)  # (cell number, section, problem or "")
    consistency: list[str] = field(default_factory=list)  # problems; empty when all match

    @property
    def ok(self) -> bool:
        return not self.consistency and all(not problem for _, _, problem in self.cells) and bool(self.cells)

    def report(self) -> str:
        failed = [c for c in self.cells if c[2]]
        lines = [f"{self.notebook}: {'REPRODUCES' if self.ok else 'DOES NOT REPRODUCE'}"]
        if not self.cells:
            lines.append("  no cell was re-executed")
        elif failed:
            for number, section, problem in failed:
                lines.append(f"  cell {number} ({section}): {problem}")
            lines.append(f"  {len(self.cells) - len(failed)} of {len(self.cells)} cells gave the published outputs")
        else:
            lines.append(f"  all {len(self.cells)} cells gave the published outputs")
        lines += [f"  {p}" for p in self.consistency] or ["  metrics.json and the published tables match the notebook"]
        return "\n".join(lines)


def notebooks(path: str | Path) -> list[Path]:
    """``path`` itself, or every ``appendix.ipynb`` below a folder."""
    path = Path(path)
    if path.is_file():
        return [path]
    found = sorted(p for p in path.rglob("appendix.ipynb") if not any(part.startswith(".") for part in p.parts))
    if not found:
        raise UsageError(f"{path}: no appendix.ipynb found")
    return found


def _section_of(cell) -> str:
    for sid, title in REPORT_SECTIONS.items():
        if f'"{sid}"' in cell.source or f"A.{sid}(" in cell.source:
            return title
    if "setup(" in cell.source:
        return "loading the data and computing every figure"
    if "header(" in cell.source:
        return "title and contents"
    if "record(" in cell.source:
        return "the machine-readable record of the published figures"
    return "parameters" if "parameters" in cell.metadata.get("tags", []) or \
        "injected-parameters" in cell.metadata.get("tags", []) else "other"


def rerun(notebook: Path, workers: int = 1) -> list[tuple[int, str, str]]:
    """Re-execute with nbval; one (cell number, section, problem) per code cell."""
    notebook = notebook.resolve()
    nb = nbformat.read(notebook, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    with tempfile.TemporaryDirectory() as tmp:
        junit, ini = Path(tmp) / "junit.xml", Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        cmd = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
               str(SANITISER), "-c", str(ini), "--rootdir", str(notebook.parent), "-p", "no:cacheprovider",
               "-q", "--junitxml", str(junit), str(notebook)]
        if workers > 1:
            cmd += ["-n", str(workers), "--dist", "loadfile"]
        subprocess.run(cmd, capture_output=True, text=True, cwd=notebook.parent)
        if not junit.exists():
            return []
        results = {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            number = int(name.rsplit(" ", 1)[-1]) if name.rsplit(" ", 1)[-1].isdigit() else -1
            problem = ""
            for kind in ("failure", "error"):
                node = case.find(kind)
                if node is not None:
                    text = (node.get("message") or node.text or "").strip()
                    problem = ("the re-executed output differs from the published one" if kind == "failure"
                               else f"the cell failed to run: {text.splitlines()[0] if text else kind}")
            results[number] = problem
    return [(n, _section_of(code_cells[n]) if 0 <= n < len(code_cells) else "?", problem)
            for n, problem in sorted(results.items())]


def _recorded(nb) -> dict | None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "application/json" in out.get("data", {}):
                return out["data"]["application/json"]
    return None


def consistency(notebook: Path) -> list[str]:
    """Problems where ``metrics.json`` or ``tables/*.csv`` disagree with what the notebook recorded."""
    recorded = _recorded(nbformat.read(notebook, as_version=4))
    if recorded is None:
        return ["the notebook holds no record of its figures (built by an older version?)"]
    problems = []
    metrics = notebook.parent / "metrics.json"
    if not metrics.exists():
        problems.append("metrics.json is missing")
    else:
        published = json.loads(metrics.read_text(encoding="utf-8"))["indicators"]
        for key, value in recorded["indicators"].items():
            if published.get(key) != value:
                shown = (published.get(key) or {}).get("value")
                what = "its comparators differ" if shown == value.get("value") else \
                    f"it is {shown} but the notebook gives {value.get('value')}"
                problems.append(f"metrics.json: {key}: {what}")
    tables = notebook.parent / "tables"
    for name, rows in recorded["tables"].items():
        path = tables / f"{name}.csv"
        if not path.exists():
            problems.append(f"tables/{name}.csv is missing")
            continue
        with open(path, newline="", encoding="utf-8") as f:
            if list(csv.DictReader(f)) != [{k: str(v) for k, v in r.items()} for r in rows]:
                problems.append(f"tables/{name}.csv differs from the notebook's table")
    return problems


def verify(path: str | Path, workers: int = 1) -> list[Outcome]:
    return [Outcome(nb, rerun(nb, workers), consistency(nb)) for nb in notebooks(path)]
