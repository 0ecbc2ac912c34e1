# Two commands do all the set-up on a fresh machine that has only Python 3.11+:
#   make demo   build the synthetic Demo Borough's outputs (calibrated to Southwark's published figures)
#   make test   run the whole test suite
# Every install goes through constraints.txt, so two machines install the same versions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DATA := data/demo-borough
DEMO_YEAR := 2024-25

.PHONY: install demo test test-quick bench lab clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,dask]"
	touch $@

install: $(VENV)/.installed

$(DEMO_DATA)/$(DEMO_YEAR): | $(VENV)/.installed
	$(BIN)/iro-report synth --like E09000028 --out $(DEMO_DATA)

demo: install $(DEMO_DATA)/$(DEMO_YEAR)
	$(BIN)/iro-report validate --data $(DEMO_DATA) --year $(DEMO_YEAR)
	$(BIN)/iro-report build params/demo-borough/$(DEMO_YEAR).yaml

test: install
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/a11y --no-audit --no-fund --silent; fi
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# A developer's quick loop: everything but the slow tests and those that build an appendix
test-quick: install
	$(BIN)/python -m pytest -n 2 -q -m "not slow and not build"

# JupyterLab on the outputs, to write commentary in the narrative cells (then `iro-report harvest`)
lab: install
	$(BIN)/iro-report lab

bench: install
	$(BIN)/python benchmarks/bench.py

# Regenerate constraints.txt from a fresh environment (on purpose only, then commit it).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade "pip>=24"
	.lockenv/bin/python -m pip install --quiet ".[test,dask]"
	.lockenv/bin/python -m pip freeze --exclude iro-metrics | sort > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) build *.egg-info
