# Two commands for a newcomer: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Where the real Asterisk bundle lives (tests skip with a reason when it is absent).
ASTERISK_BUNDLE ?= $(abspath ../shared/asterisk)
export ASTERISK_BUNDLE

.PHONY: demo test serve bench lint typecheck prompts system-deps fonts clean help deploy-config deploy-check

help:
	@echo "make demo   - venv, install, migrate SQLite, sample data, simulated calls, report"
	@echo "make test   - install test tools and run the whole suite (SQLite + PostgreSQL)"
	@echo "make serve  - run the service (HTTP, FastAGI, AMI, job loop)"
	@echo "make bench  - run the benchmarks, write bench/RESULTS.md"
	@echo "make lint   - ruff + import contracts"
	@echo "make prompts - generate IVR sound files with espeak-ng"
	@echo "make deploy-check - validate docker-compose.yml, run the compose stack's commands without Docker"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench,fast]'
	touch $(STAMP)

demo: $(STAMP) fonts
	mkdir -p var
	DEV_MODE=true $(VENV)/bin/callcenter demo

# Debian packages the tests use: chromium (agent page in a real browser),
# espeak-ng and sox (IVR prompt generation), sip-tester (SIPp: the agent's SIP phone on the
# real Asterisk). Installed with apt when we are root. COMMAND:PACKAGE when they differ.
SYSTEM_TOOLS := chromium espeak-ng sox sipp:sip-tester
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null)); \
	  else echo "missing:$$missing (apt-get install$$missing); the tests that need them will be skipped"; fi; \
	fi

# The CJK font charts and PDF exports draw Chinese names with (Debian's Noto CJK).
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
fonts:
	@if [ ! -f $(CJK_FONT) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian package: fonts-noto-cjk"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null)); \
	  else echo "missing: fonts-noto-cjk (apt-get install fonts-noto-cjk); Chinese text in PDFs and charts shows as boxes"; fi; \
	fi

test: $(STAMP) system-deps fonts
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

# mypy --strict on the sans-I/O packages, the hotline use case and the protocol cores (CI runs it).
STRICT := ivr crm reports callcenter/hotline $(addprefix callcenter/telephony/asterisk/,agi_protocol.py agi_commands.py ami_protocol.py ami_actions.py stream.py errors.py)
typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict $(STRICT)

prompts: $(STAMP)
	$(VENV)/bin/callcenter prompts generate

clean:
	rm -rf $(VENV) var .pytest_cache

# The compose stack without Docker. deploy-config: `docker-compose config` (Debian's
# docker-compose package, installed here when missing and we are root) on the compose
# file with .env.example filled as a site fills it, and refusing the unedited example.
# deploy-check: that, then the smoke tests (tests/deploy: each compose service's command
# against the local PostgreSQL and the real Asterisk kit, fail-over, bad config).
deploy-config: $(STAMP)
	@command -v docker-compose >/dev/null 2>&1 || { 	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then 	    echo "installing Debian package: docker-compose"; 	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 || 	     (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)); 	  else echo "docker-compose missing: apt-get install docker-compose" >&2; exit 1; fi; }
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy/test_bad_config.py -k docker_compose_config

deploy-check: deploy-config system-deps
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy
