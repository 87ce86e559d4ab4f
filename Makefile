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
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
DEMO_PORT ?= 8099
DEMO_HOME := $(CURDIR)/.airflow-demo
PYTEST_ARGS ?=

.PHONY: install test lint typecheck demo clean

$(STAMP): pyproject.toml setup.cfg
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(PIP) install "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]" 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import airflow_provider_connectsafely, airflow.sdk"
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check airflow_provider_connectsafely tests example_dags
	$(BIN)/ruff format --check airflow_provider_connectsafely tests example_dags

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: install
	@rm -rf $(DEMO_HOME); mkdir -p $(DEMO_HOME)
	export AIRFLOW_HOME=$(DEMO_HOME) AIRFLOW__CORE__LOAD_EXAMPLES=False
	export AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/example_dags
	export AIRFLOW_CONN_CONNECTSAFELY_DEFAULT='{"conn_type": "connectsafely", "host": "http://127.0.0.1:$(DEMO_PORT)", "password": "demo-api-key"}'
	$(BIN)/connectsafely-emulator --port $(DEMO_PORT) --api-key demo-api-key > $(DEMO_HOME)/emulator.log 2>&1 &
	emulator=$$!
	trap 'kill $$emulator 2>/dev/null || true' EXIT
	for _ in $$(seq 50); do grep -q listening $(DEMO_HOME)/emulator.log && break; sleep 0.2; done
	cat $(DEMO_HOME)/emulator.log
	grep -q listening $(DEMO_HOME)/emulator.log || { echo "emulator did not start (is port $(DEMO_PORT) free? try DEMO_PORT=...)"; exit 1; }
	$(BIN)/airflow db migrate > $(DEMO_HOME)/db-migrate.log 2>&1
	for dag in connectsafely_scheduled_send connectsafely_inmail connectsafely_mapped_sends; do
		echo "== airflow dags test $$dag"
		$(BIN)/airflow dags test $$dag > $(DEMO_HOME)/$$dag.log 2>&1 || { tail -40 $(DEMO_HOME)/$$dag.log; exit 1; }
		grep -o "DagRun Finished: dag_id=[^,]*.*state=[a-z]*" $(DEMO_HOME)/$$dag.log | grep -o "state=[a-z]*" | tail -1
	done
	echo "== What the emulator received:"
	$(BIN)/python -m airflow_provider_connectsafely.emulator.show http://127.0.0.1:$(DEMO_PORT)

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
