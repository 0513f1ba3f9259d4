# Qingting — the two quickstart commands are `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export QINGTING_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test setup setup-test assets browser suite clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python assets
	$(BIN)/pip install --quiet -e .

setup-test: $(BIN)/python assets browser
	$(BIN)/pip install --quiet -e '.[test]'

# htmx and ECharts from the npm registry, served locally (no CDN). Pages work without them.
assets:
	@if [ ! -f package.json ]; then :; \
	elif command -v npm >/dev/null 2>&1; then npm install --silent --no-audit --no-fund || echo "npm install failed: charts will not draw"; \
	else echo "npm not found: pages work without htmx/ECharts, charts will not draw"; fi

# Debian's Chromium for the browser tests (installed when missing and we are root).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei poppler-utils dovecot-imapd >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped (fail in CI)"; \
	  else echo "no /usr/bin/chromium: install Debian's chromium for the browser tests"; fi; \
	fi

# 1) Install and start Qingting on SQLite with demo data at http://127.0.0.1:8000
run: setup
	$(BIN)/qingting run --demo

# 2) Install and run the whole test suite
test: setup-test suite

suite:
	$(BIN)/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) var node_modules
