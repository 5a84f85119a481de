"""One question for many jobs: segment-job triggers of one connection and sandbox share a bulk-get poll.

Driven through Airflow 3.3's own ``SharedStreamManager`` (what the triggerer uses), against the emulator.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest

from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.triggers.segmentation import WATCHED, AEPJobTrigger
from tests.compat import BaseHook, SharedStreamManager, get_connection_off_the_loop, requires_shared_streams

pytestmark = requires_shared_streams

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}
JOBS = "/data/core/ups/segment/jobs"


def started_jobs(count: int) -> list[str]:
    hook = SegmentationHook()
    segment = hook.create_segment_definition(US).id
    return [hook.create_segment_job([segment]).id for _ in range(count)]  # type: ignore[list-item]


FORBIDDEN = "synchronous get_connection called in the triggerer"


async def run_shared(triggers: list[AEPJobTrigger], *, stop_after: int | None = None) -> list[dict[str, Any]]:
    """Subscribe every trigger to its shared stream and collect each one's single event."""
    manager = SharedStreamManager()

    async def one(trigger_id: int, trigger: AEPJobTrigger) -> dict[str, Any]:
        key = trigger.shared_stream_key()
        stream = manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)
        try:
            async for event in trigger.filter_shared_stream(stream):
                return dict(event.payload)
            raise AssertionError("no event")
        finally:
            await manager.unsubscribe(trigger_id, key)

    with mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN)):
        try:
            return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(triggers))))
        finally:
            await manager.stop_all()


def trigger(job_id: str, **kwargs: Any) -> AEPJobTrigger:
    return AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=0.05, **kwargs)


async def test_many_waits_share_one_bulk_get_per_cycle(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=0.2)
    job_ids = started_jobs(25)
    emulator_admin.clear_requests()
    events = await run_shared([trigger(j) for j in job_ids])
    assert [e["status"] for e in events] == ["success"] * 25
    assert [e["job_id"] for e in events] == job_ids  # each trigger got its own job, fanned out
    assert emulator_admin.requests("GET", f"{JOBS}/") == []  # no per-job GET at all
    batches = emulator_admin.requests("POST", f"{JOBS}/bulk-get")
    assert 0 < len(batches) <= 40  # one per cycle for all 25 jobs (per-job polling: 25 per cycle)
    assert WATCHED.ids(trigger(job_ids[0]).shared_stream_key()) == []  # finished triggers left the batch


async def test_a_failed_batch_fails_no_job(aep_conn, emulator_admin) -> None:
    job_ids = started_jobs(5)
    emulator_admin.inject_fault(method="POST", path=f"{JOBS}/bulk-get", kind="status", status=503, count=3)
    events = await run_shared([trigger(j, poll_error_budget=5) for j in job_ids])
    assert [e["status"] for e in events] == ["success"] * 5
    assert [e["status"] for e in emulator_admin.requests("POST", f"{JOBS}/bulk-get")][:3] == [503] * 3


async def test_each_trigger_keeps_its_own_poll_error_budget(aep_conn, emulator_admin) -> None:
    job_ids = started_jobs(3)
    emulator_admin.inject_fault(method="POST", path=f"{JOBS}/bulk-get", kind="status", status=503, count=100)
    events = await run_shared(
        [trigger(job_ids[0], poll_error_budget=1), trigger(job_ids[1], poll_error_budget=1)]
    )
    assert [e["status"] for e in events] == ["poll_error", "poll_error"]  # never "failed"


async def test_an_unknown_job_in_the_batch_is_a_poll_error_for_its_trigger_only(
    aep_conn, emulator_admin
) -> None:
    [job_id] = started_jobs(1)
    events = await run_shared([trigger(job_id), trigger("no-such-job")])
    assert events[0]["status"] == "success"
    assert events[1]["status"] == "poll_error" and "no segment job no-such-job" in events[1]["message"]


async def test_a_cancelled_trigger_leaves_the_batch(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    [job_id] = started_jobs(1)
    watcher = trigger(job_id)
    manager = SharedStreamManager()
    key = watcher.shared_stream_key()
    with mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN)):
        events = watcher.filter_shared_stream(manager.subscribe(trigger_id=1, trigger=watcher, key=key))
        waiting = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.3)
        assert WATCHED.ids(key) == [job_id]
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await events.aclose()
        await manager.unsubscribe(1, key)
    assert WATCHED.ids(key) == []


def test_only_segment_jobs_share_and_sharing_can_be_turned_off() -> None:
    assert trigger("j").shared_stream_key() == ("aep-segment-jobs", "aep_default", None, 0.05)
    assert trigger("j", share_polls=False).shared_stream_key() is None
    assert AEPJobTrigger(kind="export_job", job_id="1").shared_stream_key() is None
