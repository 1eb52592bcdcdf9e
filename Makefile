# Every target creates the environment it needs; nothing has to be installed by hand
# except Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# aws-sam-cli pins its own versions of boto3 and friends, so it gets its own venv
# and never constrains the application's dependencies.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed

.PHONY: run test lint typecheck validate unit requirements build clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(SAM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet --group sam
	touch $@

## run: the API on http://127.0.0.1:8000 with an embedded local AWS and a seeded admin
run: $(STAMP)
	$(BIN)/python -m infra.local

## test: lint, type checks, template validation and the whole test suite
test: lint typecheck validate unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(SAM_STAMP)
	$(SAM) validate --lint --region us-east-1

unit: $(STAMP)
	$(BIN)/pytest

## bench: login timing (unknown user vs wrong password vs success); writes BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python -m bench.login_timing

requirements: $(STAMP)
	$(BIN)/python -m infra.requirements

build: requirements $(SAM_STAMP)
	$(SAM) build

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache functions/api/requirements.txt
