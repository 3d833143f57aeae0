# Giftwell. `make run` starts it on SQLite; `make test` runs lint, types and the whole suite;
# `make bench` runs the benchmarks. Each installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint typecheck pytest bench soak clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --disable-pip-version-check "uv>=0.13,<0.14" || $(TOOLS)/bin/pip install -q uv

$(BIN)/giftwell: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) -q
	@touch $@

install: $(BIN)/giftwell

run: install
	$(BIN)/giftwell demo
	$(BIN)/giftwell serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	scripts/ensure-system-deps.sh postgres pgbouncer chromium axe
	$(BIN)/pytest

test: lint typecheck pytest

# The soak: a million operations on each database with 100 kill -9s of the server (and of a
# worker on PostgreSQL), a PostgreSQL restart, flaky SMTP and webhook receivers, cards expiring;
# a progress line every 10 s, the figures at the end (soak-results.json). Hours on a 2-core
# machine; SOAK_ARGS="--ops 100000 --kills 10" for less, "--db sqlite" for one database.
soak: install
	scripts/ensure-system-deps.sh postgres
	$(BIN)/python -m tests.soak $(SOAK_ARGS)

bench: install
	scripts/ensure-system-deps.sh postgres pgbouncer wrk
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
