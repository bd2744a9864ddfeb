# The two commands of the README: `make run` (install, then bootstrap a fixture DAG on the defaults)
# and `make test` (install everything the tests need, anvil from npm included; lint and type-check, then run them).
PYTHON ?= python3
VENV := .venv
ANVIL_VERSION := 1.7.1
ANVIL := .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: run test lint install bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[cryo,test,ray]'

$(ANVIL):
	npm install --silent --no-audit --no-fund --prefix .tools @foundry-rs/anvil-linux-amd64@$(ANVIL_VERSION)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint $(ANVIL)
	$(VENV)/bin/python -m pytest

run: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check .
	$(VENV)/bin/cryo-ingest run fixtures/dags/valid/bootstrap.yaml --job cryo_bootstrap

bench: install $(ANVIL)
	$(VENV)/bin/python benchmarks/run.py
