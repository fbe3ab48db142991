# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: run test install locales bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What serving needs, and nothing else.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

# The test tools on top (pytest, hypothesis, Playwright).
$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(TEST_STAMP)

## run: set up, migrate, load the committee tree, prepare the classifier, create the first admin, serve on 127.0.0.1:8000
run: $(RUN_STAMP)
	$(BIN)/phananh db upgrade
	$(BIN)/phananh serve --no-migrate

## test: set up with the test tools and run the whole test suite (PHANANH_TEST_DATABASE_URL adds PostgreSQL)
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## locales: extract msgids and update the vi/en catalogs (fails when a Vietnamese string is missing)
locales: install
	$(BIN)/python scripts/update_locales.py

## bench: conversation steps per second and server memory
bench: install
	$(BIN)/python -m bench.conversation

clean:
	rm -rf $(VENV) var .pytest_cache
