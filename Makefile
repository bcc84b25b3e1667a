# `make report` runs the notebook and prints report.pdf; `make test` (in the repository, with tests/) checks everything.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# DATA: the labelled CSV to run on; empty = data/train.csv(.gz), Kaggle download, or the bundled sample
DATA ?=
export PYTHONPATH := $(CURDIR)

# TEAM: the team's ids joined by "_"; NAMES: the members' names (both written into the notebook's title block)
TEAM ?=
NAMES ?=
export NAMES

.PHONY: all venv data lab report quick submission test lint bench clean

all: test

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: the pinned packages \
	need Python 3.11 or newer; name one with PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
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
	$(PY) -m mnist_assignment.report --quick --out build

submission: venv
	$(PY) -m mnist_assignment.submission $(if $(TEAM),"$(TEAM)",) $(if $(NAMES),--names "$$NAMES",)

lint: venv
	$(VENV)/bin/ruff check mnist_assignment tests bench scripts mnist_assignment.ipynb

test: lint
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/bench_cli.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_load.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_loop.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_studies.py $(if $(DATA),$(DATA),) --sweep lr --epochs 20
	$(PY) bench/bench_schedule.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_presets.py $(if $(DATA),$(DATA),)

clean:
	rm -rf build .pytest_cache .ruff_cache
