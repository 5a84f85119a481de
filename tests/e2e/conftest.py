"""End-to-end suite: a real Airflow 3 deployment (Postgres, Celery on Redis, two triggerers, two workers).

The tests in this directory are marked ``e2e`` and are SKIPPED unless they are asked for, so that a
plain ``pytest -q`` stays fast. They run when either

* the marker expression selects them: ``pytest -m e2e tests/e2e`` (what ``make e2e`` runs), or
* the environment says so: ``AEP_E2E=1 pytest tests/e2e``.

The session starts the emulator, Postgres, Redis and the Airflow processes once (``deployment`` fixture; see
``deployment.py`` for every setting and why) and tears them all down at the end, also on failure
or Ctrl-C. A failing test's report ends with the tail of each process's log; the full logs stay in
the directory printed at the end of the session.
"""

from __future__ import annotations

import atexit
import os
import re
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tests.e2e.deployment import DAG_IDS, EVALUATE_NOW, Deployment
from tests.e2e.rest import TERMINAL_RUN_STATES, RunResult
from tests.e2e.services import DeploymentError

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
DEPLOYMENT_KEY = pytest.StashKey[Deployment]()
RUN_TIMEOUT = 240.0
# The schedule fires when the harness says so (see example_runs), never on its own during a suite.
SCHEDULE_DAG, SCHEDULE_TASK, UPSERT_SCHEDULE_TASK = (
    "aep_daily_schedule",
    "wait_for_scheduled_run",
    "upsert_schedule",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: real Airflow deployment in separate processes (run with -m e2e or AEP_E2E=1)"
    )


def e2e_enabled(config: pytest.Config) -> bool:
    if os.environ.get("AEP_E2E") == "1":
        return True
    markexpr = config.getoption("markexpr", default="") or ""
    return bool(re.search(r"(?<!not )\be2e\b", markexpr))


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the marker must be there by then
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e_items = [item for item in items if str(item.path).startswith(E2E_DIR)]
    for item in e2e_items:
        item.add_marker(pytest.mark.e2e)
    if e2e_enabled(config):
        return
    skip = pytest.mark.skip(reason="end-to-end deployment suite: run with `-m e2e` (make e2e) or AEP_E2E=1")
    for item in e2e_items:
        item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    deployment = item.config.stash.get(DEPLOYMENT_KEY, None)
    if report.when == "call" and report.failed and deployment is not None:
        report.sections.append(("e2e deployment logs (tails)", deployment.tails(30)))
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    deployment = config.stash.get(DEPLOYMENT_KEY, None)
    if deployment is not None:
        terminalreporter.write_line(f"e2e: process logs in {deployment.logs}")
        for name, seconds in deployment.timings.items():
            terminalreporter.write_line(f"e2e: {name}: {seconds} s")
        for figure in deployment.figures:
            terminalreporter.write_line(f"e2e: {figure}")


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Deployment]:
    started = time.monotonic()
    dep = Deployment(tmp_path_factory.mktemp("e2e"))
    pytestconfig.stash[DEPLOYMENT_KEY] = dep
    atexit.register(dep.stop)  # a last resort if the session dies before the teardown below
    try:
        try:
            dep.start()
        except (DeploymentError, OSError) as exc:
            pytest.fail(f"the e2e deployment did not come up: {exc}\n{dep.tails(40)}", pytrace=False)
        dep.timings["startup"] = round(time.monotonic() - started, 1)
        yield dep
    finally:
        dep.stop()


@pytest.fixture
def new_aep_day(deployment: Deployment) -> None:
    """A test that makes on-demand segment jobs starts on a new day of the emulator's clock: AEP allows
    2 on-demand runs per sandbox per UTC day, and the emulator enforces it (the rule stays on)."""
    assert deployment.emulator is not None
    deployment.emulator.start_next_day()


PIPELINE_DAG = "aep_audience_pipeline"  # run with EVALUATE_NOW: the job-task tests read its segment job
SCHEDULED_RUN = "aep_daily_schedule@scheduled"  # example_runs' key for the run the scheduler makes


@pytest.fixture(scope="session")
def example_runs(deployment: Deployment) -> dict[str, RunResult]:
    """One manual run of each example DAG, all at once: unpause, trigger, poll every task instance.

    Unpausing ``aep_daily_schedule`` also makes the scheduler start a run (its latest 02:00, with a data
    interval of zero length): it is observed too, under ``SCHEDULED_RUN``. The DAG runs one run at a time,
    so one of its two runs waits for the AEP schedule's run and the other finds it finished. The
    schedule's cron (01:00 UTC on 1 January) does not fire during a suite, so the harness fires it through
    the emulator once a sensor of the DAG is deferred (or 60 s after the schedule was upserted, should the
    sensor not defer): a scheduled run that can neither finish before the sensor's first poke nor be missed.
    """
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    results = {dag_id: RunResult(dag_id) for dag_id in DAG_IDS}
    started: dict[str, float] = {}
    for key, result in list(results.items()):
        try:
            api.unpause(result.dag_id)
            result.run_id = api.trigger(
                result.dag_id, EVALUATE_NOW if result.dag_id == PIPELINE_DAG else None
            )
            started[key] = time.monotonic()
        except AssertionError as exc:
            errors = "".join(f"\n{name}: {trace}" for name, trace in deployment.import_errors.items())
            result.error = f"{exc}{errors}"
    fired = False
    upserted_at: float | None = None
    deadline = time.monotonic() + RUN_TIMEOUT
    pending = {key: r for key, r in results.items() if r.run_id is not None}
    while pending and time.monotonic() < deadline:
        if SCHEDULED_RUN not in results and SCHEDULE_DAG in pending:
            runs = api.get(f"/dags/{SCHEDULE_DAG}/dagRuns")["dag_runs"]
            scheduled = [r for r in runs if r["run_type"] == "scheduled"]
            if scheduled:
                results[SCHEDULED_RUN] = pending[SCHEDULED_RUN] = RunResult(
                    SCHEDULE_DAG, str(scheduled[0]["dag_run_id"])
                )
                started[SCHEDULED_RUN] = time.monotonic()
        for key, result in list(pending.items()):
            assert result.run_id is not None
            result.observe(api.task_instances(result.dag_id, result.run_id))
            state = api.dag_run(result.dag_id, result.run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                result.observe(api.task_instances(result.dag_id, result.run_id))
                result.state, result.seconds = state, time.monotonic() - started[key]
                del pending[key]
            elif result.dag_id == SCHEDULE_DAG and not fired:
                if result.final.get(UPSERT_SCHEDULE_TASK, {}).get("state") != "success":
                    continue
                upserted_at = upserted_at or time.monotonic()
                sensor = result.final.get(SCHEDULE_TASK, {})
                running_in_triggerer = (sensor.get("trigger") or {}).get("triggerer_id") is not None
                if (sensor.get("state") == "deferred" and running_in_triggerer) or (
                    time.monotonic() - upserted_at > 60
                ):
                    schedule = api.xcom(result.dag_id, result.run_id, UPSERT_SCHEDULE_TASK)
                    emulator.trigger_schedule(str(schedule["id"]))
                    fired = True
        time.sleep(0.3)
    for key, result in pending.items():
        assert result.run_id is not None
        result.state = api.dag_run(result.dag_id, result.run_id)["state"]
        result.seconds = time.monotonic() - started[key]
        result.error = f"still {result.state} after {RUN_TIMEOUT:.0f} s"
    deployment.timings["example runs"] = round(max((r.seconds for r in results.values()), default=0), 1)
    return results
