"""Event-driven scheduling in the real deployment: AEP's scheduled run -> watcher -> export DAG -> asset.

The example DAGs of ``example_dags/example_audience_asset.py``: ``aep_nightly_audience_export`` is
scheduled on the runs of the "nightly audiences" AEP schedule (an ``AEPJobFinishedTrigger`` in the
triggerer), and ``aep_audience_landed`` on the dataset its export task writes. The test fires the
schedule through the emulator and follows both DAG runs through the REST API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.deployment import Deployment
from tests.e2e.services import wait_for

pytestmark = pytest.mark.e2e
WATCHING, LANDED = "aep_nightly_audience_export", "aep_audience_landed"
SCHEDULE_NAME = "nightly audiences"  # what the example DAG watches (and aep_daily_schedule keeps)
TIMEOUT = 90.0


@pytest.fixture
def asset_dags(deployment: Deployment) -> Iterator[None]:
    """Both example DAGs unpaused and re-parsed (Airflow attaches a watcher only to an unpaused DAG's
    asset, when the file is parsed); paused again afterwards so that other tests' runs do not start them."""
    api = deployment.api
    dag_ids = wait_for(
        "the asset example DAGs",
        lambda: {d["dag_id"] for d in api.get("/dags", params={"limit": 100})["dags"]} >= {WATCHING, LANDED},
        120,
        1.0,
        deployment.check_alive,
    )
    assert dag_ids

    def reparse() -> None:
        token = api.get(f"/dags/{WATCHING}/details")["file_token"]
        api.request("PUT", f"/parseDagFile/{quote(token, safe='')}", expect=(200, 201))

    for dag_id in (WATCHING, LANDED):
        api.unpause(dag_id)
    reparse()
    try:
        yield
    finally:
        for dag_id in (WATCHING, LANDED):
            api.request("PATCH", f"/dags/{dag_id}", json={"is_paused": True})
        reparse()


def runs(deployment: Deployment, dag_id: str) -> list[dict[str, Any]]:
    body = deployment.api.get(f"/dags/{dag_id}/dagRuns", params={"limit": 100, "run_type": "asset_triggered"})
    return list(body["dag_runs"])


def consumed(deployment: Deployment, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/upstreamAssetEvents"
    return list(deployment.api.get(path)["asset_events"])


def test_a_scheduled_aep_run_starts_the_export_dag_whose_dataset_starts_the_next(
    deployment: Deployment, asset_dags: None, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    started = time.monotonic()
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", emulator.exported["AIRFLOW_CONN_AEP_DEFAULT"])
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    hook = SegmentationHook()
    hook.client.create_segment_definition(
        {"name": "e2e assets: gold", "expression": {"value": 'loyalty.tier = "gold"'}}
    )
    existing = [s for s in hook.client.list_schedules() if s.name == SCHEDULE_NAME]
    schedule = existing[0] if existing else hook.client.create_schedule(SCHEDULE_NAME, cron="0 0 1 1 1 ?")
    if not existing:  # leave no run of "nightly audiences" behind for aep_daily_schedule's sensor to find
        request.addfinalizer(lambda: hook.client.delete_schedule(schedule.id))

    # the watcher runs in the triggerer: it looks the schedule up by name at each poll
    since = time.time()
    wait_for(
        "the watcher's first two polls",
        lambda: (
            len([e for e in emulator.requests("GET", "/data/core/ups/config/schedules") if e["time"] > since])
            >= 2
        ),
        60,
        0.5,
        deployment.check_alive,
    )
    emulator.trigger_schedule(schedule.id)
    scheduled = max(
        hook.client.list_segment_jobs(property_filter=f"properties.scheduleId=={schedule.id}"),
        key=lambda job: job.creation_time or 0,
    )

    [export_run] = wait_for("a run of the export DAG", lambda: runs(deployment, WATCHING), TIMEOUT, 0.5)
    state = api.wait_for_run(WATCHING, export_run["dag_run_id"], TIMEOUT)
    tis = {k: v["state"] for k, v in api.task_instances(WATCHING, export_run["dag_run_id"]).items()}
    assert state == "success", tis
    [event] = consumed(deployment, WATCHING, export_run["dag_run_id"])
    payload = event["extra"]["payload"]
    assert event["uri"] == f"aep://prod/schedules/{quote(SCHEDULE_NAME, safe='')}"
    assert payload["job_id"] == scheduled.id and payload["status"] == "SUCCEEDED"
    export_job = str(api.xcom(WATCHING, export_run["dag_run_id"], "export_audiences", key="aep_job_id"))

    def landed_run() -> dict[str, Any] | None:
        # only runs that started: Airflow 3.3's upstreamAssetEvents answers 500 while a run it lists
        # among an event's created runs is still queued (no start_date)
        for run in (r for r in runs(deployment, LANDED) if r.get("start_date")):
            if any(
                e["extra"].get("job_id") == export_job
                for e in consumed(deployment, LANDED, run["dag_run_id"])
            ):
                return run
        return None

    landed = wait_for("the run of the DAG scheduled on the dataset", landed_run, TIMEOUT, 0.5)
    assert api.wait_for_run(LANDED, landed["dag_run_id"], TIMEOUT) == "success"
    [landed_event] = [
        e
        for e in consumed(deployment, LANDED, landed["dag_run_id"])
        if e["extra"].get("job_id") == export_job
    ]
    assert landed_event["uri"] == f"aep://prod/datasets/{emulator.exported['AEP_EXPORT_DATASET_ID']}"
    assert landed_event["extra"]["exported_profiles"] > 0
    assert landed_event["extra"]["segment_ids"] == payload["segment_ids"]

    # the watcher keeps polling and does not report the same AEP job again
    polled = len(emulator.requests("GET", "/data/core/ups/segment/jobs"))
    wait_for(
        "three more polls",
        lambda: len(emulator.requests("GET", "/data/core/ups/segment/jobs")) >= polled + 3,
        30,
        0.5,
    )
    assert len(runs(deployment, WATCHING)) == 1
    deployment.timings["assets e2e"] = round(time.monotonic() - started, 1)
