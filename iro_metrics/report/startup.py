"""Import-time work the report's command lines should not pay for.

Reading a notebook imports nbformat, which imports jsonschema, which imports ``rfc3987_syntax`` for
its ``iri`` format check: that module compiles about 35 Earley grammars when imported, 1.4 to 1.8 s
on this kind of machine (jsonschema#1428, nbformat#420), in every process that reads a notebook,
although no notebook schema uses that format. :func:`defer_iri_grammar` puts in its place a module
whose one function (the only one jsonschema uses) imports the real module on its first call.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types

_NAME = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Defer importing ``rfc3987_syntax`` until an ``iri`` format is checked (never, for a notebook)."""
    if _NAME in sys.modules:
        return
    try:
        if importlib.util.find_spec(_NAME) is None:
            return
    except (ImportError, ValueError):
        return
    real: list[types.ModuleType | None] = []
    lock = threading.Lock()

    def is_valid_syntax(term: str, value: str) -> bool:
        with lock:
            if not real:
                if sys.modules.get(_NAME) is stub:
                    del sys.modules[_NAME]
                try:
                    real.append(importlib.import_module(_NAME))
                except ImportError:  # as jsonschema does without it: the format is not checked
                    real.append(None)
        return True if real[0] is None else real[0].is_valid_syntax(term, value)

    stub = types.ModuleType(_NAME, "stands in for rfc3987_syntax until it is needed (iro_metrics.report.startup)")
    stub.__spec__ = importlib.machinery.ModuleSpec(_NAME, None)
    stub.is_valid_syntax = is_valid_syntax
    sys.modules[_NAME] = stub
