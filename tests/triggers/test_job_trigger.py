"""``AEPJobTrigger``'s contract: serialization, transient poll errors, deadlines, log lines, and what
``on_kill`` cancels."""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger
from tests.compat import trigger_log_messages
from tests.operators.conftest import run_trigger

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}


def started_job() -> str:
    client = SegmentationHook().client
    return client.create_segment_job([client.create_segment_definition(US).id]).id  # type: ignore[list-item]


def test_trigger_round_trips_through_serialize() -> None:
    trigger = AEPJobTrigger(kind="export_job", job_id="42", sandbox="dev", poll_interval=5, deadline=123.0)
    path, kwargs = trigger.serialize()
    json.dumps(kwargs)
    assert path == "airflow_provider_segmentation.triggers.segmentation.AEPJobTrigger"
    assert AEPJobTrigger(**kwargs).serialize() == (path, kwargs)


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
    assert SegmentationHook().client.get_segment_job(job_id).status == "CANCELLING"


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


# the re-cancel lands before on_kill's first await, during the state read, or after it (the DELETE)
@pytest.mark.parametrize("cancel_after", [0.0, 0.1, 0.5])
async def test_on_kill_cancels_the_job_even_when_the_triggerer_cancels_it_again(
    aep_conn, emulator_admin, monkeypatch, cancel_after
) -> None:
    """Airflow 3.3's triggerer re-sends a user's cancel at every state sync until the trigger finishes,
    cancelling a running on_kill: seen in a deployment whose state read took 4 s, the job kept running.
    Here the supervisor's answer is slow and the task running on_kill is cancelled mid-way, as there."""
    import asyncio

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    def slow_states(**_kw: object) -> dict[str, dict[str, str]]:
        time.sleep(0.5)
        return {"run": {"evaluate": "failed"}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(slow_states))
    emulator_admin.configure(job_step_seconds=60)
    job_id = started_job()
    trigger = AEPJobTrigger(kind="segment_job", job_id=job_id)
    trigger.task_instance = FakeTaskInstance()  # type: ignore[assignment]
    killing = asyncio.ensure_future(asyncio.wait_for(trigger.on_kill(), timeout=30))  # as the triggerer
    await asyncio.sleep(cancel_after)
    killing.cancel("user-action")  # the next sync's cancel
    with contextlib.suppress(asyncio.CancelledError):  # unless on_kill had already finished
        await killing
    path = f"/data/core/ups/segment/jobs/{job_id}"
    for _ in range(100):
        if await asyncio.to_thread(emulator_admin.requests, "DELETE", path):
            break
        await asyncio.sleep(0.05)
    assert SegmentationHook().client.get_segment_job(job_id).status == "CANCELLING"
