# Two commands on a fresh machine (Python >= 3.11 and make):
#   make book   build the HTML book into _build/html
#   make test   unit + property tests of gdlab, every chapter under nbval, and the strict book build
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt code/pyproject.toml | cksum | cut -d" " -f1)
JB_FLAGS := --all -W -n --keep-going

.PHONY: setup book test bench bench-deps clean clean-env

$(STAMP): requirements.txt constraints.txt code/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "set-up error: '$(PYTHON)' must be Python >= 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)
	@$(PY) tools/check_env.py

book: setup
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	@echo "Book built: open _build/html/index.html"

test: setup
	$(PY) -m pytest

# `make bench`: sweep engines vs a JAX peer and a hand-written kernel, scaling, per-chapter times;
# writes benchmarks/results/bench.json and bench.png (shown by the book's Performance page).
# The JAX peer needs `make bench-deps` (optional, benchmark only); without it it is skipped.
bench: setup
	$(PY) benchmarks/bench_sweep.py --cold-compile --scaling --chapters --out benchmarks/results

bench-deps: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements-bench.txt -c constraints.txt

clean:
	rm -rf _build .pytest_cache .hypothesis .benchmarks

clean-env:
	rm -rf $(VENV)
