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

# The Lambda package's architecture: aarch64 matches the template's arm64.
LAMBDA_ARCH ?= aarch64
# The same architecture under SAM's name, so that `sam build` says (and records) what it builds.
SAM_ARCHITECTURE = $(if $(filter aarch64 arm64,$(LAMBDA_ARCH)),arm64,x86_64)
# The runtime's CPython 3.13 for the package build; empty: functions/api/Makefile finds one.
RUNTIME_PYTHON ?=

.PHONY: run test lint typecheck validate unit requirements build clean bench artifact-check bench-cold

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

## sam-local: `make run`, but the API is the built package under `sam local start-api` on
## http://127.0.0.1:3000 (Docker); docs/sam-local.md
.PHONY: sam-local lambda-base-image
sam-local: $(STAMP) $(SAM_STAMP)
	$(BIN)/python -m infra.sam_local

## lambda-base-image: an offline stand-in for the Lambda Python 3.13 base image (root,
## debootstrap, Docker); `make sam-local` builds it when the official image cannot be pulled
lambda-base-image: $(STAMP)
	$(BIN)/python -m infra.lambda_base_image

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

## bench: every benchmark (cold start, warm latency, login timing, memory, AWS calls,
## load); writes BENCHMARKS.md. Needs a CPython 3.13 for the package (RUNTIME_PYTHON).
bench: $(STAMP)
	$(BIN)/python -m bench

requirements: $(STAMP)
	$(BIN)/python -m infra.requirements

## build: `sam build` without Docker (makefile build method, functions/api/Makefile);
## LAMBDA_ARCH=x86_64 for an x86_64 function, RUNTIME_PYTHON=/path/to/python3.13 if not found.
## `requirements` writes functions/api/requirements.txt (unused by the build) so that SAM's
## build cache, keyed on the CodeUri directory, notices dependency changes in pyproject.toml.
build: requirements $(SAM_STAMP)
	LAMBDA_ARCH=$(LAMBDA_ARCH) $(if $(RUNTIME_PYTHON),RUNTIME_PYTHON=$(RUNTIME_PYTHON)) $(SAM) build \
		--parameter-overrides Architecture=$(SAM_ARCHITECTURE)

## artifact-check: build the x86_64 package and run it on an isolated CPython 3.13
artifact-check: $(STAMP)
	$(BIN)/pytest -m build tests/build

## bench-cold: only the cold start of the built package; rewrites its BENCHMARKS.md section
bench-cold: $(STAMP)
	$(BIN)/python -m bench.cold_start

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache functions/api/requirements.txt
