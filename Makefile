# ToteSys CDC: every target sets up what it needs (virtualenv, packages, KCL jars, services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KCLPY_VERSION := 3.1.3
INSTALLED := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# make test runs this many tests side by side (pytest-xdist): they mostly wait on the services
TEST_WORKERS ?= 3
DEMO_ARGS ?=

.DEFAULT_GOAL := help
LINT_VENV := .venv-lint
LINT_INSTALLED := $(LINT_VENV)/.installed-stamp
PACKAGE_VENV := .venv-package
PY_SOURCES := cdc stream_processor warehouse_loader warehouse_tools local_stack bench cost_model tools
IMAGE ?= totesys-cdc-processor:$(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help prereqs install test test-fast demo bench bench-snapshot report-check stack-up stack-down stack-status lint format lock package image clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

prereqs:  ## check Python 3.11+, Java, Maven and the PostgreSQL server binaries are installed
	@PYTHON=$(PYTHON) tools/check-prereqs.sh

$(INSTALLED): pyproject.toml constraints.txt tools/install-kclpy.sh | prereqs
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	tools/install-kclpy.sh $(PY) $(KCLPY_VERSION)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[postgres,local,dev]'
	@touch $@

install: $(INSTALLED)  ## create .venv and install the project, its tools and the KCL jars

test: $(INSTALLED)  ## run the whole suite, TEST_WORKERS (3) tests at a time (starts the local stack if it is not up, stops it after)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(INSTALLED)  ## run the tests that need no services (no PostgreSQL, AWS emulation or KCL): -m "not stack"
	$(PY) -m pytest -m "not stack" $(PYTEST_ARGS)

demo: $(INSTALLED)  ## run the demo on the local stack (DEMO_ARGS="--duration 60 --rate 50")
	$(PY) -m local_stack.demo $(DEMO_ARGS)

bench: $(INSTALLED)  ## run the benchmarks (BENCH=<name> for one, BENCH_QUICK=1 for short runs)
	$(PY) -m bench $(if $(BENCH),--only $(BENCH)) $(if $(BENCH_QUICK),--quick)

bench-snapshot: $(INSTALLED)  ## after a full make bench: replace docs/benchmarks.json and regenerate its tables
	$(PY) -m bench.snapshot refresh

report-check: $(INSTALLED)  ## render the latest HTML report in headless chromium and check it (REPORT=path for another)
	$(PY) tools/report_check.py $(REPORT)

stack-up: $(INSTALLED)  ## start the local stack (idempotent)
	$(VENV)/bin/totesys-stack up

stack-down: $(INSTALLED)  ## stop the local stack (data stays in .local/)
	$(VENV)/bin/totesys-stack down

stack-status: $(INSTALLED)  ## show the health of each service of the local stack
	$(VENV)/bin/totesys-stack status

$(LINT_INSTALLED): tools/lint-requirements.txt
	@test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet -r tools/lint-requirements.txt
	@touch $@

lint: $(INSTALLED) $(LINT_INSTALLED)  ## ruff (format + lint), the import layers, bandit, checkov (terraform, Dockerfile), pip-audit, generated tables, docs check
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(LINT_VENV)/bin/bandit --quiet --recursive --severity-level medium $(PY_SOURCES)
	$(LINT_VENV)/bin/checkov --quiet --compact --skip-download --framework terraform -d terraform
	$(LINT_VENV)/bin/checkov --quiet --compact --skip-download --framework dockerfile -f Dockerfile
	@if command -v terraform >/dev/null; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive terraform; \
	  else echo "terraform fmt: skipped (no terraform binary)"; fi
	$(LINT_VENV)/bin/python tools/audit_deps.py constraints.txt
	$(PY) -m bench.snapshot check
	$(PY) tools/docs_check.py

format: $(INSTALLED)  ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: $(INSTALLED)  ## rewrite constraints.txt from the virtualenv
	{ echo "# Pinned versions for reproducible installs: pip install -c constraints.txt -e '.[postgres,local,dev]'"; \
	  echo "# Regenerate with: make lock"; \
	  $(PY) -m pip freeze --exclude-editable \
	    | sed 's|^amazon_kclpy @ file://.*|amazon_kclpy==$(KCLPY_VERSION)|'; } > constraints.txt

# make package needs only pip (it downloads the Lambda's wheels, installs nothing here): its own
# small virtualenv, so a fresh clone packages without make install's KCL jars and dev tools.
$(PACKAGE_VENV)/bin/python:
	$(PYTHON) -m venv $(PACKAGE_VENV)

package: $(PACKAGE_VENV)/bin/python  ## build the loader Lambda's zip (dist/warehouse-loader.zip) for terraform
	tools/package-lambda.sh $(PACKAGE_VENV)/bin/python dist/warehouse-loader.zip

image:  ## build the processor's container image (IMAGE=name:tag; needs a Docker daemon)
	@docker info >/dev/null 2>&1 || { echo "error: no Docker daemon reachable: 'make image' needs one" >&2; exit 1; }
	docker build --build-arg KCLPY_VERSION=$(KCLPY_VERSION) -t $(IMAGE) .

clean:  ## stop the stack and remove .venv, .local and caches (not the Maven/KCL jar cache)
	-@test -x $(VENV)/bin/totesys-stack && $(VENV)/bin/totesys-stack down
	@# the clusters may live outside the clone (see docs/local-stack.md, "Running as root")
	for pg in .local/pg .local/pg-warehouse; do if [ -L $$pg ]; then rm -rf "$$(readlink -f $$pg)"; fi; done
	rm -rf $(VENV) $(LINT_VENV) $(PACKAGE_VENV) build dist .local .pytest_cache .ruff_cache .hypothesis
