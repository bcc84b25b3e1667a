# `make lab` opens the notebook; `make report` runs it and prints report.pdf; `make quick` is a smoke run under
# build/quick/; `make submission` zips the team's deliverable.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# the modules the notebook and the report load, torch's apart (torch._dynamo: it loads at an optimizer's first step)
TORCH := torch torch._dynamo
IMPORTED := numpy pandas scipy.stats sklearn.model_selection sklearn.metrics matplotlib.pyplot \
  matplotlib_inline.backend_inline cloudpickle joblib.externals.loky nbformat nbclient nbconvert ipykernel.kernelapp \
  IPython pypdf
# DATA: the labelled CSV to run on; empty = data/train.csv(.gz), Kaggle download, or the bundled sample
DATA ?=
export PYTHONPATH := $(CURDIR)

# TEAM: the team's ids joined by "_"; NAMES: the members' names (both written into the notebook's title block)
TEAM ?=
NAMES ?=
export NAMES

.PHONY: venv data lab report quick submission clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: the pinned packages \
	need Python 3.11 or newer; name one with PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# uv installs the pinned stack in about a third of pip's time, from the sources pip is configured with
	@# (mnist_assignment/install.py); pip installs it where uv cannot
	{ $(PY) -m pip install -q uv==0.13.9 && $(VENV)/bin/uv pip install -q --python $(PY) \
	  $$($(PY) -m mnist_assignment.install) -r requirements.txt; } \
	  || { echo "uv could not install requirements.txt: pip installs it"; \
	  $(PY) -m pip install -q --no-compile -r requirements.txt; }
	@# byte-code for what the project imports, not pip's for all ~13,000 modules installed (a minute more on
	@# 2 cores); written even where PYTHONDONTWRITEBYTECODE is set, else each process recompiles (seconds);
	@# torch in a second process beside the rest: half the time on two cores
	export PYTHONDONTWRITEBYTECODE=; load='import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]'; \
	  $(PY) -c "$$load" $(TORCH) & torch=$$!; $(PY) -c "$$load" $(IMPORTED) && wait $$torch
	touch $(STAMP)

venv: $(STAMP)

data: venv
	$(PY) -m mnist_assignment get-data

lab: venv
	$(VENV)/bin/jupyter lab mnist_assignment.ipynb

report: venv
	$(PY) -m mnist_assignment.report $(if $(DATA),--data $(DATA),) $(if $(TEAM),--team $(TEAM),) \
	  $(if $(NAMES),--names "$$NAMES",)

quick: venv
	$(PY) -m mnist_assignment.report --quick

# ANYWAY=1: zip a run that differs from the one the notebook's text describes (the text is then the team's to rewrite)
ANYWAY ?=
submission: venv
	$(PY) -m mnist_assignment.submission $(if $(TEAM),"$(TEAM)",) $(if $(NAMES),--names "$$NAMES",) \
	  $(if $(ANYWAY),--anyway,)

clean::
	rm -rf build

# ---- the repository's own checks: the team's zip carries this Makefile down to the line above (submission.py)
# `make test` = ruff, then pytest over tests/ (CI's .ci/run calls exactly this); `make bench`: bench/README.md
.PHONY: all test lint bench
IMPORTED += pytest xdist.plugin xdist.looponfail execnet  # and what `make test` loads
.DEFAULT_GOAL := all

all: test

lint: venv
	$(VENV)/bin/ruff check mnist_assignment tests bench scripts mnist_assignment.ipynb

# byte-code written by the first process to import a module, even where PYTHONDONTWRITEBYTECODE is set: the
# kernels, workers and commands the tests start (debugpy, pygments, pytest's plugins ...) do not each recompile it;
# files in the order tests/conftest.py gives (xdist would otherwise start the files with the most tests first)
test: lint
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

bench: venv
	$(PY) bench/bench_cli.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_loop.py $(if $(DATA),$(DATA),)

clean::
	rm -rf .pytest_cache .ruff_cache
