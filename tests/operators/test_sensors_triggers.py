"""Sensors for jobs started elsewhere, and the trigger's contract (serialization, retries, kill)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_segmentation.hooks.segmentation import (
    AEPJobFailedError,
    AEPTimeoutError,
    AEPValidationError,
    SegmentationHook,
)
from airflow_provider_segmentation.models import EventStatus, JobEvent, JobKind
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from airflow_provider_segmentation.sensors.segmentation import (
    AEPExportJobSensor,
    AEPScheduledSegmentJobSensor,
    AEPSegmentJobSensor,
)
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger
from tests.compat import TaskDeferred, trigger_log_messages
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
    assert SegmentationHook().get_segment_job(job_id).status == "NEW"


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
    emulator_admin.advance_clock(0.2)
    done = AEPExportJobSensor(task_id="s", job_id=export.id).poke(make_context())
    assert done and done.xcom_value["exported_profiles"] == 2000


def test_scheduled_run_sensor(aep_conn, emulator_admin: EmulatorAdmin) -> None:
    hook = SegmentationHook()
    hook.create_segment_definition(US)
    schedule = hook.create_schedule("daily", cron="0 0 1 * * ?", state="active")
    sensor = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id)
    assert sensor.poke(make_context()) is False
    emulator_admin.trigger_schedule(schedule.id)
    emulator_admin.advance_clock(0.3)
    done = sensor.poke(make_context())
    assert done and done.xcom_value["status"] == "SUCCEEDED"


def test_trigger_round_trips_through_serialize() -> None:
    trigger = AEPJobTrigger(kind="export_job", job_id="42", sandbox="dev", poll_interval=5, deadline=123.0)
    path, kwargs = trigger.serialize()
    json.dumps(kwargs)
    assert path == "airflow_provider_segmentation.triggers.segmentation.AEPJobTrigger"
    assert AEPJobTrigger(**kwargs).serialize() == (path, kwargs)


def test_a_deferred_tasks_trigger_kwargs_hold_no_secret_and_no_token(aep_conn, emulator, emulator_admin):
    """The operator defers with a hook that has read the secret and minted a token: neither travels."""
    emulator_admin.configure(job_step_seconds=60)
    seg = SegmentationHook().create_segment_definition(US).id
    op = AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], deferrable=True, poll_interval=1)
    with pytest.raises(TaskDeferred) as excinfo:
        op.execute(make_context())
    serialized = json.dumps(excinfo.value.trigger.serialize()[1])
    tokens = list(emulator.app.state.emulator.tokens)
    assert op.hook.config.secret.reveal() == emulator.settings.client_secret and tokens
    for secret in [emulator.settings.client_secret, *tokens]:
        assert secret not in serialized


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
        kind="segment_job", job_id=started_job(), poll_interval=0.05, deadline=time.time() + 1
    )
    event = await run_trigger(trigger)
    assert event["status"] == "timeout" and "still NEW" in event["message"]
    assert event["job_status"] == "NEW"


async def test_trigger_on_kill_cancels(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    job_id = started_job()
    await AEPJobTrigger(kind="segment_job", job_id=job_id).on_kill()
    assert SegmentationHook().get_segment_job(job_id).status == "CANCELLING"


async def test_a_past_deadline_still_reads_the_job_once(aep_conn, emulator_admin) -> None:
    """A trigger that starts after its deadline (a busy triggerer) reads once: a job that finished in
    time is a success, not a timeout; a job still running is a timeout after that one read."""
    emulator_admin.configure(job_step_seconds=60)
    running = AEPJobTrigger(
        kind="scheduled_segment_job", job_id="sched-1", poll_interval=0.05, deadline=time.time() - 1
    )
    event = await run_trigger(running)
    assert event["status"] == "timeout" and event["job_id"] is None
    assert len(emulator_admin.requests("GET", "/data/core/ups/segment/jobs")) == 1
    job_id = started_job()
    emulator_admin.advance_clock(600)
    finished = AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=1, deadline=time.time() - 1)
    assert (await run_trigger(finished))["status"] == "success"


async def test_trigger_logs_a_short_line_per_status_change_and_a_small_event(
    aep_conn, emulator_admin, capsys, caplog
) -> None:
    emulator_admin.configure(job_step_seconds=0.15)
    job_id = started_job()
    trigger = AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=0.02)
    capsys.readouterr()
    event = await run_trigger(trigger)
    logger = f"{AEPJobTrigger.__module__}.AEPJobTrigger"
    lines = trigger_log_messages(logger, capsys.readouterr().out, caplog.records)
    statuses = [line.split(": ")[1].split(" (")[0] for line in lines]
    assert statuses == ["NEW", "QUEUED", "PROCESSING", "SUCCEEDED"]  # once each, many polls
    assert len(emulator_admin.requests("GET", f"/data/core/ups/segment/jobs/{job_id}")) > len(statuses)
    assert all(len(line) < 160 and job_id in line for line in lines)
    assert event["status"] == "success" and event["job_status"] == "SUCCEEDED"
    assert len(json.dumps(event)) < 400  # never the whole job (Airflow logs and stores every event)


class FakeTaskInstance:
    dag_id, run_id, task_id = "dag", "run", "evaluate"


@pytest.mark.parametrize(("state", "cancelled"), [(None, False), ("queued", False), ("failed", True)])
async def test_on_kill_leaves_a_cleared_tasks_job_for_its_next_try(
    aep_conn, emulator_admin, monkeypatch, state, cancelled
) -> None:
    """Clearing a deferred task kills its trigger; the next try re-attaches, so only an ended task
    (marked failed) may cancel. The task's state comes from Airflow's supervisor, not the wire."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    monkeypatch.setattr(
        RuntimeTaskInstance, "get_task_states", staticmethod(lambda **_kw: {"run": {"evaluate": state}})
    )
    emulator_admin.configure(job_step_seconds=60)
    job_id = started_job()
    trigger = AEPJobTrigger(kind="segment_job", job_id=job_id)
    trigger.task_instance = FakeTaskInstance()  # type: ignore[assignment]
    await trigger.on_kill()
    deletes = emulator_admin.requests("DELETE", "/data/core/ups/segment/jobs")
    assert bool(deletes) is cancelled


