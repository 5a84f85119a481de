"""End-to-end suite: a real Airflow 3 deployment (api-server, scheduler, dag-processor, triggerer).

The tests in this directory are marked ``e2e`` and are SKIPPED unless they are asked for, so that a
plain ``pytest -q`` stays fast. They run when either

* the marker expression selects them: ``pytest -m e2e tests/e2e`` (what ``make e2e`` runs), or
* the environment says so: ``AEP_E2E=1 pytest tests/e2e``.

The session starts the emulator and the four Airflow processes once (``deployment`` fixture; see
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

from tests.e2e.deployment import DAG_IDS, TERMINAL_RUN_STATES, Deployment, DeploymentError, RunResult

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
DEPLOYMENT_KEY = pytest.StashKey[Deployment]()
RUN_TIMEOUT = 240.0
# The schedule fires when the harness says so (see example_runs), never on its own during a suite.
SCHEDULE_TASK, UPSERT_SCHEDULE_TASK = "wait_for_scheduled_run", "upsert_schedule"


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
        terminalreporter.write_line(f"e2e: process logs in {deployment.logs}; timings {deployment.timings}")


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


@pytest.fixture(scope="session")
def example_runs(deployment: Deployment) -> dict[str, RunResult]:
    """One manual run of each example DAG, all at once: unpause, trigger, poll every task instance.

    ``aep_daily_schedule`` waits for its AEP schedule's run; the schedule's cron (01:00 UTC on 1 January)
    does not fire during a suite, so the harness fires it through the emulator once a sensor of the DAG
    is deferred (or 60 s after the schedule was upserted, should the sensor not defer): a scheduled run
    that can neither finish before the sensor's first poke nor be missed. Unpausing the DAG also makes a
    scheduled run; the DAG runs one run at a time, so that one may be the first to wait.
    """
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    results = {dag_id: RunResult(dag_id) for dag_id in DAG_IDS}
    started: dict[str, float] = {}
    for dag_id, result in results.items():
        try:
            api.unpause(dag_id)
            result.run_id = api.trigger(dag_id)
            started[dag_id] = time.monotonic()
        except AssertionError as exc:
            errors = "".join(f"\n{name}: {trace}" for name, trace in deployment.import_errors.items())
            result.error = f"{exc}{errors}"
    fired = False
    upserted_at: float | None = None
    deadline = time.monotonic() + RUN_TIMEOUT
    pending = [r for r in results.values() if r.run_id is not None]
    while pending and time.monotonic() < deadline:
        for result in list(pending):
            assert result.run_id is not None
            result.observe(api.task_instances(result.dag_id, result.run_id))
            state = api.dag_run(result.dag_id, result.run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                result.observe(api.task_instances(result.dag_id, result.run_id))
                result.state, result.seconds = state, time.monotonic() - started[result.dag_id]
                pending.remove(result)
            elif result.dag_id == "aep_daily_schedule" and not fired:
                # the DAG runs one run at a time: the manual run, or the one the scheduler made on unpause
                for run in api.get(f"/dags/{result.dag_id}/dagRuns")["dag_runs"]:
                    run_id = str(run["dag_run_id"])
                    tis = api.task_instances(result.dag_id, run_id)
                    if tis.get(UPSERT_SCHEDULE_TASK, {}).get("state") != "success":
                        continue
                    upserted_at = upserted_at or time.monotonic()
                    sensor = tis.get(SCHEDULE_TASK, {})
                    running_in_triggerer = (sensor.get("trigger") or {}).get("triggerer_id") is not None
                    if (sensor.get("state") == "deferred" and running_in_triggerer) or (
                        time.monotonic() - upserted_at > 60
                    ):
                        schedule = api.xcom(result.dag_id, run_id, UPSERT_SCHEDULE_TASK)
                        emulator.trigger_schedule(str(schedule["id"]))
                        fired = True
                        break
        time.sleep(0.3)
    for result in pending:
        assert result.run_id is not None
        result.state = api.dag_run(result.dag_id, result.run_id)["state"]
        result.seconds = time.monotonic() - started[result.dag_id]
        result.error = f"still {result.state} after {RUN_TIMEOUT:.0f} s"
    deployment.timings["example runs"] = round(max((r.seconds for r in results.values()), default=0), 1)
    return results
