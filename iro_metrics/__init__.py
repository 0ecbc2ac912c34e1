"""iro_metrics: the statistical appendix of the IRO annual report, reproducibly.

Reads a council's SSDA903 return and IRO service records, validates them, and computes the
indicators defined in the project's metric specification (see ``docs/definitions.md``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iro-metrics")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
