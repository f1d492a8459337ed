# Two commands: `make run` (set up and run everything) and `make test` (set up and test everything).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := conformance/node_modules/.installed
# Browser tests drive Debian's Chromium (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium
WRK := /usr/bin/wrk
# make run is a local run: DEBUG on unless set, which (with no Wix credentials) means sandbox mode
# for every command it runs, migrate included.
LOCAL := DEBUG=$${DEBUG:-true}
VAR_DIR = $${INBOX_INTAKE_VAR_DIR:-var}

.PHONY: run test test-fast lint format setup migrate demo-admin lock clean bench

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml sandbox/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	# The app and the sandbox are installed from this checkout, as a host project installs them.
	$(BIN)/python -m pip install --quiet --no-deps -e . -e ./sandbox
	touch $@

$(NODE_INSTALLED): conformance/package.json conformance/package-lock.json
	cd conformance && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	test -x $(CHROMIUM)

# tests/test_bench.py runs bench.intake at a tiny size, which loads the server with wrk.
$(WRK):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
	test -x $(WRK)

setup: $(INSTALLED)

# The development targets run with DEBUG on, as `make run` does (and so with its generated key).
migrate: setup
	$(LOCAL) $(BIN)/python manage.py migrate --noinput

demo-admin: migrate
	$(LOCAL) $(BIN)/python manage.py intake_demo_admin --login-file "$(VAR_DIR)/demo_login"

# The Procfile's processes (web, worker, beat) under honcho; Ctrl-C stops them all. honcho gives
# each process a PORT of its own: SITE_PORT keeps the web server's, which the worker needs to
# reach the sandbox that the web server serves. Once the site answers, a banner gives its
# addresses and the demo login.
run: demo-admin
	@port=$${PORT:-8000}; \
	$(LOCAL) $(BIN)/python manage.py intake_demo_admin --login-file "$(VAR_DIR)/demo_login" \
	  --announce "http://127.0.0.1:$$port/" & \
	$(LOCAL) SITE_PORT=$$port PATH="$(CURDIR)/$(BIN):$$PATH" \
	  exec $(BIN)/honcho start --port $$port

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint $(NODE_INSTALLED) $(CHROMIUM) $(WRK)
	$(BIN)/pytest

# The unit and integration tests alone (no real processes, no browser), on two workers.
test-fast: setup
	$(BIN)/pytest -m "not e2e" -n 2

# The benchmarks of docs/benchmarks.md, at their default sizes (under 10 minutes on 2 cores); each
# writes bench/results/<name>.json. They need PostgreSQL, redis-server and wrk (installed if missing).
bench: setup
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.scale

lock: setup
	$(BIN)/pip-compile --quiet --strip-extras --no-header --no-emit-index-url --no-emit-find-links requirements.in -o requirements.txt
	$(BIN)/pip-compile --quiet --strip-extras --no-header --no-emit-index-url --no-emit-find-links requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(VENV) var conformance/node_modules
