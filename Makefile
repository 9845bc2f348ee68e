# Koppel — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install vendor chromium migrate lint format typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null

# Installs the project only when pyproject.toml changed since the last install.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(VENV)/.installed vendor

# Front-end libraries come from npm (pinned by package-lock.json) and are copied into static/vendor/.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

vendor: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/htmx-ext-sse/dist/sse.min.js static/vendor/sse.min.js
	cp node_modules/drawflow/dist/drawflow.min.js static/vendor/drawflow.min.js
	cp node_modules/drawflow/dist/drawflow.min.css static/vendor/drawflow.min.css

# Debian's Chromium for the browser tests (never `playwright install`: no download works here).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core)

migrate: install
	$(BIN)/koppel migrate

run: install
	KOPPEL_DEMO=1 $(BIN)/koppel serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy

pytest: install chromium
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test: install chromium lint typecheck pytest

bench: install
	$(BIN)/python bench/engine.py --orders 10000
	$(BIN)/python bench/sandbox.py

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache
