"""The files the package ships (code lists, table layouts, the DfE comparator tables): where they are,
and reading the YAML ones. Importing this module is cheap (no pandas), so a commentary-only rebuild
can fingerprint its inputs without loading the data stack."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

#: the DfE comparator tables and their sources (:mod:`iro_metrics.comparators`)
COMPARATORS = Path(__file__).parent / "comparators" / "data"
#: libyaml's parser when PyYAML was built with it (its wheels are), about 8x faster; the same results
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path):
    """The contents of a shipped YAML file. A council's own files (params) go through
    :mod:`iro_metrics.report.params`, whose loader names the line of a mistake."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader


def sha256_file(path: Path) -> str:
    """Any file's SHA-256 (a council's data and params too: the manifest fingerprints them without pandas)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
