# Inlet: every target sets up what it needs, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-install
# Tidepool's platform client (npm) for tests/client; `make test` installs it only where npm exists.
CLIENT_DIR   := tests/client
CLIENT_STAMP := $(CLIENT_DIR)/node_modules/.stamp-install
NPM          := $(shell command -v npm 2>/dev/null)
# nightscout-connect (npm), the real client tests/nightscout/test_clients.py drives.
NSC_DIR      := tests/nightscout/connect
NSC_STAMP    := $(NSC_DIR)/node_modules/.stamp-install

.DEFAULT_GOAL := help
.PHONY: help install client nightscout-connect browser pdftools demo serve test lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Inlet needs Python 3.11 or newer"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install Inlet with its development tools

$(CLIENT_STAMP): $(CLIENT_DIR)/package.json $(CLIENT_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed: cannot install the platform client for tests/client"; exit 1; }
	cd $(CLIENT_DIR) && npm install --no-audit --no-fund
	touch $(CLIENT_STAMP)

client: $(CLIENT_STAMP) ## install Tidepool's platform client (npm) that tests/client drives

$(NSC_STAMP): $(NSC_DIR)/package.json $(NSC_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed: cannot install nightscout-connect for tests/nightscout"; exit 1; }
	cd $(NSC_DIR) && npm install --no-audit --no-fund
	touch $(NSC_STAMP)

nightscout-connect: $(NSC_STAMP) ## install nightscout-connect (npm) that tests/nightscout drives

browser: $(STAMP) ## install Debian's chromium if missing (root or sudo), then run the browser tests
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "chromium is missing and installing it needs root: apt-get install chromium"; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(PY) -m pytest -q tests/browser

pdftools: ## install Debian's poppler-utils (pdftoppm, pdftotext) for the PDF tests, if missing (root or sudo)
	@command -v pdftoppm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "poppler-utils is missing and installing it needs root: apt-get install poppler-utils"; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils; }

demo: $(STAMP) ## run the whole platform embedded on http://127.0.0.1:8000
	$(VENV)/bin/inlet demo

test: lint $(if $(NPM),$(CLIENT_STAMP) $(NSC_STAMP)) ## lint, then run every test (PostgreSQL when INLET_TEST_POSTGRES_URL is set, the platform client when npm exists)
	$(PY) -m pytest -q

lint: $(STAMP) ## ruff, mypy and the import layers (import-linter contracts in pyproject.toml)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP) ## run the benchmarks and write bench/results.json
	$(PY) bench/ingest.py --json bench/results-ingest.json
	$(PY) bench/sync.py --json bench/results-sync.json
	$(PY) bench/export.py --json bench/results-export.json

clean: ## remove the virtualenv, embedded state and the npm client
	rm -rf $(VENV) .inlet .pytest_cache .mypy_cache .ruff_cache $(CLIENT_DIR)/node_modules
