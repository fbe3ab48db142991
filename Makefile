# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test install locales bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: set up, migrate, load the committee tree, create the first admin, serve on 127.0.0.1:8000
run: install
	$(BIN)/phananh serve

## test: set up and run the whole test suite (PHANANH_TEST_DATABASE_URL adds PostgreSQL)
test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## locales: extract msgids and update the vi/en catalogs (fails when a Vietnamese string is missing)
locales: install
	$(BIN)/python scripts/update_locales.py

## bench: conversation steps per second and server memory
bench: install
	$(BIN)/python -m bench.conversation

clean:
	rm -rf $(VENV) var .pytest_cache
