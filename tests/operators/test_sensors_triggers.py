"""Sensors for jobs started elsewhere, and the trigger's contract (serialization, retries, kill)."""

from __future__ import annotations

import json
import time

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_segmentation.client import AEPJobFailedError
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.sensors.segmentation import (
    AEPExportJobSensor,
    AEPScheduledSegmentJobSensor,
    AEPSegmentJobSensor,
)
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger
from tests.conftest import EmulatorAdmin
from tests.operators.conftest import make_context, run_trigger

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}


def started_job() -> str:
    hook = SegmentationHook()
    return hook.create_segment_job([hook.create_segment_definition(US).id]).id  # type: ignore[list-item]


def test_segment_job_sensor_pokes_until_success(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=0.1)
    sensor = AEPSegmentJobSensor(task_id="s", job_id=started_job(), poke_interval=0.05, timeout=30)
    first = sensor.poke(make_context())
    assert first is False
    time.sleep(0.35)
    done = sensor.poke(make_context())
    assert done and done.xcom_value["status"] == "SUCCEEDED"


def test_sensor_fails_on_a_failed_job(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(fail_segment_jobs=True)
    job_id = started_job()
    time.sleep(0.3)
    with pytest.raises(AEPJobFailedError):
        AEPSegmentJobSensor(task_id="s", job_id=job_id).poke(make_context())


async def test_deferrable_sensor(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=0.2)
    sensor = AEPSegmentJobSensor(
        task_id="s", job_id=started_job(), deferrable=True, poke_interval=0.05, timeout=60
    )
    with pytest.raises(TaskDeferred) as excinfo:
        sensor.execute(make_context())
    trigger = excinfo.value.trigger
    assert trigger.cancel_on_kill is False  # a sensor never cancels a job it did not start
    event = await run_trigger(trigger)
    assert sensor.execute_complete(make_context(), event)["status"] == "SUCCEEDED"


def test_export_job_sensor(aep_conn, emulator_admin) -> None:
    from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID

    export = SegmentationHook().create_export_job({"destination": {"datasetId": PROFILE_DATASET_ID}})
    time.sleep(0.2)
    done = AEPExportJobSensor(task_id="s", job_id=export.id).poke(make_context())
    assert done and done.xcom_value["exported_profiles"] == 2000


def test_scheduled_run_sensor(aep_conn, emulator_admin: EmulatorAdmin) -> None:
    hook = SegmentationHook()
    hook.create_segment_definition(US)
    schedule = hook.create_schedule("daily", cron="0 0 1 * * ?", state="active")
    sensor = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id)
    assert sensor.poke(make_context()) is False
    emulator_admin.trigger_schedule(schedule.id)
    time.sleep(0.3)
    done = sensor.poke(make_context())
    assert done and done.xcom_value["status"] == "SUCCEEDED"


def test_trigger_round_trips_through_serialize() -> None:
    trigger = AEPJobTrigger(kind="export_job", job_id="42", sandbox="dev", poll_interval=5, deadline=123.0)
    path, kwargs = trigger.serialize()
    json.dumps(kwargs)
    assert path == "airflow_provider_segmentation.triggers.segmentation.AEPJobTrigger"
    assert AEPJobTrigger(**kwargs).serialize() == (path, kwargs)
    assert "secret" not in json.dumps(kwargs)


async def test_transient_poll_errors_do_not_fail_the_job(aep_conn, emulator_admin) -> None:
    job_id = started_job()
    emulator_admin.inject_fault(
        method="GET", path=f"/data/core/ups/segment/jobs/{job_id}", kind="status", status=503, count=3
    )
    trigger = AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=0.02, poll_error_budget=3)
    event = await run_trigger(trigger)
    assert event["status"] == "success"


async def test_exhausted_poll_budget_is_a_poll_error_not_a_failure(aep_conn, emulator_admin) -> None:
    job_id = started_job()
    emulator_admin.inject_fault(
        method="GET", path=f"/data/core/ups/segment/jobs/{job_id}", kind="status", status=503, count=100
    )
    trigger = AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=0.01, poll_error_budget=0)
    event = await run_trigger(trigger)
    assert event["status"] == "poll_error"


async def test_trigger_deadline_gives_a_timeout_event(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    trigger = AEPJobTrigger(
        kind="segment_job", job_id=started_job(), poll_interval=0.05, deadline=time.time()
    )
    event = await run_trigger(trigger)
    assert event["status"] == "timeout" and "still NEW" in event["message"]


async def test_trigger_on_kill_cancels(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    job_id = started_job()
    await AEPJobTrigger(kind="segment_job", job_id=job_id).on_kill()
    assert SegmentationHook().get_segment_job(job_id).status == "CANCELLING"
