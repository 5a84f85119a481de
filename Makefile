# Every target works from a fresh clone with only Python 3.10+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck demo bench emulator clean e2e matrix wheel-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade uv || true
	if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'; \
	else $(BIN)/python -m pip install --quiet -e '.[test]'; fi
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_segmentation example_dags tests
	$(BIN)/ruff format --check airflow_provider_segmentation example_dags tests

typecheck: $(STAMP)
	$(BIN)/mypy

# Without Adobe's segmentation.yaml beside the clone the contract tests skip, and say so in the summary;
# AEP_CONTRACT_TESTS=required (CI) fails the run instead. PYTEST_ARGS adds options (e.g. --junitxml=...).
test: lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

# A deployment as users run it: its own Postgres (metadata database) and Redis (Celery broker) from the
# Debian packages postgresql and redis-server (.ci/run installs them), api-server, scheduler with the
# CeleryExecutor, dag-processor, two triggerers, two Celery workers; the [e2e] extra brings the Celery
# provider and the Postgres drivers. Prints how long each part took.
e2e: $(STAMP)
	if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test,e2e]'; \
	else $(BIN)/python -m pip install --quiet -e '.[test,e2e]'; fi
	# build/e2e keeps the deployment's logs and the UI page's screenshots (screenshots/) after the run
	rm -rf build/e2e && mkdir -p build  # pytest makes --basetemp but not its parent
	$(BIN)/pytest -q --durations=0 --basetemp=build/e2e -m e2e tests/e2e

# The client/hook/operator/sensor/trigger/emulator/PQL tests on the latest patch of every Airflow 3 minor
# (3.0-3.3), one after the other, each in its own venv under .venv-matrix/ (built with uv when missing or
# stale); one summary line per version at the end. AIRFLOW_MATRIX="3.0.6 3.3.2" picks versions.
MATRIX_TESTS ?= tests
matrix: $(STAMP)
	$(BIN)/python tests/matrix.py --uv $(BIN)/uv -- $(MATRIX_TESTS)

# The wheel as a user gets it: built, installed with its [test] extra into a fresh venv, and the client,
# hook, PQL and provider-info tests run from a copy of tests/ where the clone's package is not importable.
WHEEL_TEST  := build/wheel-test
WHEEL_TESTS ?= tests/client tests/hooks tests/pql tests/airflow/test_provider_info.py
wheel-test: $(STAMP)
	rm -rf $(WHEEL_TEST)
	$(BIN)/uv build --quiet --wheel --out-dir $(WHEEL_TEST)/dist
	$(BIN)/uv venv --quiet --python $(BIN)/python $(WHEEL_TEST)/venv
	$(BIN)/uv pip install --quiet --python $(WHEEL_TEST)/venv/bin/python "$$(echo $(WHEEL_TEST)/dist/*.whl)[test]"
	mkdir $(WHEEL_TEST)/run && cp -r pyproject.toml tests $(WHEEL_TEST)/run/
	cd $(WHEEL_TEST)/run && ../venv/bin/python -c "import sys, sysconfig, airflow_provider_segmentation as p; \
	  site = sysconfig.get_paths()['purelib']; print('testing', p.__file__); \
	  sys.exit(0 if p.__file__.startswith(site) else 'not the installed wheel: ' + p.__file__)"
	cd $(WHEEL_TEST)/run && ../venv/bin/pytest -q -p no:cacheprovider $(WHEEL_TESTS)

emulator: $(STAMP)
	$(BIN)/aep-emulator --host 127.0.0.1 --port 8765

clean:
	rm -rf $(VENV) $(WHEEL_TEST) .pytest_cache .mypy_cache .ruff_cache

demo: $(STAMP)
	$(BIN)/aep-emulator demo --dags-folder example_dags

BENCH := .venv-bench/bin

# Peers (aepp, the dbt Cloud provider) go into a separate venv, never into the package's dependencies.
$(BENCH)/.installed: pyproject.toml $(STAMP)
	$(PYTHON) -m venv .venv-bench
	$(BIN)/uv pip install --quiet --python $(BENCH)/python -e . aepp==0.6.0 apache-airflow-providers-dbt-cloud==4.11.1
	touch $@

# Import costs are timed on compiled bytecode, as a deployment runs (PYTHONDONTWRITEBYTECODE=1 would
# otherwise leave every import compiling from source); a no-op once the bytecode is up to date.
bench: $(BENCH)/.installed
	$(BENCH)/python -m compileall -q -j 0 -x 'aepp/cli/' .venv-bench/lib airflow_provider_segmentation > /dev/null  # aepp's CLI is 3.12 syntax
	$(BENCH)/python tests/benchmarks/bench_pql.py
	$(BENCH)/python tests/benchmarks/bench_profiles_memory.py
	$(BIN)/python tests/benchmarks/bench_triggerer.py  # needs Airflow 3.3 shared trigger streams (the peers pin .venv-bench to 3.2)
	$(BENCH)/python tests/benchmarks/bench_provider_info.py
	$(BENCH)/python tests/benchmarks/bench_peers.py
	$(BIN)/python tests/benchmarks/call_path.py  # files one call goes through, operator to socket
