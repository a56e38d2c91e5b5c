# `make run` and `make test` are the two commands a newcomer needs (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing cobro (first run only, ~30 s)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/cobro dev

test: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/mypy .
	@$(BIN)/pytest

# Benchmark against a bare Temporal baseline (bench/README.md); e.g. BENCH_ARGS="--n 50".
.PHONY: bench
bench: $(STAMP)
	@$(BIN)/python -m bench.run $(BENCH_ARGS)

# Chaos suite: kill -9 / stop every process, PSP and webhook faults, each on a fresh stack,
# every payment checked against the simulator's ledger (bench/chaos.py); e.g. CHAOS_ARGS="--n 10".
.PHONY: chaos
chaos: $(STAMP)
	@$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/mypy .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
