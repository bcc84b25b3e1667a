# Two commands do everything on a fresh machine: `make report` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# DATA: the labelled CSV to run on; empty = data/train.csv(.gz), Kaggle download, or the bundled sample
DATA ?=
export PYTHONPATH := $(CURDIR)

.PHONY: all venv data report quick test lint bench clean

all: test

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

data: venv
	$(PY) -m mnist_assignment get-data

report: venv
	$(PY) -m mnist_assignment.report $(if $(DATA),--data $(DATA),)

quick: venv
	$(PY) -m mnist_assignment.report --quick --out build

lint: venv
	$(VENV)/bin/ruff check mnist_assignment tests bench scripts

test: lint
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/bench_load.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_loop.py $(if $(DATA),$(DATA),)
	$(PY) bench/bench_studies.py $(if $(DATA),$(DATA),)

clean:
	rm -rf build .pytest_cache .ruff_cache
