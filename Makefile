# Two commands matter: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Without DAGSTER_HOME, Dagster uses a temporary instance deleted on exit: every import
# ledger and sensor cursor would vanish. Keep a persistent, git-ignored one by default.
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: demo test lint bench venv clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

demo: $(BIN)/.installed
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/cleanlist-pipeline demo

test: $(BIN)/.installed
	@mkdir -p "$(DAGSTER_HOME)"
	@scripts/ensure-postgres.sh
	@scripts/ensure-redis.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/.installed
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
