# The two quick-start commands: `make run` and `make test`.
# `run` installs only what the daemon needs; `test` adds the test and lint tools.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/monitor.toml

.PHONY: run test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(BIN)/.installed-run

run: $(BIN)/.installed-run
	$(BIN)/newsmonitor run --config $(CONFIG)

test: $(BIN)/.installed-test
	$(BIN)/python -m pytest

lint: $(BIN)/.installed-test
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
