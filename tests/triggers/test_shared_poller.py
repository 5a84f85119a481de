"""One question for many jobs: segment-job triggers of one connection and sandbox share a bulk-get poll.

Driven through Airflow 3.3's own ``SharedStreamManager`` (what the triggerer uses), against the emulator;
what AEP may do and the emulator does not (refuse one id of a batch, answer an entry this package cannot
read, hold an answer while another trigger joins) against a ``ScriptedServer`` platform.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from unittest import mock

import pytest

from airflow_provider_segmentation.client import AEPTimeoutError, Fetch, Wait, job_type, poll_flow
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import JobKind, SegmentJob
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger
from airflow_provider_segmentation.triggers.shared_poll import WATCHED
from tests.compat import BaseHook, SharedStreamManager, get_connection_off_the_loop, requires_shared_streams
from tests.operators.conftest import run_trigger
from tests.scripted_server import Answer, ScriptedServer, Seen

pytestmark = requires_shared_streams

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}
JOBS = "/data/core/ups/segment/jobs"
BULK = f"{JOBS}/bulk-get"


def started_jobs(count: int, emulator_admin) -> list[str]:
    # many running jobs to poll, not a test of AEP's on-demand allowance (2 a day): the quota is off
    emulator_admin.configure(rules={"enforce_on_demand_quota": False})
    hook = SegmentationHook()
    hook.config = replace(hook.config, aep_rules="off")  # the client's check of the allowance too
    segment = hook.client.create_segment_definition(US).id
    return [hook.client.create_segment_job([segment]).id for _ in range(count)]  # type: ignore[list-item]


FORBIDDEN = "synchronous get_connection called in the triggerer"


async def first_event(
    manager: SharedStreamManager, trigger_id: int, trigger: AEPJobTrigger
) -> dict[str, Any]:
    """Subscribe one trigger to its group's shared stream, as the triggerer does, and return its event."""
    key = trigger.shared_stream_key()
    stream = manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)
    try:
        async for event in trigger.filter_shared_stream(stream):
            return dict(event.payload)
        raise AssertionError("no event")
    finally:
        await manager.unsubscribe(trigger_id, key)


async def run_shared(triggers: list[AEPJobTrigger]) -> list[dict[str, Any]]:
    """Subscribe every trigger to its shared stream and collect each one's single event."""
    manager = SharedStreamManager()
    with mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN)):
        try:
            return list(await asyncio.gather(*(first_event(manager, i, t) for i, t in enumerate(triggers))))
        finally:
            await manager.stop_all()


async def until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def bulk_ids(entry: dict[str, Any]) -> list[str]:
    """The ids a logged bulk-get asked about (the emulator keeps bodies with ``capture_bodies``)."""
    return [ref["id"] for ref in json.loads(entry["request_body"])["ids"]]


def trigger(job_id: str, **kwargs: Any) -> AEPJobTrigger:
    return AEPJobTrigger(kind="segment_job", job_id=job_id, poll_interval=0.05, **kwargs)


async def test_many_waits_share_one_bulk_get_per_cycle(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=0.2)
    job_ids = started_jobs(25, emulator_admin)
    emulator_admin.clear_requests()
    events = await run_shared([trigger(j) for j in job_ids])
    assert [e["status"] for e in events] == ["success"] * 25
    assert [e["job_id"] for e in events] == job_ids  # each trigger got its own job, fanned out
    assert emulator_admin.requests("GET", f"{JOBS}/") == []  # no per-job GET at all
    batches = emulator_admin.requests("POST", f"{JOBS}/bulk-get")
    assert 0 < len(batches) <= 40  # one per cycle for all 25 jobs (per-job polling: 25 per cycle)
    assert WATCHED.ids(trigger(job_ids[0]).shared_stream_key()) == []  # finished triggers left the batch


async def test_a_failed_batch_fails_no_job(aep_conn, emulator_admin) -> None:
    job_ids = started_jobs(5, emulator_admin)
    emulator_admin.inject_fault(method="POST", path=f"{JOBS}/bulk-get", kind="status", status=503, count=3)
    events = await run_shared([trigger(j, poll_error_budget=5) for j in job_ids])
    assert [e["status"] for e in events] == ["success"] * 5
    assert [e["status"] for e in emulator_admin.requests("POST", f"{JOBS}/bulk-get")][:3] == [503] * 3


async def test_each_trigger_keeps_its_own_poll_error_budget(aep_conn, emulator_admin) -> None:
    job_ids = started_jobs(3, emulator_admin)
    emulator_admin.inject_fault(method="POST", path=f"{JOBS}/bulk-get", kind="status", status=503, count=100)
    events = await run_shared(
        [trigger(job_ids[0], poll_error_budget=1), trigger(job_ids[1], poll_error_budget=1)]
    )
    assert [e["status"] for e in events] == ["poll_error", "poll_error"]  # never "failed"


