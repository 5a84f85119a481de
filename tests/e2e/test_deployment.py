"""What a user of the provider sees in a real Airflow 3 deployment, driven only through the REST API.

Tests 1-3 and 7 read the one manual run of each example DAG made by the ``example_runs`` fixture (for
``aep_daily_schedule``, test 2 reads whichever of its manual and scheduled runs waited for AEP's run);
tests 5 and 6 make runs of their own; test 8 reads the run the scheduler made when the fixture unpaused
``aep_daily_schedule``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.e2e.conftest import SCHEDULE_DAG, SCHEDULED_RUN
from tests.e2e.deployment import DAG_IDS, EVALUATE_NOW, Deployment, Emulator
from tests.e2e.rest import RunResult

pytestmark = pytest.mark.e2e
PIPELINE = "aep_audience_pipeline"
JOB_TASK = "evaluate_audiences"  # the pipeline's AEPRunSegmentJobOperator(deferrable=True)
TRIGGER = "airflow_provider_segmentation.triggers.segmentation.AEPJobTrigger"
# every task of the example DAGs built with deferrable=True
DEFERRABLE_TASKS = [
    (PIPELINE, "evaluate_audiences"),
    (PIPELINE, "export_members"),
    (SCHEDULE_DAG, "wait_for_scheduled_run"),
]
# the tasks that start an AEP job, and the extra link each one offers to that job
JOB_LINKS = [
    (PIPELINE, "evaluate_audiences", "AEP segment job", "/segment/jobs/"),
    (PIPELINE, "export_members", "AEP export job", "/export/jobs/"),
]
SEGMENT_JOBS = "/data/core/ups/segment/jobs"
# Tests 5 and 6 act on a job task while it is deferred and its trigger is polling: at 3 s per job
# status (9 s a job) there is time to do so before the job ends; the suite's default is 1 s.
SLOW_JOB_STEP_SECONDS = 3.0
RUN_TIMEOUT = 150.0


def run_of(example_runs: dict[str, RunResult], dag_id: str) -> RunResult:
    result = example_runs[dag_id]
    assert result.run_id is not None, f"no run of {dag_id} could be triggered: {result.error}"
    return result


def deferred_in(result: RunResult, task_id: str) -> bool:
    return any(snapshot["state"] == "deferred" for snapshot in result.history.get(task_id, []))


def created_segment_jobs(emulator: Emulator) -> list[dict[str, Any]]:
    """Every successful ``POST /data/core/ups/segment/jobs`` the emulator answered, oldest first."""
    return [
        e for e in emulator.requests("POST", SEGMENT_JOBS) if e["path"] == SEGMENT_JOBS and e["status"] < 300
    ]


def wait_for_polling_trigger(deployment: Deployment, run_id: str, task_id: str) -> str:
    """Wait until ``task_id`` is deferred and its trigger polls AEP from the triggerer; the job id.

    Acting on a task whose trigger no triggerer has started yet would test Airflow's clean-up of
    unclaimed triggers, not what the provider does when a user acts on a waiting task. A bulk-get counts
    only if it asks for this job (the emulator keeps request bodies meanwhile): another group's poll, or
    one of an earlier test, says nothing about this trigger.
    """
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    emulator.configure(capture_bodies=True)
    try:
        api.wait_for_task_state(PIPELINE, run_id, task_id, ["deferred"], RUN_TIMEOUT)
        deferred_at = time.time()  # after this, only the trigger reads the job: the worker has exited
        job_id = str(api.xcom(PIPELINE, run_id, task_id, key="aep_job_id"))
        deadline = time.monotonic() + 30
        while True:
            ti = api.task_instance(PIPELINE, run_id, task_id)
            assigned = (ti.get("trigger") or {}).get("triggerer_id") is not None
            # the triggerer asks for this job alone (GET) or with every segment job it watches (bulk-get)
            polls = [
                e
                for e in emulator.requests("GET", f"{SEGMENT_JOBS}/{job_id}")
                + [
                    e
                    for e in emulator.requests("POST", f"{SEGMENT_JOBS}/bulk-get")
                    if job_id in (e.get("request_body") or "")
                ]
                if e["time"] > deferred_at
            ]
            if ti["state"] == "deferred" and assigned and polls:
                return job_id
            assert ti["state"] == "deferred", (
                f"{task_id} left deferred ({ti['state']}) before its trigger was seen polling job {job_id}; "
                "the AEP job ended too soon for this test"
            )
            assert time.monotonic() < deadline, f"no triggerer polled the job of {task_id} within 30 s"
            time.sleep(0.2)
    finally:
        emulator.configure(capture_bodies=False)


@pytest.fixture
def slow_jobs(deployment: Deployment) -> Iterator[None]:
    assert deployment.emulator is not None
    deployment.emulator.configure(job_step_seconds=SLOW_JOB_STEP_SECONDS)
    try:
        yield
    finally:
        deployment.emulator.configure(job_step_seconds=1.0)


# 1 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_example_dag_manual_run_succeeds(example_runs: dict[str, RunResult], dag_id: str) -> None:
    result = run_of(example_runs, dag_id)
    assert result.state == "success", f"{result.describe()} {result.error or ''}"


# 2 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("dag_id", "task_id"), DEFERRABLE_TASKS, ids=[t for _, t in DEFERRABLE_TASKS])
def test_deferrable_task_is_deferred_and_resumed_by_the_triggerer(
    deployment: Deployment, example_runs: dict[str, RunResult], dag_id: str, task_id: str
) -> None:
    api = deployment.api
    result = run_of(example_runs, dag_id)
    if dag_id == SCHEDULE_DAG:  # one run at a time: whichever of its two runs waited for AEP's run
        result = next(
            (
                r
                for r in (result, example_runs.get(SCHEDULED_RUN))
                if r is not None and deferred_in(r, task_id)
            ),
            result,
        )
    history = result.history.get(task_id)
    assert history, f"{task_id} is not a task of {result.describe()}"
    states = [snapshot["state"] for snapshot in history]
    deferred = [snapshot for snapshot in history if snapshot["state"] == "deferred"]
    # the REST API showed the task deferred, waiting on the provider's trigger
    assert deferred, f"{dag_id}.{task_id} was never seen deferred; its states: {states}"
    assert {snapshot["trigger_classpath"] for snapshot in deferred} == {TRIGGER}, deferred
    # ... and the task then finished in the same try: resumed after the trigger fired, not retried
    assert result.final[task_id]["state"] == "success", f"{task_id} states: {states}"
    tries = api.tries(dag_id, str(result.run_id), task_id)
    assert [t["try_number"] for t in tries] == [1], tries
    # the try's log: the worker deferred, a triggerer (a live TriggererJob) ran the trigger until it fired,
    # then a worker resumed the task
    lines = api.log_lines(dag_id, str(result.run_id), task_id, 1)
    text = "\n".join(lines)

    def first(pattern: str, after: int = -1) -> int:
        return next((i for i, line in enumerate(lines) if i > after and pattern in line), -1)

    paused = first("Pausing task as DEFERRED")
    fired = first("Trigger fired event", paused)
    resumed = first("::group::Pre Execute", fired)
    assert paused >= 0, f"the task never deferred according to its log:\n{text[-3000:]}"
    assert fired > paused, f"no trigger event after the deferral in the log:\n{text[-3000:]}"
    assert resumed > fired, f"the task did not resume after the trigger fired:\n{text[-3000:]}"
    triggerers = {int(m.group(1)) for m in re.finditer(r"\.trigger\.(\d+)\.log\b", text)}
    assert triggerers, f"the log has no part written by a triggerer:\n{text[:2000]}"
    assert triggerers <= api.triggerer_job_ids(), triggerers


# 3 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dag_id", "task_id", "link", "api_path"), JOB_LINKS, ids=[t for _, t, _, _ in JOB_LINKS]
)
def test_job_task_extra_link_points_at_its_job(
    deployment: Deployment,
    example_runs: dict[str, RunResult],
    dag_id: str,
    task_id: str,
    link: str,
    api_path: str,
) -> None:
    api = deployment.api
    result = run_of(example_runs, dag_id)
    links = api.links(dag_id, str(result.run_id), task_id)
    url = links.get(link)
    assert url, f"{task_id} has no URL for its {link!r} link: {links}"
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.netloc, url
    job_id = str(api.xcom(dag_id, str(result.run_id), task_id, key="aep_job_id"))
    # against the emulator, the link opens the emulator's own resource for the job
    assert f"{api_path}{quote(job_id, safe='')}" in parts.path, f"{url} is not the job {job_id}"


# 4 ------------------------------------------------------------------------------------------------------
def test_connection_test_endpoint_tells_a_right_secret_from_a_wrong_one(deployment: Deployment) -> None:
    """The UI's "Test" button: a right secret succeeds; then, in the same api-server process, the wrong
    secret for the same client id fails (no token minted for the right secret is reused)."""
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    conn = json.loads(emulator.exported["AIRFLOW_CONN_AEP_DEFAULT"])
    form = {
        "connection_id": "aep_connection_form",
        "conn_type": "adobe_experience_platform",
        "login": conn["login"],
        "password": conn["password"],
        "schema": conn["schema"],
        "extra": json.dumps(conn["extra"]),
    }
    api_server = next(p for p in deployment.processes if p.name == "api-server")
    pid = api_server.popen.pid
    ims_before = len(emulator.requests("POST", "/ims/token/v3"))

    right = api.request("POST", "/connections/test", json=form)
    assert right["status"] is True, right
    wrong = api.request("POST", "/connections/test", json={**form, "password": "totally-wrong"})
    assert wrong["status"] is False, wrong
    assert wrong["message"] and "totally-wrong" not in wrong["message"], wrong

    api_server.check_alive()
    assert api_server.popen.pid == pid
    ims = emulator.requests("POST", "/ims/token/v3")[ims_before:]
    assert 401 in [e["status"] for e in ims], f"the wrong secret never reached IMS: {ims}"


# 5 ------------------------------------------------------------------------------------------------------
def test_clearing_a_deferred_job_task_reuses_its_aep_job(
    deployment: Deployment, slow_jobs: None, new_aep_day: None
) -> None:
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    api.unpause(PIPELINE)
    created_before = len(created_segment_jobs(emulator))
    run_id = api.trigger(PIPELINE, EVALUATE_NOW)
    job_id = wait_for_polling_trigger(deployment, run_id, JOB_TASK)

    cleared = api.clear(PIPELINE, run_id, [JOB_TASK])
    assert [ti["task_id"] for ti in cleared] == [JOB_TASK], cleared
    state = api.wait_for_run(PIPELINE, run_id, RUN_TIMEOUT)

    tis = {task_id: ti["state"] for task_id, ti in api.task_instances(PIPELINE, run_id).items()}
    created = created_segment_jobs(emulator)[created_before:]
    deleted = emulator.requests("DELETE", f"{SEGMENT_JOBS}/{job_id}")
    problems = []
    if state != "success":
        problems.append(f"the run ended {state}; task states {tis}")
    if len(created) != 1:
        problems.append(f"{len(created)} segment jobs were created for the run, not 1: {created}")
    if deleted:
        problems.append(f"the job {job_id} was cancelled (DELETE) although the task was only cleared")
    assert not problems, "; ".join(problems)
    summary = api.xcom(PIPELINE, run_id, JOB_TASK)
    assert summary["job_id"] == job_id, f"the cleared task finished with another job: {summary}"


# 6 ------------------------------------------------------------------------------------------------------
def test_marking_a_deferred_job_task_failed_cancels_its_aep_job(
    deployment: Deployment, slow_jobs: None, new_aep_day: None
) -> None:
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    api.unpause(PIPELINE)
    run_id = api.trigger(PIPELINE, EVALUATE_NOW)
    job_id = wait_for_polling_trigger(deployment, run_id, JOB_TASK)

    marked = api.mark(PIPELINE, run_id, JOB_TASK, "failed")
    assert [ti["state"] for ti in marked["task_instances"]] == ["failed"], marked
    deadline = time.monotonic() + 30
    deleted: list[dict[str, Any]] = []
    while not deleted and time.monotonic() < deadline:
        deleted = [e for e in emulator.requests("DELETE", f"{SEGMENT_JOBS}/{job_id}") if e["status"] < 300]
        time.sleep(0.5)
    assert deleted, (
        f"no DELETE {SEGMENT_JOBS}/{job_id} within 30 s of marking {JOB_TASK} failed: the AEP job keeps "
        f"running; the emulator saw for it: {emulator.requests(path=f'{SEGMENT_JOBS}/{job_id}')}"
    )
    assert api.task_instance(PIPELINE, run_id, JOB_TASK)["state"] == "failed"


# 7 ------------------------------------------------------------------------------------------------------
def test_manual_run_of_the_schedule_dag_succeeds(
    deployment: Deployment, example_runs: dict[str, RunResult]
) -> None:
    result = run_of(example_runs, SCHEDULE_DAG)
    assert result.state == "success", f"{result.describe()} {result.error or ''}"
    run = deployment.api.dag_run(SCHEDULE_DAG, str(result.run_id))
    assert run["run_type"] == "manual", run
    # the sensor returned the schedule's run: a succeeded segment job
    found = deployment.api.xcom(SCHEDULE_DAG, str(result.run_id), "wait_for_scheduled_run")
    assert found.get("job_id") and found.get("status") == "SUCCEEDED", found


# 8 ------------------------------------------------------------------------------------------------------
def test_the_run_the_scheduler_makes_on_unpause_of_the_schedule_dag_succeeds(
    deployment: Deployment, example_runs: dict[str, RunResult]
) -> None:
    """Unpausing ``aep_daily_schedule`` makes a scheduled run (data interval of zero length at 02:00 UTC).

    Its sensor's window starts ``lookback`` before the run, so it reports the AEP run that the schedule
    made this night (here: the one the harness fired), as the manual run does, instead of waiting a day.
    """
    assert SCHEDULED_RUN in example_runs, "unpausing aep_daily_schedule made no scheduled run"
    result = example_runs[SCHEDULED_RUN]
    assert result.state == "success", f"{result.describe()} {result.error or ''}"
    api = deployment.api
    run = api.dag_run(SCHEDULE_DAG, str(result.run_id))
    assert run["run_type"] == "scheduled", run
    assert run["data_interval_start"] == run["data_interval_end"], run  # CronTriggerTimetable's runs
    found = api.xcom(SCHEDULE_DAG, str(result.run_id), "wait_for_scheduled_run")
    manual = api.xcom(SCHEDULE_DAG, str(run_of(example_runs, SCHEDULE_DAG).run_id), "wait_for_scheduled_run")
    assert found["status"] == "SUCCEEDED" and found["job_id"] == manual["job_id"], (found, manual)
