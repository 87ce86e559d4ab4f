# The front door: `make demo` runs the main job on the built-in emulator, `make test` runs
# every check. Both install what they need into a virtualenv on first use.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)
# A pinned set of every package for an Airflow version, when the project keeps one
# (constraints/airflow-X.Y.Z.txt): the floor installs exactly what it was proven with, so a new
# release of a dependency cannot turn it red unseen. Refresh: docs/development.md.
CONSTRAINTS_FILE := constraints/airflow-$(AIRFLOW_VERSION).txt
CONSTRAINTS := $(if $(wildcard $(CONSTRAINTS_FILE)),-c $(CONSTRAINTS_FILE))
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO_PORT ?= 8099
DEMO_HOME := $(CURDIR)/.airflow-demo
PYTEST_ARGS ?=

.PHONY: install test test-unit smoke lint typecheck demo clean postgres-deps browser-deps test-floor docs
.PHONY: test-deploy deploy-deps
FLOOR_AIRFLOW_VERSION ?= 3.1.8
CHROMIUM ?= /usr/bin/chromium

$(STAMP): pyproject.toml setup.cfg $(wildcard $(CONSTRAINTS_FILE))
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip 2>&1 | { grep -v "is ignored" || true; }
	$(PIP) install $(CONSTRAINTS) "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]" 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c "import airflow_provider_connectsafely, airflow.sdk"
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check airflow_provider_connectsafely tests example_dags benchmarks
	$(BIN)/ruff format --check airflow_provider_connectsafely tests example_dags benchmarks

typecheck: install
	$(BIN)/mypy

# The documentation site (mkdocs.yml, docs/); --strict fails on a broken link or a page left
# out of the nav.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

# PostgreSQL for the ledger tests: Debian's package when missing. The tests start and stop
# the cluster themselves (tests/conftest.py, postgres_server).
postgres-deps:
	@command -v pg_ctlcluster >/dev/null && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	else
		echo "WARNING: PostgreSQL is missing and apt-get needs root: install the postgresql package"
	fi

# Chromium for the UI test (tests/test_ui_browser.py drives it with Playwright): Debian's
# package when missing, installed only as root with apt-get. Otherwise the test skips, or
# fails when CI=true.
browser-deps:
	@test -x $(CHROMIUM) && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "Installing Debian's chromium for the UI test (a few minutes, once)"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "WARNING: $(CHROMIUM) is missing and apt-get needs root: install the chromium package"
	fi

# Redis for the CeleryExecutor deployment test: Debian's redis-server when missing, installed
# only as root with apt-get. The tests start it themselves, on a free port.
deploy-deps:
	@command -v redis-server >/dev/null && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	else
		echo "WARNING: redis-server is missing and apt-get needs root: install the redis-server package"
	fi

DEPLOY_STAMP := $(VENV)/.installed-deploy-$(AIRFLOW_VERSION)

$(DEPLOY_STAMP): $(STAMP) pyproject.toml
	$(PIP) install "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test,deploy]" 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c "import airflow.providers.celery, celery, redis"
	touch $@

# The provider in real Airflow deployments (tests/deploy/, excluded from `make test`): a
# LocalExecutor one (api-server, scheduler, dag-processor, triggerer) and a CeleryExecutor one
# (Redis, two workers), each on a PostgreSQL of the tests' own. About 10 minutes on 2 cores.
test-deploy: $(DEPLOY_STAMP) postgres-deps deploy-deps
	$(BIN)/python -m pytest tests/deploy $(PYTEST_ARGS)

# The simulated month under faults (tests/soak/, docs/development.md): the three DAGs hour by hour
# against the emulator and a PostgreSQL ledger of its own, the invariants checked from the
# emulator's record; writes SOAK_REPORT. SOAK_SEED replays a run exactly (default: a random
# seed, printed). soak-ci is the 3-day run with a fixed seed (about 3 minutes).
SOAK_DAYS ?= 30
SOAK_SEED ?=
SOAK_REPORT ?= soak-report.md
SOAK_ARGS ?=
.PHONY: soak soak-ci
soak: install postgres-deps
	$(BIN)/python tests/soak/harness.py --days $(SOAK_DAYS) $(if $(SOAK_SEED),--seed $(SOAK_SEED)) \
		--report $(SOAK_REPORT) $(SOAK_ARGS)

soak-ci: install postgres-deps
	$(BIN)/python -m pytest tests/soak/test_invariants.py tests/soak/test_soak.py -q -s $(PYTEST_ARGS)

# The harness catches deliberate defects (tests/soak/defects.py): one 3-day run per defect.
.PHONY: soak-defects
soak-defects: install postgres-deps
	$(BIN)/python -m pytest tests/soak/test_defects.py -q $(PYTEST_ARGS)

# Everything: lint, types, docs, the whole suite, the unit tests again with the clock moved
# years ahead (a test that depends on today's date fails there), then the wheel and the sdist
# built and checked (dist-check) and that wheel installed outside the checkout (smoke).
TRAVEL_TO ?= 2031-03-30T01:30:00+00:00
test: lint typecheck docs postgres-deps browser-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest tests/unit -q --travel-to=$(TRAVEL_TO) $(PYTEST_ARGS)
	$(MAKE) smoke