async def test_an_unknown_job_in_the_batch_is_a_poll_error_for_its_trigger_only(
    aep_conn, emulator_admin
) -> None:
    [job_id] = started_jobs(1, emulator_admin)
    events = await run_shared([trigger(job_id), trigger("no-such-job")])
    assert events[0]["status"] == "success"
    assert events[1]["status"] == "poll_error" and "not found in sandbox 'prod'" in events[1]["message"]
    assert [e["path"] for e in emulator_admin.requests("GET", f"{JOBS}/")] == [f"{JOBS}/no-such-job"]
    alone = await run_trigger(trigger("no-such-job", share_polls=False))
    assert without_request_id(events[1]) == without_request_id(alone)  # AEP's own 404, as without sharing


def without_request_id(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "message": re.sub(r"x-request-id [0-9a-f-]+", "x-request-id ...", event["message"])}


async def test_a_cancelled_trigger_leaves_the_batch(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    [job_id] = started_jobs(1, emulator_admin)
    watcher = trigger(job_id)
    manager = SharedStreamManager()
    key = watcher.shared_stream_key()
    with mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN)):
        events = watcher.filter_shared_stream(manager.subscribe(trigger_id=1, trigger=watcher, key=key))
        waiting = asyncio.ensure_future(events.__anext__())
        await until("a bulk-get", lambda: len(emulator_admin.requests("POST", BULK)) > 0)
        assert WATCHED.ids(key) == [job_id]
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await events.aclose()
        await manager.unsubscribe(1, key)
    assert WATCHED.ids(key) == []


def test_only_segment_jobs_share_and_sharing_can_be_turned_off() -> None:
    assert trigger("j").shared_stream_key() == ("aep", "segment_job", "aep_default", None, 0.05)
    assert trigger("j", share_polls=False).shared_stream_key() is None
    assert AEPJobTrigger(kind="export_job", job_id="1").shared_stream_key() is None


# -- one job, one id or one failed request never costs the others -------------------------------------


async def test_a_400_about_the_id_count_halves_the_chunk_and_the_group_keeps_the_smaller_size(
    aep_conn, emulator_admin
) -> None:
    emulator_admin.configure(job_step_seconds=0.2, capture_bodies=True, max_job_bulk_get_ids=4)
    job_ids = started_jobs(10, emulator_admin)
    emulator_admin.clear_requests()
    events = await run_shared([trigger(j) for j in job_ids])
    assert [e["status"] for e in events] == ["success"] * 10
    batches = emulator_admin.requests("POST", BULK)
    # 10 ids refused, then 5, then 2 at a time: for this cycle and every later one
    assert [(e["status"], len(bulk_ids(e))) for e in batches[:7]] == [(400, 10), (400, 5)] + [(207, 2)] * 5
    assert all(e["status"] == 207 and len(bulk_ids(e)) <= 2 for e in batches[2:])
    assert len(batches) > 7  # several cycles: the size was kept, not learnt again


async def test_a_malformed_id_fails_its_own_trigger_at_once_and_never_reaches_aep(
    aep_conn, emulator_admin
) -> None:
    emulator_admin.configure(capture_bodies=True)
    job_ids = started_jobs(3, emulator_admin)
    events = await run_shared([trigger(j) for j in job_ids] + [trigger("a/b"), trigger(" padded")])
    assert [e["status"] for e in events] == ["success"] * 3 + ["poll_error"] * 2
    assert "cannot poll segment job a/b: job_id" in events[3]["message"] and "'/'" in events[3]["message"]
    assert "surrounding whitespace" in events[4]["message"]
    asked = {i for e in emulator_admin.requests("POST", BULK) for i in bulk_ids(e)}
    assert asked == set(job_ids)
    assert emulator_admin.requests("GET", f"{JOBS}/") == []


def succeeded(job_id: str) -> dict[str, Any]:
    return {"id": job_id, "status": "SUCCEEDED"}


def ids_of(seen: Seen) -> list[str]:
    return [ref["id"] for ref in json.loads(seen.body)["ids"]]


def bulk_answer(results: dict[str, Any]) -> Answer:
    return Answer(207, json.dumps({"results": results}).encode())


def upapi_400(code: str, message: str) -> Answer:
    return Answer(400, json.dumps({"errors": {"400": [{"code": code, "message": message}]}}).encode())


@pytest.fixture
def scripted(emulator, emulator_admin, monkeypatch) -> Iterator[Callable[[Callable[[Seen], Answer]], Any]]:
    """``scripted(answer)`` serves ``answer`` as the platform of connection ``aep_scripted`` (IMS: the
    emulator) and returns the server, whose ``seen`` lists every request."""
    servers: list[ScriptedServer] = []

    def start(answer: Callable[[Seen], Answer]) -> ScriptedServer:
        server = ScriptedServer(answer).__enter__()
        servers.append(server)
        connection = json.loads(emulator.connection_json("prod"))
        connection["extra"]["platform_host"] = server.url
        monkeypatch.setenv("AIRFLOW_CONN_AEP_SCRIPTED", json.dumps(connection))
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