def test_scheduled_sensor_watches_the_first_run_since_the_interval_started(
    aep_conn, emulator_admin: EmulatorAdmin
) -> None:
    hook = SegmentationHook()
    hook.create_segment_definition(US)
    schedule = hook.create_schedule("daily", cron="0 0 1 * * ?", state="active")
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
    runs = list(hook.list_segment_jobs(property_filter=f"properties.scheduleId=={schedule.id}"))
    assert done and len(runs) == 2
    newest = max(runs, key=lambda r: r.created_at)  # type: ignore[arg-type, return-value]
    assert done.xcom_value["job_id"] == newest.id


def test_scheduled_sensor_on_a_manual_run_without_a_data_interval(aep_conn, emulator_admin) -> None:
    """Airflow 3 manual runs have no data interval: the window starts `lookback` before the run."""
    hook = SegmentationHook()
    hook.create_segment_definition(US)
    schedule = hook.create_schedule("daily", cron="0 0 1 * * ?", state="active")
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
    hook.create_segment_definition(US)
    schedule = hook.create_schedule("nightly", cron="0 0 1 * * ?", state="active")
    emulator_admin.advance_clock(0, frozen=True)
    emulator_admin.trigger_schedule(schedule.id)  # AEP's 01:00 run
    [nightly] = hook.list_segment_jobs(property_filter=f"properties.scheduleId=={schedule.id}")
    dag_run_time = emulator_admin.advance_clock(3600)["now"]  # the DAG's 02:00 run
    context = cron_trigger_context(datetime.fromtimestamp(dag_run_time, timezone.utc))
    done = AEPScheduledSegmentJobSensor(task_id="s", schedule_id=schedule.id).poke(context)
    assert done and done.xcom_value["job_id"] == nightly.id and done.xcom_value["status"] == "SUCCEEDED"


