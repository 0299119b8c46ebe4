# Luna: `make run` serves Luna with embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit install bench clean

run: $(STAMP)
	@mkdir -p var
	$(BIN)/luna db upgrade
	$(BIN)/luna demo
	$(BIN)/luna serve

test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP)
	$(BIN)/python bench/tools.py

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v 'is ignored' || true
	@$(BIN)/python -m pip install --quiet -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	@$(BIN)/python -c 'import luna, pytest, fastapi, sqlalchemy' 
	@touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
