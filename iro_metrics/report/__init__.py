"""Building a council's outputs from its params file."""

from iro_metrics.report.startup import defer_iri_grammar

defer_iri_grammar()  # before anything here imports nbformat
