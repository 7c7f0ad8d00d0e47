# Two commands for a newcomer: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Where the real Asterisk bundle lives (tests skip with a reason when it is absent).
ASTERISK_BUNDLE ?= $(abspath ../shared/asterisk)
export ASTERISK_BUNDLE

.PHONY: demo test serve bench lint typecheck prompts browser clean help

help:
	@echo "make demo   - venv, install, migrate SQLite, sample data, simulated calls, report"
	@echo "make test   - install test tools and run the whole suite (SQLite + PostgreSQL)"
	@echo "make serve  - run the service (HTTP, FastAGI, AMI, job loop)"
	@echo "make bench  - run the benchmarks, write bench/RESULTS.md"
	@echo "make lint   - ruff + import contracts"
	@echo "make prompts - generate IVR sound files with espeak-ng"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p var
	$(VENV)/bin/callcenter demo

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the browser tests"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null)); \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; }

test: $(STAMP) browser
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

serve: $(STAMP)
	mkdir -p var
	$(VENV)/bin/callcenter db upgrade
	$(VENV)/bin/callcenter serve

bench: $(STAMP)
	$(PY) bench/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check callcenter ivr crm reports tests bench
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy ivr crm reports

prompts: $(STAMP)
	$(VENV)/bin/callcenter prompts generate

clean:
	rm -rf $(VENV) var .pytest_cache
