"""``iro-report build``: one council and year's outputs, written atomically.

Writes ``outputs/<council>/<year>/``: ``metrics.json`` (the management-information document, as
``iro-report metrics``) and ``tables/*.csv`` (the breakdown tables as published, with disclosure
control). Everything is built in a temporary folder beside the target and swapped in at the end, so a
build that fails part-way leaves the previous good outputs untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from iro_metrics.ingest.load import load_council
from iro_metrics.metrics import compute_all, to_json
from iro_metrics.model import build_model
from iro_metrics.present.publish import publish_tables, write_tables
from iro_metrics.report.params import load_params


def output_dir(root: str | Path, council_slug: str, year: str) -> Path:
    return Path(root) / council_slug / year


def build(params_path: str | Path, outputs: str | Path = "outputs") -> Path:
    """Build the outputs of one params file; returns their folder."""
    params, data_dir = load_params(params_path)
    data = load_council(data_dir, params.year, la=params.la)
    model = build_model(data, population=params.population)
    indicators, tables = compute_all(model)
    doc = to_json(model, council=params.council, computed=(indicators, tables))
    target = output_dir(outputs, params.slug, params.year)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        (work / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        write_tables(publish_tables(tables, threshold=params.suppression_threshold), work / "tables")
        _swap(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _swap(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new``; the old one is removed only once the new one is in place."""
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
