"""Sensors for jobs started elsewhere: segment, export and scheduled-run sensors, poking and deferred,
and the window a scheduled-run sensor watches on the DAG's real timetable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_segmentation.client import AEPJobFailedError, AEPTimeoutError, AEPValidationError
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import EventStatus, JobEvent, JobKind
from airflow_provider_segmentation.sensors.segmentation import (
    AEPExportJobSensor,
    AEPScheduledSegmentJobSensor,
    AEPSegmentJobSensor,
)
from tests.compat import TaskDeferred
from tests.conftest import EmulatorAdmin
from tests.operators.conftest import make_context, run_trigger

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}


def started_job() -> str:
    client = SegmentationHook().client
    return client.create_segment_job([client.create_segment_definition(US).id]).id  # type: ignore[list-item]


def test_segment_job_sensor_pokes_until_success(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=0.1)
    sensor = AEPSegmentJobSensor(task_id="s", job_id=started_job(), poke_interval=0.05, timeout=30)
    first = sensor.poke(make_context())
    assert first is False
    emulator_admin.advance_clock(0.35)
    done = sensor.poke(make_context())
    assert done and done.xcom_value["status"] == "SUCCEEDED"


def test_sensor_fails_on_a_failed_job(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(fail_segment_jobs=True)
    job_id = started_job()
    emulator_admin.advance_clock(0.3)
    with pytest.raises(AEPJobFailedError):
        AEPSegmentJobSensor(task_id="s", job_id=job_id).poke(make_context())


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"timeout": float("inf")}, "timeout"),  # was an OverflowError inside Airflow's sensor
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"poke_interval": float("inf")}, "poke_interval"),
        ({"poke_interval": timedelta(0)}, "poke_interval"),
        ({"poke_interval": "5"}, "poke_interval"),
        ({"max_wait": float("inf"), "exponential_backoff": True}, "max_wait"),
    ],
)
def test_sensor_timeouts_and_intervals_must_be_finite_and_positive(arguments, field) -> None:
    with pytest.raises(AEPValidationError, match=f"{field} must be a finite number") as excinfo:
        AEPSegmentJobSensor(task_id="s", job_id="j", **arguments)
    assert excinfo.value.field == field


def test_sensor_accepts_timedeltas() -> None:
    sensor = AEPSegmentJobSensor(
        task_id="s", job_id="j", poke_interval=timedelta(seconds=5), timeout=timedelta(hours=30)
    )
    assert (sensor.poke_interval, sensor.timeout) == (5, 30 * 3600)


def test_a_sensor_never_cancels_the_job_it_watches(aep_conn, emulator_admin) -> None:
    """A deadline that passed while deferred fails the sensor; the job, started elsewhere, runs on."""
    emulator_admin.configure(job_step_seconds=60)
    job_id = started_job()
    sensor = AEPSegmentJobSensor(task_id="s", job_id=job_id)
    timeout = JobEvent(JobKind.SEGMENT_JOB, job_id, EventStatus.TIMEOUT, "still NEW", job_id=job_id)
    with pytest.raises(AEPTimeoutError, match="does not cancel jobs it did not start"):
        sensor.execute_complete(make_context(), timeout.to_dict())
    assert emulator_admin.requests("DELETE") == []
    assert SegmentationHook().client.get_segment_job(job_id).status == "NEW"


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

    export = SegmentationHook().client.create_export_job({"destination": {"datasetId": PROFILE_DATASET_ID}})
    emulator_admin.advance_clock(0.2)
    done = AEPExportJobSensor(task_id="s", job_id=export.id).poke(make_context())
    assert done and done.xcom_value["exported_profiles"] == 2000


def test_scheduled_run_sensor(aep_conn, emulator_admin: EmulatorAdmin) -> None:
    hook = SegmentationHook()
    hook.client.create_segment_definition(US)
    schedule = hook.client.create_schedule("daily", cron="0 0 1 * * ?", state="active")
    sensor = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id)
    assert sensor.poke(make_context()) is False
    emulator_admin.trigger_schedule(schedule.id)
    emulator_admin.advance_clock(0.3)
    done = sensor.poke(make_context())
    assert done and done.xcom_value["status"] == "SUCCEEDED"


def test_scheduled_sensor_watches_the_first_run_since_the_interval_started(
    aep_conn, emulator_admin: EmulatorAdmin
) -> None:
    hook = SegmentationHook()
    hook.client.create_segment_definition(US)
    schedule = hook.client.create_schedule("daily", cron="0 0 1 * * ?", state="active")
    emulator_admin.trigger_schedule(schedule.id)  # a run from before this DAG run's interval
    emulator_admin.advance_clock(0.3)
    sensor = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id)
    context = make_context()  # a data interval with a length (CronDataIntervalTimetable) that starts now
    context["data_interval_start"] = datetime.now(timezone.utc)
    context["data_interval_end"] = context["data_interval_start"] + timedelta(days=1)
    assert sensor.poke(context) is False
    emulator_admin.trigger_schedule(schedule.id)
    emulator_admin.advance_clock(0.3)
    done = sensor.poke(context)
    runs = list(hook.client.list_segment_jobs(property_filter=f"properties.scheduleId=={schedule.id}"))
    assert done and len(runs) == 2
    newest = max(runs, key=lambda r: r.created_at)  # type: ignore[arg-type, return-value]
    assert done.xcom_value["job_id"] == newest.id


def test_scheduled_sensor_on_a_manual_run_without_a_data_interval(aep_conn, emulator_admin) -> None:
    """Airflow 3 manual runs have no data interval: the window starts `lookback` before the run."""
    hook = SegmentationHook()
    hook.client.create_segment_definition(US)
    schedule = hook.client.create_schedule("daily", cron="0 0 1 * * ?", state="active")
    emulator_admin.trigger_schedule(schedule.id)
    emulator_admin.advance_clock(0.3)
    context = {"ti": make_context()["ti"], "dag_run": SimpleNamespace(run_after=datetime.now(timezone.utc))}
    done = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id).poke(context)
    assert done and done.xcom_value["status"] == "SUCCEEDED"
    late = {**context, "dag_run": SimpleNamespace(run_after=datetime.now(timezone.utc))}
    sensor = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id, lookback=timedelta(0))
    assert sensor.poke(late) is False


def core_timetable(timetable):
    """The scheduler's timetable (the one that plans runs): Airflow 3.3 DAGs hold the SDK's twin."""
    if hasattr(timetable, "next_dagrun_info"):
        return timetable
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(timetable)


def aep_daily_schedule_timetable():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "example_dags" / "example_schedules.py"
    spec = importlib.util.spec_from_file_location("example_schedules_for_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return core_timetable(module.aep_daily_schedule().timetable)


def run_context(start: datetime, end: datetime, run_after: datetime) -> dict:
    return {
        "ti": make_context()["ti"],
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": start,
        "dag_run": SimpleNamespace(run_after=run_after),
    }


def cron_trigger_context(run_time: datetime) -> dict:
    """The context of a run of a cron-string DAG on Airflow 3 (CronTriggerTimetable): no interval."""
    return run_context(run_time, run_time, run_time)


def test_runs_of_the_daily_dag_look_a_day_back_on_its_real_timetable() -> None:
    """aep_daily_schedule (02:00 UTC) watches AEP's 01:00 UTC run: its scheduled and manual runs get
    zero-length intervals from Airflow, so their windows start one day (``lookback``) before the run."""
    from airflow.timetables.base import TimeRestriction

    timetable = aep_daily_schedule_timetable()
    earliest = datetime(2026, 1, 1, tzinfo=timezone.utc)
    restriction = TimeRestriction(earliest=earliest, latest=None, catchup=True)
    scheduled = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    manual_time = scheduled.run_after + timedelta(hours=9)
    manual = timetable.infer_manual_data_interval(run_after=manual_time)
    sensor = AEPScheduledSegmentJobSensor(task_id="s", schedule_id="sched")
    for interval, run_after in ((scheduled.data_interval, scheduled.run_after), (manual, manual_time)):
        assert interval.start == interval.end == run_after  # the premise: no interval at all
        context = run_context(interval.start, interval.end, run_after)
        assert sensor.window_start(context) == (run_after - timedelta(days=1)).timestamp()
    # the 01:00 run of that night is inside the scheduled run's window (it was before it, on its start)
    that_night = scheduled.run_after.replace(hour=1)
    window = run_context(scheduled.data_interval.start, scheduled.data_interval.end, scheduled.run_after)
    assert sensor.window_start(window) <= that_night.timestamp() < scheduled.run_after.timestamp()


def test_scheduled_sensor_finds_that_nights_run_on_a_zero_length_interval(
    aep_conn, emulator_admin: EmulatorAdmin
) -> None:
    """The DAG runs an hour after AEP's nightly run, with the interval CronTriggerTimetable gives it
    (start == end == the run's time): the sensor reports that run at once, not the next night's."""
    hook = SegmentationHook()
    hook.client.create_segment_definition(US)
    schedule = hook.client.create_schedule("nightly", cron="0 0 1 * * ?", state="active")
    emulator_admin.advance_clock(0, frozen=True)
    emulator_admin.trigger_schedule(schedule.id)  # AEP's 01:00 run
    [nightly] = hook.client.list_segment_jobs(property_filter=f"properties.scheduleId=={schedule.id}")
    dag_run_time = emulator_admin.advance_clock(3600)["now"]  # the DAG's 02:00 run
    context = cron_trigger_context(datetime.fromtimestamp(dag_run_time, timezone.utc))
    done = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id).poke(context)
    assert done and done.xcom_value["job_id"] == nightly.id and done.xcom_value["status"] == "SUCCEEDED"


async def test_deferred_scheduled_sensor_watches_the_same_window(aep_conn, emulator_admin) -> None:
    hook = SegmentationHook()
    hook.client.create_segment_definition(US)
    schedule = hook.client.create_schedule("nightly", cron="0 0 1 * * ?", state="active")
    run_time = datetime.now(timezone.utc)
    sensor = AEPScheduledSegmentJobSensor(
        task_id="s", schedule_id=schedule.id, deferrable=True, poke_interval=0.05, timeout=60
    )
    with pytest.raises(TaskDeferred) as excinfo:
        sensor.execute(cron_trigger_context(run_time))
    trigger = excinfo.value.trigger
    assert trigger.window_start == (run_time - timedelta(days=1)).timestamp()
    assert trigger.kind is JobKind.SCHEDULED_SEGMENT_JOB and trigger.cancel_on_kill is False


def test_poke_interval_longer_than_timeout_is_refused() -> None:
    with pytest.raises(AEPValidationError, match="poke_interval=60 s is longer than timeout=10 s"):
        AEPSegmentJobSensor(task_id="s", job_id="j", poke_interval=60, timeout=10)