# The docs' screenshot of the ledger page, taken by its browser test from the page with the
# test's data: every run of the test writes test-artifacts/ui/ledger-page.png; this target also
# copies it to docs/images/ledger-page.png (CONNECTSAFELY_UPDATE_SCREENSHOTS=1), so `make test`
# leaves the tree clean. CI=true: a missing Chromium fails here rather than skipping.
.PHONY: screenshots
screenshots: install browser-deps
	CI=true CONNECTSAFELY_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/e2e/test_ledger_page.py -q $(PYTEST_ARGS)

# The fast suite: tests/unit mirrors the package; no Airflow metadata DB, no root, loopback only.
test-unit: install
	$(BIN)/python -m pytest tests/unit -m "not postgres" $(PYTEST_ARGS)

# The release files as a release makes them, into DIST_DIR: `python -m build` builds the sdist,
# then the wheel from that sdist (a file the sdist lacks goes missing from the wheel too);
# `twine check --strict` reads their metadata and README; tests/smoke/check_dist.py checks both
# hold every file of the package (py.typed, the migrations' script.py.mako, plugins/static/*).
DIST_DIR ?= /tmp/connectsafely-dist
.PHONY: dist-check
dist-check: install
	rm -rf $(DIST_DIR); mkdir -p $(DIST_DIR)
	$(BIN)/python -m build --outdir $(DIST_DIR) . > $(DIST_DIR).log 2>&1 || { tail -40 $(DIST_DIR).log; exit 1; }
	$(BIN)/twine check --strict $(DIST_DIR)/*.whl $(DIST_DIR)/*.tar.gz
	$(BIN)/python tests/smoke/check_dist.py $(DIST_DIR)

# What users install is what is tested: the wheel dist-check built, installed (not editable)
# into a fresh virtualenv outside the checkout; it sends through the emulator and upgrades a
# 0.1 ledger.
SMOKE_DIR ?= /tmp/connectsafely-smoke
smoke: dist-check
	rm -rf $(SMOKE_DIR); mkdir -p $(SMOKE_DIR)
	$(PYTHON) -m venv $(SMOKE_DIR)/venv
	$(SMOKE_DIR)/venv/bin/python -m pip --disable-pip-version-check -q install \
		"apache-airflow==$(AIRFLOW_VERSION)" $(DIST_DIR)/*.whl 2>&1 | { grep -v "is ignored" || true; }
	cp tests/smoke/smoke.py tests/fixtures/ledger_0_1.sqlite.sql $(SMOKE_DIR)/
	cd $(SMOKE_DIR) && env -u PYTHONPATH AIRFLOW_HOME=$(SMOKE_DIR)/home venv/bin/python smoke.py

# The suite on the lowest supported Airflow, in its own virtualenv. Only pytest: ruff and
# mypy judge the code once, against the newest Airflow (type stubs differ between releases).
test-floor:
	$(MAKE) install postgres-deps browser-deps AIRFLOW_VERSION=$(FLOOR_AIRFLOW_VERSION) VENV=.venv-floor
	.venv-floor/bin/python -m pytest $(PYTEST_ARGS)

# The unit tests (without the PostgreSQL variants) on the other supported Pythons, each in its
# own virtualenv (.venv-py3.10, .venv-py3.13) with Airflow $(AIRFLOW_VERSION); the rest of the
# suite, ruff and mypy run on .venv's Python (3.11). An interpreter is python<X.Y> from
# $(PYENV_ROOT)/versions or PATH; a missing one is skipped with a message (a loud one on CI).
TEST_PYTHONS ?= 3.10 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
.PHONY: test-python
# Both Pythons at once (one core each; unit tests only): about half the time of one after
# the other. Each one's output is printed whole when it ends (--output-sync).
test-python:
	$(MAKE) --no-print-directory -k -j2 --output-sync=target $(addprefix test-python-,$(TEST_PYTHONS))

test-python-%:
	@version=$*
	python=
	for candidate in $$(ls -d $(PYENV_ROOT)/versions/$$version.*/bin/python$$version 2>/dev/null | sort -V -r) \
			$$(command -v python$$version || true); do
		if "$$candidate" -c "import sys; assert sys.version_info[:2] == ($${version/./, })" 2>/dev/null; then
			python=$$candidate; break
		fi
	done
	if [ -z "$$python" ]; then
		message="Python $$version not found (python$$version in $(PYENV_ROOT)/versions or on PATH): its unit tests are SKIPPED"
		if [ "$${CI:-}" = true ]; then
			printf '\n%s\n!!! %s\n%s\n\n' "$$(printf '!%.0s' {1..100})" "$$message" "$$(printf '!%.0s' {1..100})"
		else
			echo "$$message"
		fi
		exit 0
	fi
	echo "== Python $$version ($$python): tests/unit -m 'not postgres' in .venv-py$$version"
	$(MAKE) --no-print-directory install PYTHON=$$python VENV=.venv-py$$version
	.venv-py$$version/bin/python -m pytest tests/unit -m "not postgres" -q -p no:cacheprovider $(PYTEST_ARGS) \
		|| { echo "test-python: the unit tests failed on Python $$version"; exit 1; }

