# salesnb: one command to set up and run the demo, one to test.
# `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The runtime (make demo) and, on top, the test/dev extras (make test, make setup): each has its stamp.
DEV_STAMP := $(VENV)/.installed-dev
SAMPLE := data/sample
OUT    ?= reports/demo
PERIOD ?= 2025
AS_OF  ?= 2026-01-05
CHROMIUM ?= /usr/bin/chromium
# root runs apt-get as it is; anyone else through sudo
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help setup kernel demo report test format test-fast test-browser browser-deps lab sample bench clean
.PHONY: postgres-deps airflow-env test-airflow

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -e 's#$$(OUT)#$(OUT)#g' -e 's#$$(CHROMIUM)#$(CHROMIUM)#g' \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[1m%-13s\033[0m %s\n", $$1, $$2}'

# pip: no self-version check (the venv gets the newest pip anyway); --no-compile, then COMPILE: the
# bytecode is written on both cores at once, not file by file (with PYTHONDONTWRITEBYTECODE set, as
# on some CI machines, a module never compiled at install is compiled again by every process).
export PIP_DISABLE_PIP_VERSION_CHECK := 1
PIP_INSTALL := $(BIN)/python -m pip install --no-compile
COMPILE := $(BIN)/python -m compileall -q -j 0 salesnb $(VENV)/lib >/dev/null 2>&1 || true

# What the product needs, with pip's progress shown; pip's cache reuses the wheels on a second run.
# The venv gets the newest pip in one step from the host's pip (22.3+: --python), else ensurepip then an upgrade.
$(STAMP): pyproject.toml
	@echo "== A virtual environment in $(VENV), with the newest pip"
	@$(PYTHON) -m venv --without-pip $(VENV)
	@$(PYTHON) -m pip --python $(BIN)/python install --quiet --upgrade pip 2>/dev/null \
	  || { $(BIN)/python -m ensurepip --default-pip >/dev/null && $(BIN)/python -m pip install --quiet --upgrade pip; }
	@echo "== salesnb and what it needs (pip install -e .)"
	@$(PIP_INSTALL) -e .
	@echo "== Compiling the bytecode (both cores); the salesnb kernel"; $(COMPILE)
	@$(BIN)/python -m ipykernel install --sys-prefix --name salesnb --display-name "Python (salesnb)" >/dev/null
	@touch $(STAMP)

# JupyterLab (the `lab` extra) for make lab: analysts' tool, not the product's (reports render without it).
LAB_STAMP := $(VENV)/.installed-lab
$(LAB_STAMP): $(STAMP)
	$(PIP_INSTALL) -e ".[lab]"
	@$(COMPILE)
	@touch $(LAB_STAMP)

# pytest, Playwright, hypothesis, ruff, dask, psycopg, JupyterLab (its browser test): on top of the runtime.
$(DEV_STAMP): $(STAMP)
	$(PIP_INSTALL) -e ".[test,dask,postgres,lab]"
	@$(COMPILE)
	@touch $(DEV_STAMP) $(LAB_STAMP)

setup: $(DEV_STAMP) ## Create .venv, install salesnb with the test/dev extras and register the `salesnb` Jupyter kernel

kernel: $(STAMP) ## Re-register the `salesnb` Jupyter kernel
	$(BIN)/python -m ipykernel install --sys-prefix --name salesnb --display-name "Python (salesnb)"

demo: $(STAMP) ## Install salesnb (runtime only), check the sample, print each rep's focus, render the reports
	@echo "== The sample's data checks (salesnb validate $(SAMPLE))"
	@$(BIN)/salesnb validate $(SAMPLE)
	@echo "== Each rep's focus in $(PERIOD) (salesnb diagnose ... --format brief)"
	@$(BIN)/salesnb diagnose $(SAMPLE) --period $(PERIOD) --as-of $(AS_OF) --format brief
	@echo "== The coaching reports (salesnb report ... --out $(OUT) --jobs 2)"
	@$(BIN)/salesnb report $(SAMPLE) --period $(PERIOD) --as-of $(AS_OF) --out $(OUT) --jobs 2
	@echo "Open $(OUT)/index.html: the manager's queue and every page"

report: $(STAMP) ## Render the coaching reports for the sample into $(OUT) (open $(OUT)/index.html)
	$(BIN)/salesnb report $(SAMPLE) --period $(PERIOD) --as-of $(AS_OF) --out $(OUT) --jobs 2

# Two workers, a file at a time, the slowest files first (tests/conftest.py orders them by tests/durations.json).
# PYTEST_ARGS adds options: `make test PYTEST_ARGS=--store-durations` refreshes tests/durations.json.
test: $(DEV_STAMP) ## Lint (ruff), then run the whole test suite (what CI runs), browser tests included (skipped, with the reason, without Chromium)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SALESNB_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not airflow" $(PYTEST_ARGS)

format: $(DEV_STAMP) ## Format the code and fix what the linter can (ruff)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-fast: $(DEV_STAMP) ## Run the tests that execute no notebook
	$(BIN)/python -m pytest -n 2 -m "not slow and not browser"

test-browser: $(DEV_STAMP) browser-deps ## Run only the real-browser tests (Playwright driving Debian's Chromium)
	SALESNB_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 2 --dist loadfile -m browser

browser-deps: ## Install Debian's chromium for the browser tests unless CHROMIUM (/usr/bin/chromium) exists (apt-get; root or sudo)
	@if [ -x "$(CHROMIUM)" ]; then \
	  echo "browser-deps: $(CHROMIUM) is installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "browser-deps: installing Debian's chromium"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium fonts-dejavu-core fonts-liberation; \
	else \
	  echo "browser-deps: no $(CHROMIUM) and no apt-get: install Chromium yourself and run make CHROMIUM=/path/to/chromium test-browser" >&2; \
	  exit 1; \
	fi

# --- PostgreSQL and Airflow, for real (tests/test_postgres.py, tests/test_airflow_dag.py) ---
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

postgres-deps: ## Install Debian's postgresql for tests/test_postgres.py unless initdb exists (apt-get; root or sudo)
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "postgres-deps: PostgreSQL's server programs are installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "postgres-deps: installing Debian's postgresql"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; \
	else \
	  echo "postgres-deps: no initdb and no apt-get: install PostgreSQL's server yourself" >&2; \
	  exit 1; \
	fi

$(AIRFLOW_STAMP): pyproject.toml
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -e ".[airflow]" "pytest>=8.0"
	@touch $(AIRFLOW_STAMP)

airflow-env: $(AIRFLOW_STAMP) ## Create .venv-airflow: Airflow 3 with salesnb installed (its own venv, a few minutes)

test-airflow: $(AIRFLOW_STAMP) ## Run the Airflow DAG tests in .venv-airflow (they fail, not skip, when Airflow is missing)
	SALESNB_REQUIRE_AIRFLOW=1 $(AIRFLOW_VENV)/bin/python -m pytest -q tests/test_airflow_dag.py

lab: $(LAB_STAMP) ## Install JupyterLab (the lab extra) if needed, open it on the notebooks with the salesnb kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(SUDO),,--allow-root)

bench: $(STAMP) ## Print the speed goals (cold start, team batch, 100 reps, reruns, memory) met or not (about 4 minutes)
	$(BIN)/python benchmarks/reports.py --memory-reps 500

sample: $(STAMP) ## Regenerate the committed sample data in data/sample
	$(BIN)/salesnb sample $(SAMPLE) --seed 7 --reps 12 --months 24 --force

clean: ## Remove generated reports and caches (keeps .venv)
	rm -rf reports/demo .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
