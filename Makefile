# Folio: the commands of the README quick start (README.md, "Quick start").
#
#   make run          the whole stack in the foreground (Ctrl-C stops it)
#   make test         the test suite (PYTEST_ARGS="-k something" to narrow it)
#   make bench        the benchmarks in bench/
#   make lint         ruff, then the dependency audit where its database is reachable
#   make worker       one more RQ worker (against `make run`'s queue or REDIS_URL)
#   make migrations-check, make reliability
#
# Needs only Python (3.11+) and make: the first target creates .venv with $(PYTHON) and installs
# the requirements, again only when a requirements file changed. PYTHON=python3.12 picks another
# interpreter (the venv is rebuilt when its version differs). Works from any directory with
# `make -f path/to/Makefile`.

PYTHON ?= python3
PORT ?= 8000
PYTEST_ARGS ?=

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
MANAGE := $(PY) $(ROOT)/manage.py
TOOLS_VENV := $(VENV)/tools/pip-audit
PIP_FLAGS := --disable-pip-version-check --no-input

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

.PHONY: help run test bench lint worker migrations-check reliability clean-venv

help:
	@echo "make run | test | bench | lint | worker | migrations-check | reliability"
	@echo "  run: migrate, demo login, embedded valkey, one worker, web on 127.0.0.1:\$$PORT ($(PORT))"

# --- The virtual environment --------------------------------------------------------------------
# $(call setup,REQUIREMENTS...): scripts/setup-venv.sh makes sure .venv exists, has the Python that
# PYTHON names (when PYTHON was given) and has the requirements installed (pip runs only when a
# requirements file or the Python version changed).
setup = "$(ROOT)/scripts/setup-venv.sh" "$(PYTHON)" "$(if $(filter file,$(origin PYTHON)),no,yes)" $(1)

clean-venv:
	rm -rf "$(VENV)"

# --- Commands -----------------------------------------------------------------------------------
run:
	@$(call setup,requirements.txt)
	cd "$(ROOT)" && DJANGO_DEBUG=1 PORT="$(PORT)" $(MANAGE) runstack

worker:
	@$(call setup,requirements.txt)
	cd "$(ROOT)" && $(MANAGE) runstack --worker-only

# pytest exits 5 when it collected nothing (an empty selection): that is not a failure.
# The suite makes its own throw-away data directory: an exported FOLIO_DATA_DIR (a real
# instance's) is never handed to it. DATABASE_URL and REDIS_URL are, on purpose.
test:
	@$(call setup,requirements-dev.txt)
	@cd "$(ROOT)"; unset DJANGO_SETTINGS_MODULE FOLIO_DATA_DIR; \
	status=0; "$(PY)" -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "pytest collected no tests."; status=0; fi; \
	exit "$$status"

reliability:
	@$(call setup,requirements-dev.txt)
	@cd "$(ROOT)"; unset DJANGO_SETTINGS_MODULE FOLIO_DATA_DIR; \
	status=0; "$(PY)" -m pytest -m reliability --reliability-report=docs/reliability.md \
	  $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "No reliability tests yet."; status=0; fi; \
	echo "Summary written to docs/reliability.md"; \
	exit "$$status"

migrations-check:
	@$(call setup,requirements.txt)
	cd "$(ROOT)" && FOLIO_DATA_DIR="$$(mktemp -d)" $(MANAGE) makemigrations --check --dry-run

# Every bench/*.py whose name does not start with "_" runs in turn; the target fails if one did.
# bench/soak.py runs for SOAK_MINUTES (make bench SOAK_MINUTES=20); without it, it is skipped.
SOAK_MINUTES ?=
bench:
	@$(call setup,requirements-dev.txt)
	@cd "$(ROOT)"; export PYTHONPATH="$(ROOT)"; \
	shopt -s nullglob; scripts=(bench/[!_]*.py); \
	if [ "$${#scripts[@]}" -eq 0 ]; then echo "No benchmarks in bench/ yet."; exit 0; fi; \
	failed=0; \
	for script in "$${scripts[@]}"; do \
	  args=(); \
	  if [ "$$script" = bench/soak.py ]; then \
	    if [ -z "$(SOAK_MINUTES)" ]; then echo "==> $$script skipped (make bench SOAK_MINUTES=20)"; continue; fi; \
	    args=(--minutes "$(SOAK_MINUTES)"); \
	  fi; \
	  echo "==> $$script"; \
	  "$(PY)" "$$script" "$${args[@]}" || { echo "$$script failed" >&2; failed=1; }; \
	done; \
	exit "$$failed"

# ruff check, ruff format --check and the audit all run; the target fails if any of them failed.
# The audit asks a vulnerability database (OSV) about every installed package. Without network it
# says so and passes: lint must not fail because the machine is offline.
lint:
	@$(call setup,requirements-dev.txt)
	@cd "$(ROOT)"; failed=0; \
	echo "==> ruff check"; "$(PY)" -m ruff check . || failed=1; \
	echo "==> ruff format --check"; "$(PY)" -m ruff format --check . || failed=1; \
	echo "==> pip-audit"; \
	if [ ! -x "$(TOOLS_VENV)/bin/pip-audit" ]; then \
	  echo "Installing pip-audit into .venv/tools (a venv of its own)"; \
	  { "$(PY)" -m venv "$(TOOLS_VENV)" && \
	    "$(TOOLS_VENV)/bin/python" -m pip install -q $(PIP_FLAGS) pip-audit; } >/dev/null 2>&1 || true; \
	fi; \
	if [ ! -x "$(TOOLS_VENV)/bin/pip-audit" ]; then \
	  echo "pip-audit: SKIPPED - it could not be installed (no package index reachable?)."; \
	else \
	  status=0; \
	  output="$$(PIPAPI_PYTHON_LOCATION="$(PY)" "$(TOOLS_VENV)/bin/pip-audit" \
	    --vulnerability-service osv --progress-spinner off --skip-editable 2>&1)" || status=$$?; \
	  if [ "$$status" -eq 0 ]; then \
	    echo "$$output"; echo "pip-audit: no known vulnerabilities."; \
	  elif grep -qiE 'connection|resolve|timed? ?out|max retries|network|unreachable|SSL|proxy' <<<"$$output"; then \
	    echo "$$output" | tail -n 3; \
	    echo "pip-audit: SKIPPED - its vulnerability database (osv.dev) is not reachable from here."; \
	  else \
	    echo "$$output"; failed=1; \
	  fi; \
	fi; \
	exit "$$failed"