async def test_an_unreadable_entry_in_a_207_costs_only_its_own_job(scripted) -> None:
    def answer(seen: Seen) -> Answer:
        if seen.path == BULK:
            results = {i: succeeded(i) for i in ids_of(seen)}
            results["j2"] = {"id": "j2", "status": {"not": "a status"}}
            return bulk_answer(results)
        return Answer(200, json.dumps(succeeded(seen.path.rsplit("/", 1)[-1])).encode())

    server = scripted(answer)
    triggers = [trigger(j, aep_conn_id="aep_scripted", poll_error_budget=1) for j in ("j1", "j2", "j3")]
    events = await run_shared(triggers)
    assert [e["status"] for e in events] == ["success"] * 3  # j2 too: its own GET could be read
    assert [s.path for s in server.seen if s.method == "GET"] == [f"{JOBS}/j2"]


async def test_an_id_aep_refuses_is_found_by_halving_and_read_alone_from_then_on(scripted) -> None:
    healthy = [f"job-{n}" for n in range(7)]
    answered = {"count": 0}

    def status() -> str:  # running for the first few answers: the group polls several cycles
        answered["count"] += 1
        return "SUCCEEDED" if answered["count"] > 12 else "PROCESSING"

    def answer(seen: Seen) -> Answer:
        if seen.path != BULK:
            return Answer(200, json.dumps({"id": "refused", "status": status()}).encode())
        if "refused" in ids_of(seen):
            return upapi_400("UPAPI-113434-400", "Invalid segment job id in the request")
        current = status()
        return bulk_answer({i: {"id": i, "status": current} for i in ids_of(seen)})

    server = scripted(answer)
    events = await run_shared([trigger(j, aep_conn_id="aep_scripted") for j in [*healthy, "refused"]])
    assert [e["status"] for e in events] == ["success"] * 8
    with_refused = [len(ids_of(s)) for s in server.seen if s.path == BULK and "refused" in ids_of(s)]
    assert with_refused == [8, 4, 2, 1]  # the first cycle only: halves until the one refused id
    assert len([s for s in server.seen if s.method == "GET"]) >= 2  # several cycles, by GET each time


async def test_a_failed_batch_is_charged_only_to_the_triggers_it_asked_about(scripted) -> None:
    first_batch, release = threading.Event(), threading.Event()

    def answer(seen: Seen) -> Answer:
        if not first_batch.is_set():  # hold the first batch's answer until the second trigger has joined
            first_batch.set()
            release.wait(30)
            return Answer(503, b'{"message": "Service Unavailable"}')
        return bulk_answer({i: succeeded(i) for i in ids_of(seen)})

    server = scripted(answer)
    early = trigger("early", aep_conn_id="aep_scripted", poll_error_budget=1)
    late = trigger("late", aep_conn_id="aep_scripted", poll_error_budget=0)  # one charge would end it
    manager = SharedStreamManager()
    with mock.patch.object(BaseHook, "get_connection", get_connection_off_the_loop(FORBIDDEN)):
        try:
            waiting_early = asyncio.ensure_future(first_event(manager, 1, early))
            await until("the first batch", first_batch.is_set)
            waiting_late = asyncio.ensure_future(first_event(manager, 2, late))
            await until(
                "the late trigger in the group", lambda: "late" in WATCHED.ids(late.shared_stream_key())
            )
            release.set()
            events = [await waiting_early, await waiting_late]
        finally:
            release.set()
            await manager.stop_all()
    assert [e["status"] for e in events] == ["success", "success"]
    assert ids_of(server.seen[0]) == ["early"] and ids_of(server.seen[1]) == ["early", "late"]


def test_a_pause_is_cut_to_the_time_left_before_the_deadline() -> None:
    """The trigger's polling flow jitters each pause by +-10 %, but never past the deadline."""

    class LongestPause(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    now = [1000.0]
    flow = poll_flow(
        job_type(JobKind.SEGMENT_JOB),
        ident="j",
        poll_interval=10.0,
        deadline=1010.5,
        clock=lambda: now[0],
        jitter=0.1,
        rng=LongestPause(),
    )
    assert isinstance(flow.send(None), Fetch)
    pause = flow.send(SegmentJob.model_validate({"id": "j", "status": "PROCESSING"}))
    assert pause == Wait(10.5, until_deadline=True)  # 11 s jittered, cut to the 10.5 s left
    now[0] += pause.seconds
    assert isinstance(flow.send(None), Fetch)  # the last read, at the deadline
    with pytest.raises(AEPTimeoutError, match="still PROCESSING"):
        flow.send(SegmentJob.model_validate({"id": "j", "status": "PROCESSING"}))