demo: install
	@rm -rf $(DEMO_HOME); mkdir -p $(DEMO_HOME)
	export AIRFLOW_HOME=$(DEMO_HOME) AIRFLOW__CORE__LOAD_EXAMPLES=False
	export AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/example_dags
	export CONNECTSAFELY_EXAMPLE_DAY_SECONDS=2
	export AIRFLOW_CONN_CONNECTSAFELY_DEFAULT='{"conn_type": "connectsafely", "host": "http://127.0.0.1:$(DEMO_PORT)", "password": "demo-api-key"}'
	export AIRFLOW_CONN_EXAMPLE_CRM='{"conn_type": "sqlite", "host": "$(DEMO_HOME)/example_crm.sqlite"}'
	$(BIN)/connectsafely-emulator --port $(DEMO_PORT) --api-key demo-api-key > $(DEMO_HOME)/emulator.log 2>&1 &
	emulator=$$!
	trap 'kill $$emulator 2>/dev/null || true' EXIT
	for _ in $$(seq 50); do grep -q listening $(DEMO_HOME)/emulator.log && break; sleep 0.2; done
	cat $(DEMO_HOME)/emulator.log
	grep -q listening $(DEMO_HOME)/emulator.log || { echo "emulator did not start (is port $(DEMO_PORT) free? try DEMO_PORT=...)"; exit 1; }
	$(BIN)/airflow db migrate > $(DEMO_HOME)/db-migrate.log 2>&1
	run_dag() {
		log=$(DEMO_HOME)/$$1-$$2.log
		$(BIN)/airflow dags test $$1 $${3:+--conf "$$3"} > $$log 2>&1 || { tail -40 $$log; exit 1; }
		state=$$(grep -o "DagRun Finished: dag_id=[^,]*.*state=[a-z]*" $$log | grep -o "state=[a-z]*" | tail -1)
		echo "== airflow dags test $$1: $$state"
		grep -o "Batch finished: [^[]*\|Sequence [^ ]* finished its run: [^[]*\|Rows affected: [0-9]*" $$log | sed 's/ *$$//; s/^/   /' || true
	}
	for dag in connectsafely_scheduled_send connectsafely_inmail connectsafely_mapped_sends connectsafely_notify_on_failure connectsafely_crm_load; do
		run_dag $$dag 1
	done
	all_week='{"send_window": "Mon-Sun 00:00-24:00"}'
	echo "== Connect first, from two accounts: each new contact gets a connection request"
	run_dag connectsafely_connect_sequence 1 "$$all_week"
	$(BIN)/python -m airflow_provider_connectsafely.emulator.show http://127.0.0.1:$(DEMO_PORT) --accept ada-lovelace-1815
	echo "== The next run thanks Ada, from the account that invited her; the others wait for acceptance"
	run_dag connectsafely_connect_sequence 2 "$$all_week"
	echo "== CRM outreach (after the load): every new contact gets one message"
	run_dag connectsafely_crm_outreach 1
	echo "== Its campaign's asset event carries the outcomes: the write-back puts them in the CRM"
	run_dag connectsafely_crm_write_back 1
	echo "== The same outreach offering every contact again: the send ledger reports each as already sent"
	run_dag connectsafely_crm_outreach 2 '{"include_contacted": true}'
	echo "== A three-step sequence, a 'day' being 2 s here: step 1 goes to every contact"
	run_dag connectsafely_crm_sequence 1
	echo "== Grace replies (the emulator plays her); 3 'days' later the follow-up goes to the others only"
	$(BIN)/python -m airflow_provider_connectsafely.emulator.show http://127.0.0.1:$(DEMO_PORT) \
		--reply grace-hopper-1906 "Sounds interesting, let's talk next week"
	sleep 6.5
	run_dag connectsafely_crm_sequence 2
	echo "== The sequence's asset event written back: Grace's reply, the follow-ups' outcomes"
	run_dag connectsafely_crm_write_back 2
	$(BIN)/python example_dags/example_crm.py
	echo "== What the emulator received:"
	$(BIN)/python -m airflow_provider_connectsafely.emulator.show http://127.0.0.1:$(DEMO_PORT)

# Benchmarks (issue 6): ours beside the HTTP and Slack providers, loopback only. Prints a
# Markdown table and writes benchmarks/results.md; `make bench BENCH_ARGS=--quick` is short.
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.installed-bench-$(AIRFLOW_VERSION)

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PIP) install "apache-airflow==$(AIRFLOW_VERSION)" -e ".[bench]" 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c "import airflow.providers.http, airflow.providers.slack"
	touch $@

.PHONY: bench
bench: $(BENCH_STAMP) postgres-deps
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
