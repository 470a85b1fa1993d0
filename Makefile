# ToteSys CDC: every target sets up what it needs (virtualenv, packages, KCL jars, services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KCLPY_VERSION := 3.1.3
INSTALLED := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help prereqs install test demo bench stack-up stack-down stack-status lint format lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

prereqs:  ## check Python 3.11+, Java, Maven and the PostgreSQL server binaries are installed
	@PYTHON=$(PYTHON) tools/check-prereqs.sh

$(INSTALLED): pyproject.toml constraints.txt tools/install-kclpy.sh | prereqs
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	tools/install-kclpy.sh $(PY) $(KCLPY_VERSION)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[local,dev]'
	@touch $@

install: $(INSTALLED)  ## create .venv and install the project, its tools and the KCL jars

test: $(INSTALLED)  ## run the whole suite (starts the local stack if it is not up, stops it after)
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(INSTALLED)  ## run the demo on the local stack (DEMO_ARGS="--duration 60 --rate 50")
	$(PY) -m local_stack.demo $(DEMO_ARGS)

bench: $(INSTALLED)  ## run the benchmarks (BENCH=<name> for one, BENCH_QUICK=1 for short runs)
	$(PY) -m bench $(if $(BENCH),--only $(BENCH)) $(if $(BENCH_QUICK),--quick)

stack-up: $(INSTALLED)  ## start the local stack (idempotent)
	$(VENV)/bin/totesys-stack up

stack-down: $(INSTALLED)  ## stop the local stack (data stays in .local/)
	$(VENV)/bin/totesys-stack down

stack-status: $(INSTALLED)  ## show the health of each service of the local stack
	$(VENV)/bin/totesys-stack status

lint: $(INSTALLED)  ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)  ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: $(INSTALLED)  ## rewrite constraints.txt from the virtualenv
	{ echo "# Pinned versions for reproducible installs: pip install -c constraints.txt -e '.[local,dev]'"; \
	  echo "# Regenerate with: make lock"; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt

clean:  ## stop the stack and remove .venv, .local and caches (not the Maven/KCL jar cache)
	-@test -x $(VENV)/bin/totesys-stack && $(VENV)/bin/totesys-stack down
	@# the cluster may live outside the clone (see README, "Running as root")
	if [ -L .local/pg ]; then rm -rf "$$(readlink -f .local/pg)"; fi
	rm -rf $(VENV) .local .pytest_cache .ruff_cache .hypothesis