async def test_deferred_scheduled_sensor_watches_the_same_window(aep_conn, emulator_admin) -> None:
    hook = SegmentationHook()
    hook.create_segment_definition(US)
    schedule = hook.create_schedule("nightly", cron="0 0 1 * * ?", state="active")
    run_time = datetime.now(timezone.utc)
    sensor = AEPScheduledSegmentJobSensor(
        task_id="s", schedule_id=schedule.id, deferrable=True, poke_interval=0.05, timeout=60
    )
    with pytest.raises(TaskDeferred) as excinfo:
        sensor.execute(cron_trigger_context(run_time))
    trigger = excinfo.value.trigger
    assert trigger.window_start == (run_time - timedelta(days=1)).timestamp()
    assert trigger.kind is JobKind.SCHEDULED_SEGMENT_JOB and trigger.cancel_on_kill is False


class EmulatorTime:
    """The worker's wait on the emulator's frozen clock: each sleep steps it (no real sleeping)."""

    def __init__(self, admin: EmulatorAdmin) -> None:
        self.admin = admin
        self.started = self.now = admin.advance_clock(0, frozen=True)["now"]

    def sleep(self, seconds: float) -> None:
        self.now = self.admin.advance_clock(seconds)["now"]

    def clock(self) -> float:
        return float(self.now)


@pytest.fixture
def emulator_time(emulator_admin, monkeypatch) -> EmulatorTime:
    from functools import partial

    from airflow_provider_segmentation.client import waiting
    from airflow_provider_segmentation.hooks import segmentation

    fake = EmulatorTime(emulator_admin)
    monkeypatch.setattr(segmentation, "wait", partial(waiting.wait, sleep=fake.sleep, clock=fake.clock))
    return fake


@pytest.mark.parametrize(("step", "succeeds"), [(8.0, True), (10.0, True), (11.0, False)])
def test_an_operator_reads_the_job_at_its_deadline_before_cancelling(
    aep_conn, emulator_admin, emulator_time, step, succeeds
) -> None:
    """poll_interval=20, timeout=30: reads at 0, 20 and 30 s. A job done by 30 s (3 steps) succeeds;
    one still running at 30 s is cancelled only after that read."""
    emulator_admin.configure(job_step_seconds=step)
    seg = SegmentationHook().create_segment_definition(US).id
    op = AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], poll_interval=20, timeout=30)
    if succeeds:
        assert op.execute(make_context())["status"] == "SUCCEEDED"
        assert emulator_admin.requests("DELETE") == []
        return
    with pytest.raises(AEPTimeoutError, match="the job was cancelled"):
        op.execute(make_context())
    assert emulator_time.now - emulator_time.started == pytest.approx(30)
    reads = emulator_admin.requests("GET", f"/data/core/ups/segment/jobs/{op.job_id}")
    assert len(reads) == 3 and len(emulator_admin.requests("DELETE")) == 1


def test_poll_interval_longer_than_timeout_is_refused() -> None:
    with pytest.raises(AEPValidationError, match="poll_interval=60 s is longer than timeout=30 s") as exc:
        AEPRunSegmentJobOperator(task_id="run", segment_ids=["s"], poll_interval=60, timeout=30)
    assert exc.value.field == "poll_interval"
    with pytest.raises(AEPValidationError, match="poke_interval=60 s is longer than timeout=10 s"):
        AEPSegmentJobSensor(task_id="s", job_id="j", poke_interval=60, timeout=10)


async def test_a_trigger_reads_the_job_at_its_deadline_whatever_its_interval(
    aep_conn, emulator_admin
) -> None:
    """poll_interval far longer than the time left: the first read finds the job running, the job then
    finishes (the emulator's clock steps), and the read at the deadline reports success."""
    import asyncio

    emulator_admin.configure(job_step_seconds=60)
    job_id = started_job()
    emulator_admin.advance_clock(0, frozen=True)
    path = f"/data/core/ups/segment/jobs/{job_id}"

    async def finish_after_the_first_read() -> None:
        while not await asyncio.to_thread(emulator_admin.requests, "GET", path):
            await asyncio.sleep(0.02)
        await asyncio.to_thread(emulator_admin.advance_clock, 600)

    finisher = asyncio.ensure_future(finish_after_the_first_read())
    trigger = AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=600, deadline=time.time() + 1.5)
    try:
        event = await run_trigger(trigger)
    finally:
        finisher.cancel()  # a trigger that never read would leave it waiting
    assert event["status"] == "success"
    assert len(emulator_admin.requests("GET", path)) == 2  # at once, and at the deadline
