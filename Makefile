# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install run test bench clean

install: $(VENV)/.installed

# llama.cpp compiles for the CPU it is built on unless told otherwise, and a
# binary with AMX or AVX-512 dies with "Illegal instruction" on a VM that
# hides them. Build it for any x86-64 with AVX2, from source, never from pip's
# wheel cache (a cached wheel keeps whatever flags it was built with).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF
LLAMA_PIN = $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)

# Re-install whenever the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet \
	    --no-cache-dir --no-binary llama-cpp-python '$(LLAMA_PIN)'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/hermes serve

# The whole suite on SQLite (the embedded default), then every test that touches the
# store again on a throw-away PostgreSQL server (tests/postgres.py; skipped, saying
# why, where PostgreSQL's server is not installed).
test: install
	$(BIN)/python -m pytest
	HERMES_TEST_DB=postgresql $(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/money.py
	$(BIN)/python bench/agent_turn.py
	$(BIN)/python bench/history_steps.py
	$(BIN)/python bench/cascade.py
	$(BIN)/python bench/scorer.py
	$(BIN)/python bench/self_consistency.py
	$(BIN)/python bench/logprobs.py
	$(BIN)/python bench/run.py
	$(BIN)/python bench/proxy_compare.py
	$(BIN)/python bench/workers.py
	$(BIN)/python bench/dialects_compare.py

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
