# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install run test bench clean

install: $(VENV)/.installed

# Re-install whenever the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/hermes serve

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/money.py
	$(BIN)/python bench/cascade.py
	$(BIN)/python bench/scorer.py
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
