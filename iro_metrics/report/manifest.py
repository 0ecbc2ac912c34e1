"""The build manifest (``build.json``): the SHA-256 of everything a council-year's outputs depend on
(the params file, the commentary file, every input file up to the year, a council's own comparator
file, the notebook template, the shipped comparator tables, the package version) and their combined
fingerprint, and the versions of the software that made them (the appendix's provenance table points
here). ``build-all`` skips a council-year whose fingerprint is unchanged."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from iro_metrics import __version__
from iro_metrics.report.commentary import commentary_path
from iro_metrics.report.params import load_params
from iro_metrics.shipped import COMPARATORS, sha256_file
from iro_metrics.years import CollectionYear, is_year_label

MANIFEST = "build.json"
#: the software whose version is recorded beside the inputs
PACKAGES = ["iro-metrics", "pandas", "numpy", "holidays", "matplotlib", "seaborn", "papermill", "nbconvert",
            "pypandoc_binary", "typst", "gptables", "odfpy"]


def _version(package: str) -> str:
    if package == "iro-metrics":
        return __version__
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def _shared_inputs() -> dict[str, str]:
    """What every council's outputs depend on: the shipped tables, the code (its version, which an
    editable install or a pull does not change, and the SHA-256 of every file of the package) and
    the versions of the software it runs on."""
    files = {f"comparators/{p.name}": sha256_file(p) for p in sorted(COMPARATORS.iterdir()) if p.is_file()}
    files["iro-metrics"] = __version__
    package = Path(__file__).resolve().parents[1]
    code = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        code.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    files["iro-metrics code"] = code.hexdigest()
    files.update({f"software/{p}": _version(p) for p in PACKAGES if p != "iro-metrics"})
    return files


#: outputs whose SHA-256 build.json records, so that a rebuild that reuses them can tell they are untouched
REUSED = ("metrics.json", "tables.xlsx", "tables.ods", "tables")


def output_hashes(folder: Path) -> dict[str, str]:
    """The SHA-256 of the outputs a commentary-only rebuild reuses (``tables/`` file by file)."""
    out = {}
    for name in REUSED:
        path = folder / name
        for f in sorted(path.rglob("*.csv")) if path.is_dir() else [path]:
            if f.is_file():
                out[f.relative_to(folder).as_posix()] = sha256_file(f)
    return out


def manifest(params_path: str | Path, notebook: Path) -> dict:
    """The inputs of one council-year built from ``notebook``, each with its SHA-256, and their
    combined fingerprint."""
    params_path = Path(params_path)
    params, data_dir = load_params(params_path)
    year = CollectionYear.parse(params.year)
    inputs = {"params": sha256_file(params_path), f"template/{notebook.name}": sha256_file(notebook)}
    notes = commentary_path(params_path)
    inputs["commentary"] = sha256_file(notes) if notes.exists() else "none"
    for path in sorted(data_dir.rglob("*.csv")):
        rel = path.relative_to(data_dir)
        top = rel.parts[0] if len(rel.parts) > 1 else ""
        if top and is_year_label(top) and CollectionYear.parse(top) > year:
            continue  # a later return does not change this year's outputs
        inputs[f"data/{rel.as_posix()}"] = sha256_file(path)
    if params.comparators:
        inputs["local comparators"] = sha256_file(params_path.parent / params.comparators)
    if params.population_by_ethnicity and (params_path.parent / params.population_by_ethnicity).is_file():
        inputs["population by ethnicity"] = sha256_file(params_path.parent / params.population_by_ethnicity)
    if params.reference_docx:
        inputs["reference.docx"] = sha256_file(params_path.parent / params.reference_docx)
    inputs.update(_shared_inputs())
    fingerprint = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return {"fingerprint": fingerprint, "inputs": inputs, "software": {p: _version(p) for p in PACKAGES}}
