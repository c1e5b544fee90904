# The few commands a newcomer needs. `make test` sets everything up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= auto

.PHONY: install demo demo-regression test test-fast lint format notebooks-strip clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# `optjax train` with its defaults: an MLP on scikit-learn's 8x8 digits with Adam.
demo: $(STAMP)
	$(BIN)/optjax train

# The tutorial's linear regression: eight optimizers against the closed form.
demo-regression: $(STAMP)
	$(BIN)/python -m optjax.demo

test: $(STAMP)
	$(BIN)/ruff check optjax tests benchmarks tools notebooks
	$(BIN)/python -m pytest -n $(JOBS) -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q -m "not slow" -x

lint: $(STAMP)
	$(BIN)/ruff check optjax tests benchmarks tools notebooks
	$(BIN)/ruff format --check optjax tests benchmarks tools notebooks

format: $(STAMP)
	$(BIN)/ruff format optjax tests benchmarks tools notebooks
	$(BIN)/ruff check --fix optjax tests benchmarks tools notebooks

# Drop outputs and execution counts from notebooks/ before committing them.
notebooks-strip: $(STAMP)
	$(BIN)/python tools/notebooks.py strip

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
