# The two commands of the README: `make run` (install, then bootstrap a fixture DAG on the defaults)
# and `make test` (install everything the tests need, anvil and ajv from npm included; lint and type-check, then run them).
PYTHON ?= python3
VENV := .venv
ANVIL_VERSION := 1.7.1
ANVIL := .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
# Ajv checks the schemas as editors and SchemaStore read them (tests/test_schemas.py); ajv pinned under ajv-cli.
AJV_CLI_VERSION := 5.0.0
AJV_VERSION := 8.17.1
AJV := .tools/node_modules/.bin/ajv

.PHONY: run test lint install bench schemas

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[cryo,test,ray]'

$(ANVIL):
	npm install --silent --no-audit --no-fund --prefix .tools @foundry-rs/anvil-linux-amd64@$(ANVIL_VERSION)

$(AJV):
	npm install --silent --no-audit --no-fund --save-exact --prefix .tools ajv-cli@$(AJV_CLI_VERSION) ajv@$(AJV_VERSION)

# After a change to the job schema: schemas/ is built from it (tests/test_schemas.py fails until it is).
schemas: install
	$(VENV)/bin/python -m cryo_ingest.job.dag_schema schemas

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint $(ANVIL) $(AJV)
	$(VENV)/bin/python -m pytest

run: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check .
	$(VENV)/bin/cryo-ingest run fixtures/dags/valid/bootstrap.yaml --job cryo_bootstrap

bench: install $(ANVIL)
	$(VENV)/bin/python benchmarks/run.py
