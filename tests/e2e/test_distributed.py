"""The deployment's distributed parts: two triggerers, two Celery workers, many runs at once.

* A triggerer killed while it holds deferred job tasks: the other one takes them over, and each run
  still ends with the one AEP job its task started.
* One run's tasks on both Celery workers, which share nothing but the connection (their own home and
  temporary directory; the export task gets the segment ids through XCom).
* 20 concurrent runs of the audience pipeline: all succeed with one export job each; the requests and
  IMS token calls they made are printed (the README quotes them).
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import SCHEDULE_DAG
from tests.e2e.deployment import EVALUATE_NOW, TRIGGERERS, WORKERS, Deployment
from tests.e2e.rest import TERMINAL_RUN_STATES, RunResult
from tests.e2e.services import wait_for
from tests.e2e.test_deployment import (
    JOB_TASK,
    PIPELINE,
    RUN_TIMEOUT,
    SEGMENT_JOBS,
    created_segment_jobs,
    run_of,
    wait_for_polling_trigger,
)

pytestmark = pytest.mark.e2e
EXPORT_TASK, EXPORT_JOBS = "export_members", "/data/core/ups/export/jobs"
NIGHTLY_TASK = "wait_for_nightly_evaluation"  # the pipeline's default: the sandbox's nightly evaluation
IMS_TOKEN = "/ims/token/v3"
DAILY_ON_DEMAND_RUNS = 2  # AEP's allowance per sandbox and UTC day, which the emulator enforces
KILL_JOB_STEP_SECONDS = 5.0  # a job takes 3 steps: time to see both tasks deferred before the clock stops
TAKEOVER_TIMEOUT = 90.0  # the health-check threshold (15 s) and a few triggerer loops, on a busy machine
CONCURRENT_RUNS = 20


def triggerer_of(deployment: Deployment, run_id: str) -> int | None:
    trigger = deployment.api.task_instance(PIPELINE, run_id, JOB_TASK).get("trigger") or {}
    return trigger.get("triggerer_id")


def test_a_killed_triggerers_deferred_tasks_are_taken_over_by_the_other(
    deployment: Deployment, new_aep_day: None
) -> None:
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    started = time.monotonic()
    api.unpause(PIPELINE)
    created_before = len(created_segment_jobs(emulator))
    emulator.configure(job_step_seconds=KILL_JOB_STEP_SECONDS)
    victim = None
    try:
        run_ids = [api.trigger(PIPELINE, EVALUATE_NOW) for _ in range(DAILY_ON_DEMAND_RUNS)]
        jobs = {run_id: wait_for_polling_trigger(deployment, run_id, JOB_TASK) for run_id in run_ids}
        emulator.freeze_clock(True)  # the AEP jobs stay "processing" until the takeover has been seen
        hosts = api.job_hostnames("TriggererJob")
        holders = {run_id: hosts[int(str(triggerer_of(deployment, run_id)))] for run_id in run_ids}
        victim = holders[run_ids[0]]
        held = [run_id for run_id, host in holders.items() if host == victim]
        deployment.process(victim).kill()

        def taken_over() -> bool:
            names = api.job_hostnames("TriggererJob")
            now = [triggerer_of(deployment, run_id) for run_id in held]
            return all(job is not None and names[job] != victim for job in now)

        wait_for(f"the triggers {victim} held to run in the other triggerer", taken_over, TAKEOVER_TIMEOUT)
    finally:
        emulator.freeze_clock(False)
        emulator.configure(job_step_seconds=1.0)
        if victim is not None:
            deployment.restart(victim)
    states = {run_id: api.wait_for_run(PIPELINE, run_id, RUN_TIMEOUT) for run_id in run_ids}
    created = created_segment_jobs(emulator)[created_before:]
    assert set(states.values()) == {"success"}, states
    assert len(created) == len(run_ids), f"{len(created)} segment jobs for {len(run_ids)} runs: {created}"
    for run_id, job_id in jobs.items():
        assert api.xcom(PIPELINE, run_id, JOB_TASK)["job_id"] == job_id, run_id
        assert not emulator.requests("DELETE", f"{SEGMENT_JOBS}/{job_id}"), f"job {job_id} was cancelled"
    deployment.timings["triggerer takeover"] = round(time.monotonic() - started, 1)
    deployment.figures.append(
        f"{victim} killed holding {len(held)} of {len(run_ids)} deferred job tasks; all taken over"
    )


def test_one_runs_tasks_ran_on_both_celery_workers_sharing_only_the_connection(
    deployment: Deployment, example_runs: dict[str, RunResult]
) -> None:
    result = run_of(example_runs, PIPELINE)
    assert result.state == "success", result.describe()
    hosts = {task_id: ti["hostname"] for task_id, ti in result.final.items() if ti["state"] == "success"}
    # the export task's queue is served by worker-b alone, every other task's by worker-a alone
    assert hosts[EXPORT_TASK] == "worker-b", hosts
    assert set(hosts.values()) == set(WORKERS), hosts
    # worker-b got the segment ids that worker-a's tasks produced through XCom (the Execution API), and
    # reached AEP through the connection alone: the export of those segments succeeded
    exported = deployment.api.xcom(PIPELINE, str(result.run_id), EXPORT_TASK)
    assert exported["status"] == "SUCCEEDED" and exported["exported_profiles"] > 0, exported
    homes = {deployment.process(name).env["HOME"] for name in WORKERS}
    assert len(homes) == len(WORKERS), homes


def test_twenty_concurrent_pipeline_runs_all_succeed_with_one_export_job_each(
    deployment: Deployment, example_runs: dict[str, RunResult]
) -> None:
    """The pipeline in its default mode, riding the sandbox's nightly evaluation (the schedule that
    ``aep_daily_schedule`` keeps): 20 runs spend none of AEP's on-demand allowance (2 a day)."""
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    conf = {"evaluate_now": False}
    schedule = api.xcom(SCHEDULE_DAG, str(run_of(example_runs, SCHEDULE_DAG).run_id), "upsert_schedule")
    api.unpause(PIPELINE)
    logged_before, started = len(emulator.requests()), time.monotonic()
    run_ids = [api.trigger(PIPELINE, conf) for _ in range(CONCURRENT_RUNS)]
    pending, states, fired = set(run_ids), {}, False
    deadline = time.monotonic() + RUN_TIMEOUT * 2
    while pending and time.monotonic() < deadline:
        for run_id in sorted(pending):
            state = api.dag_run(PIPELINE, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                states[run_id] = state
                pending.discard(run_id)
            elif not fired and api.task_instance(PIPELINE, run_id, NIGHTLY_TASK)["state"] == "deferred":
                # a run waits for the nightly evaluation: AEP's schedule runs it now, once for all runs
                emulator.trigger_schedule(str(schedule["id"]))
                fired = True
        time.sleep(1.0)
    seconds = round(time.monotonic() - started, 1)
    log = [e for e in emulator.requests()[logged_before:] if not e["path"].startswith("/_emulator")]
    ims = [e for e in log if e["method"] == "POST" and e["path"] == IMS_TOKEN]
    segment_jobs = [e for e in log if e["method"] == "POST" and e["path"] == SEGMENT_JOBS]
    export_jobs = [e for e in log if e["method"] == "POST" and e["path"] == EXPORT_JOBS and e["status"] < 300]
    deployment.timings[f"{CONCURRENT_RUNS} concurrent runs"] = seconds
    deployment.figures.append(
        f"{CONCURRENT_RUNS} concurrent runs of {PIPELINE} ({len(TRIGGERERS)} triggerers, {len(WORKERS)} "
        f"workers): {seconds} s, {len(log)} AEP/IMS requests, {len(ims)} IMS token calls, "
        f"{len(segment_jobs)} segment job creates, {len(export_jobs)} export job creates"
    )
    assert not pending, f"{len(pending)} runs still running after {seconds} s"
    # one IMS token per credential per machine: each worker has a HOME (token cache) of its own, the other
    # components share one; tokens minted by earlier tests are reused, so a re-mint is the most a
    # machine may need here (after a test stepped the emulator's clock past the token's lifetime)
    machines = len(WORKERS) + 1
    assert len(ims) <= machines, f"{len(ims)} IMS token calls for {machines} machines: {ims}"
    assert set(states.values()) == {"success"}, states
    assert not segment_jobs, f"the runs asked for on-demand segment jobs: {segment_jobs}"
    exports = {str(api.xcom(PIPELINE, run_id, EXPORT_TASK, key="aep_job_id")) for run_id in run_ids}
    assert len(exports) == len(export_jobs) == CONCURRENT_RUNS, (len(exports), len(export_jobs))
