# careroute: the two commands of the quick start are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export CAREROUTE_DATABASE_URL ?= sqlite:///var/careroute.db

.PHONY: run test check lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Run the service on an embedded SQLite file with the starter rule pack and demo data.
run: $(VENV)/.installed
	mkdir -p var
	$(BIN)/careroute migrate
	$(BIN)/careroute demo load
	$(BIN)/careroute serve --demo --host $(HOST) --port $(PORT)

## Install what the tests need and run them (SQLite, and PostgreSQL when one answers).
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## Lint and type-check, as CI does.
check: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	for b in intake classify dedup assignment escalation metrics pages latency memory scale_out; do $(BIN)/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
