# Two commands for a new user: `make run` and `make test`. Everything else is set up here.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The settings derive PUBLIC_BASE_URL (issuer, discovery, printed links) from PORT.
export PORT

.PHONY: run test install browser system node lint format clean bench mutation

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	$(PY) manage.py runserver $(HOST):$(PORT)

# Browser tests drive Debian's Chromium and the SAML tests Debian's xmlsec1; install them when
# we are allowed to (root), never a downloaded browser build.
SYSTEM_PACKAGES := /usr/bin/chromium:chromium /usr/bin/xmlsec1:xmlsec1
system:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do [ -x "$${pair%%:*}" ] || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Missing Debian packages for some tests:$$missing (sudo apt-get install$$missing)"; fi; \
	fi
browser: system

# Client libraries (auth0-js, auth0-spa-js, oidc-client-ts, jose) and emulators (Azurite,
# the Firebase Auth emulator) from the committed lockfile; served from loopback by the tests.
NODE_DIR := tests/node
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are required for the tests"; exit 1; }
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
node: $(NODE_DIR)/node_modules/.installed

# The tests use the local Redis when it answers and REDIS_URL is not set (set it, even empty,
# to choose): the limiter's Redis code then runs in a developer's run too. Database
# TEST_REDIS_DB is the tests' own (they flush it). The pytest header says which backend ran.
# pytest-randomly shuffles the order on every run (the seed is in the header; -p no:randomly
# turns it off). pytest-xdist runs TEST_WORKERS processes (0: one, no xdist); each starts its
# own servers (gunicorn, redis-server, Azurite, the Firebase emulator, Chromium), gets its own
# test database from pytest-django and its own Redis database, counting down from
# TEST_REDIS_DB (tests/real_parts.py). Two workers on two cores: the whole suite in 3.5-4
# minutes instead of 6-7 (measured on PostgreSQL + Redis and on SQLite).
TEST_REDIS_DB ?= 13
TEST_WORKERS ?= 2
test: install system node
	@if [ -z "$${REDIS_URL+set}" ] && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
	  export REDIS_URL=redis://127.0.0.1:6379/$(TEST_REDIS_DB); fi; \
	echo "$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)"; $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Mutation testing of the security core (tests/mutation.py; slow, not part of `make test`):
# prints the score per module. MODULES="delegation/policy.py ..." runs some of them.
mutation: install
	$(PY) tests/mutation.py $(MODULES)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/delegation.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache *.egg-info $(NODE_DIR)/node_modules
