# The two commands a user needs: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUITE  ?= criteo
ARGS   ?=

.PHONY: setup run test test-fast lint bench clean

setup: $(STAMP)

# Exact pins from requirements.lock; torch==2.13.0 resolves to the CPU wheel on CPU machines.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/harness run --suite $(SUITE) $(ARGS)

# Everything CI runs: lint, types, and every test (slow ones included).
test: $(STAMP) lint
	$(BIN)/python -m pytest $(ARGS)

# The quick loop while developing: no end-to-end, Ray or real-data tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness tests benchmarks
	$(BIN)/ruff format --check harness tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
