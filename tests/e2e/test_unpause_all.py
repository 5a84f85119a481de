"""Unpausing every example DAG at once on a fresh emulator: no run fails, and none runs more often than
its schedule says (a daily DAG once, a DAG on AEP's nightly runs once per run, a manual DAG never)."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.deployment import Deployment

BOUND = 180.0  # seconds the scheduler gets; every run of a fresh unpause ends well within it
SCHEDULE_DAG, UPSERT_TASK = "aep_daily_schedule", "upsert_schedule"


def runs_of(deployment: Deployment, dag_id: str) -> list[dict[str, Any]]:
    return list(deployment.api.get(f"/dags/{dag_id}/dagRuns")["dag_runs"])


def test_unpausing_every_example_dag_fails_no_run_and_runs_each_on_its_schedule(
    deployment: Deployment,
) -> None:
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    dags = {dag["dag_id"]: dag for dag in api.get("/dags", params={"tags": "example"})["dags"]}
    assert {"aep_audiences_drift", "aep_nightly_audience_export", SCHEDULE_DAG} <= set(dags)
    before = {dag_id: {r["dag_run_id"] for r in runs_of(deployment, dag_id)} for dag_id in dags}
    emulator.start_next_day()  # a fresh AEP day: nothing this test does competes with earlier runs
    for dag_id in dags:
        api.unpause(dag_id)
    fired = 0
    deadline = time.monotonic() + BOUND
    new: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() < deadline:
        new = {d: [r for r in runs_of(deployment, d) if r["dag_run_id"] not in before[d]] for d in dags}
        if not fired:  # the nightly schedule's run, as its cron would start it (tonight, not in a test)
            for run in new.get(SCHEDULE_DAG, []):
                upsert = api.task_instances(SCHEDULE_DAG, run["dag_run_id"]).get(UPSERT_TASK, {})
                if upsert.get("state") == "success":
                    schedule = api.xcom(SCHEDULE_DAG, run["dag_run_id"], UPSERT_TASK)
                    emulator.trigger_schedule(str(schedule["id"]))
                    fired += 1
        states = [r["state"] for runs in new.values() for r in runs]
        if (
            fired
            and states
            and all(s in ("success", "failed") for s in states)
            and new.get("aep_audience_landed")
        ):
            break
        time.sleep(2)
    failed = {d: [r["dag_run_id"] for r in runs if r["state"] == "failed"] for d, runs in new.items()}
    assert not any(failed.values()), f"failed runs: {failed}"
    for dag_id, runs in new.items():
        timetable = str(dags[dag_id].get("timetable_summary") or "")
        if dag_id in ("aep_nightly_audience_export", "aep_audience_landed"):
            allowed = fired  # one run per nightly run of the schedule (and per export of it)
        elif timetable in ("", "None"):
            allowed = 0  # manual DAGs: unpausing starts nothing
        else:
            allowed = 1  # a daily DAG unpaused with catchup=False: its latest run, once
        assert len(runs) <= allowed, (
            f"{dag_id} ({timetable}) ran {len(runs)} times, at most {allowed} expected"
        )
    unfinished = {d: [r["state"] for r in runs] for d, runs in new.items() if runs}
    assert all(s == "success" for states in unfinished.values() for s in states), unfinished
