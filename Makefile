# Qingting — the two quickstart commands are `make run` and `make test` (see README).
# The interpreter: Python >= 3.11 with venv, preferably one that links libpython into its
# executable (the distribution's python3 does; a plain `pyenv install` loads it as a shared
# library, which ran triage and the import 10-30 % slower here: docs/import.md). Of
# `python3` on the PATH and /usr/bin/python3 the first such one, else `python3`. PYTHON=... overrides.
PY_USABLE := import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))
PY_LINKED := import sys; sys.exit(any("libpython" in line for line in open("/proc/self/maps")))
ifndef PYTHON
PYTHON := $(shell for p in python3 /usr/bin/python3; do \
            $$p -c '$(PY_USABLE)' 2>/dev/null && $$p -c '$(PY_LINKED)' 2>/dev/null && { echo $$p; exit 0; }; \
          done; echo python3)
endif
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

# Debian packages the tests use: Chromium (browser tests), a CJK font (readable screenshots),
# Dovecot (a real IMAP server for the e-mail intake tests), poppler (PDF to PNG). Installed
# when missing and we are root on Debian/Ubuntu; otherwise those tests skip (and fail in CI).
browser:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "could not install$$missing: those tests will be skipped (and fail in CI)"; \
	  else echo "missing Debian packages:$$missing (the tests that need them will be skipped)"; fi; \
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
