# Folio: the commands of the README quick start (CONTRACT §1).
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
# $(call setup,REQUIREMENTS...) makes sure .venv exists, runs, has the Python that PYTHON names
# (when PYTHON is given) and has the requirements installed. The stamp holds a hash of the
# requirement files and the Python version, so pip runs only when one of them changed.
define setup
cd "$(ROOT)"; \
python_cmd="$(PYTHON)"; \
if ! "$$python_cmd" -c 'import sys' >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then \
  for version in $$(pyenv versions --bare 2>/dev/null); do \
    candidate="$$(pyenv root)/versions/$$version/bin/$(PYTHON)"; \
    if [ -x "$$candidate" ] && "$$candidate" -c 'import sys' >/dev/null 2>&1; then \
      python_cmd="$$candidate"; break; \
    fi; \
  done; \
fi; \
if ! "$$python_cmd" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
  echo "Folio needs Python 3.11 or newer: '$(PYTHON)' is missing or too old." >&2; \
  echo "Name another interpreter: make <target> PYTHON=python3.12" >&2; \
  exit 1; \
fi; \
want="$$("$$python_cmd" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"; \
have="$$("$(PY)" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"; \
if [ -n "$$have" ] && [ "$$have" != "$$want" ] && [ "$(origin PYTHON)" != "file" ]; then \
  echo "==> .venv has Python $$have but PYTHON=$(PYTHON) is $$want: rebuilding .venv"; \
  have=""; \
fi; \
if [ -z "$$have" ]; then \
  echo "==> Creating .venv with $$python_cmd (Python $$want)"; \
  rm -rf "$(VENV)"; \
  "$$python_cmd" -m venv "$(VENV)"; \
fi; \
for requirements in $(1); do \
  stamp="$(VENV)/.folio-$$requirements.stamp"; \
  digest="$$("$(PY)" -c 'import hashlib, sys; h = hashlib.sha256(sys.version.encode()); [h.update(open(p, "rb").read()) for p in sys.argv[1:]]; print(h.hexdigest())' requirements.txt "$$requirements")"; \
  if [ "$$(cat "$$stamp" 2>/dev/null)" != "$$digest" ]; then \
    echo "==> Installing $$requirements into .venv"; \
    "$(PY)" -m pip install $(PIP_FLAGS) -r "$$requirements" \
      | { grep -v '^Requirement already satisfied' || true; }; \
    echo "$$digest" > "$$stamp"; \
  fi; \
done
endef

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

# bench/run_all.py, when it exists, decides the order; otherwise every bench/*.py runs in turn.
bench:
	@$(call setup,requirements-dev.txt)
	@cd "$(ROOT)"; export PYTHONPATH="$(ROOT)"; \
	if [ -f bench/run_all.py ]; then exec "$(PY)" bench/run_all.py; fi; \
	shopt -s nullglob; scripts=(bench/[!_]*.py); \
	if [ "$${#scripts[@]}" -eq 0 ]; then echo "No benchmarks in bench/ yet."; exit 0; fi; \
	failed=0; \
	for script in "$${scripts[@]}"; do \
	  echo "==> $$script"; \
	  "$(PY)" "$$script" || { echo "$$script failed" >&2; failed=1; }; \
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
