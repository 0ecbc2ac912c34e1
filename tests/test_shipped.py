"""The YAML files the package ships read the same with libyaml's parser as with PyYAML's own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import iro_metrics
from iro_metrics.shipped import read_yaml

SHIPPED = sorted(Path(iro_metrics.__file__).parent.rglob("*.yaml"))


def test_every_shipped_yaml_file_is_found():
    assert {p.name for p in SHIPPED} >= {"codes.yaml", "tables.yaml", "indicators.yaml", "sources.yaml",
                                         "dfe_categories.yaml", "like.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_read_as_pyyaml_reads_it(path):
    assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))
