# Two commands on a fresh machine (Python >= 3.11 and make):
#   make book   build the HTML book into _build/html
#   make test   unit + property tests of gdlab, every chapter under nbval, and the strict book build
#   make notebooks  the book, plus every chapter as a plain Jupyter notebook in _build/notebooks
#   make lab        JupyterLab on the chapters (a chapter's .md opens as a notebook)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt code/pyproject.toml | cksum | cut -d" " -f1)
JB_FLAGS := --all -W -n --keep-going

.PHONY: setup book test bench bench-deps clean clean-env notebooks lab experiments

$(STAMP): requirements.txt constraints.txt code/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "set-up error: '$(PYTHON)' must be Python >= 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)
	@$(PY) tools/check_env.py

# tools/execute_chapters.py first executes the chapters the execution cache lacks, one per core; the
# build then renders them from the cache (it would execute them one after another). A chapter that
# fails stops make book there, with its traceback (the other chapters' runs are kept in the cache).
book: setup
	$(PY) tools/execute_chapters.py
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)
	@echo "Book built: open _build/html/index.html"

test: setup
	$(PY) -m pytest

# The plain notebooks are exported at the end of every build (_ext/course_tools.py runs
# tools/export_notebooks.py); the book's download menu offers them.
notebooks: book
	@ls _build/notebooks/*.ipynb
	@echo "Plain notebooks written to _build/notebooks/ (the book's download menu offers the same files)"

# JupyterLab on the chapters. jupytext's extension serves a chapter's .md as a notebook; the settings
# override makes a double click open it as one. Kernels run without GDLAB_STRICT: an overflow during
# exploration is shown as a warning, not raised. LAB_FLAGS=--no-browser etc. are passed through.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
lab: setup
	@mkdir -p $(dir $(LAB_SETTINGS))
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' > $(LAB_SETTINGS)
	env -u GDLAB_STRICT $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) --ServerApp.default_url=/lab/tree/chapters $(LAB_FLAGS)

# `make bench`: sweep engines vs a JAX peer and a hand-written kernel, scaling, per-chapter times;
# writes benchmarks/results/bench.json and bench.png (shown by the book's Performance page).
# The JAX peer needs `make bench-deps` (optional, benchmark only); without it it is skipped.
bench: setup
	$(PY) benchmarks/bench_sweep.py --cold-compile --scaling --chapters --out benchmarks/results

bench-deps: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements-bench.txt -c constraints.txt

# `make experiments`: the paper-scale sweeps too slow for a chapter (minutes, every core); each writes
# a small results file with its provenance into chapters/data/, which the chapters read and spot-check.
experiments: setup
	$(PY) experiments/ch3_mlp_digits.py

clean:
	rm -rf _build .pytest_cache .hypothesis .benchmarks

clean-env:
	rm -rf $(VENV)

# ---- course editions (see _ext/course_edition.py and _ext/build_edition.py) -----------------------
# make student    the student edition: every exercise, no solution (_build/student/html)
# make solutions  the instructor edition (= make book): solutions under each exercise + solutions manual
# make pdf        the whole instructor edition as one PDF (_build/pdf/book.pdf), via headless Chromium
.PHONY: student solutions pdf

student: setup
	$(PY) tools/execute_chapters.py
	$(PY) _ext/build_edition.py student

solutions: book

pdf: setup
	$(PY) tools/execute_chapters.py
	$(PY) _ext/build_edition.py pdf
