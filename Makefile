# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make demo   creates .venv, installs typedgpt, runs `typedgpt demo`
#   make test   creates .venv, installs the dev extra, runs ruff, mypy --strict, pytest, mkdocs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "typedgpt needs Python 3.11 or newer: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/typedgpt demo

test: $(VENV)/.installed-dev
	$(BIN)/ruff check typedgpt tests benchmarks stubs
	$(BIN)/ruff format --check typedgpt tests benchmarks stubs
	$(BIN)/mypy --strict typedgpt tests
	$(BIN)/pytest -q -n 2 --dist loadfile
	$(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

# One process: the benchmarks time themselves.
bench: $(VENV)/.installed-dev
	$(BIN)/pytest -q -m slow

clean:
	rm -rf $(VENV) site .mypy_cache .pytest_cache .ruff_cache
