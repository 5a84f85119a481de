"""``AEPJobFinishedTrigger`` against the emulator: one event per finished AEP job, never twice, also
across a triggerer restart (a new trigger instance with the same kwargs and the same asset state)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from airflow_provider_segmentation.client import AEPValidationError
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.triggers.events import AEPJobFinishedTrigger
from airflow_provider_segmentation.triggers.watch_state import WatchedJob, WatchState, plan
from tests.assets.conftest import MemoryAssetStore, Watching, finished
from tests.compat import requires_asset_state_store
from tests.conftest import EmulatorAdmin

JOBS = "/data/core/ups/segment/jobs"
EXPORTS = "/data/core/ups/export/jobs"
POLL = 0.05


@pytest.fixture
def schedule(hook: SegmentationHook) -> dict[str, str]:
    """An AEP evaluation schedule (inactive: only the test fires it) over one definition."""
    gold = hook.client.create_segment_definition(
        {"name": "Gold", "expression": {"value": 'loyalty.tier = "gold"'}}
    )
    created = hook.client.create_schedule(
        "nightly audiences", cron="0 0 1 * * ?", segments=["*"], state="inactive"
    )
    assert gold.id
    return {"id": created.id, "segment_id": gold.id}


def watcher(schedule_id: str, store: MemoryAssetStore | None, **kwargs: Any) -> AEPJobFinishedTrigger:
    trigger = AEPJobFinishedTrigger(
        kind="scheduled_segment_job", schedule_id=schedule_id, poll_interval=POLL, **kwargs
    )
    trigger.asset_state_store = store
    return trigger


def restarted(trigger: AEPJobFinishedTrigger, store: MemoryAssetStore | None) -> AEPJobFinishedTrigger:
    """What the triggerer builds after a restart: a new instance from the stored kwargs, the same state."""
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_segmentation.triggers.events.AEPJobFinishedTrigger"
    fresh = AEPJobFinishedTrigger(**json.loads(json.dumps(kwargs)))
    fresh.asset_state_store = store
    return fresh


async def fire(admin: EmulatorAdmin, hook: SegmentationHook, schedule_id: str) -> str:
    """Make the schedule's run happen now (the emulator's admin route); the id of the segment job."""
    await asyncio.to_thread(admin.trigger_schedule, schedule_id)
    runs = await asyncio.to_thread(
        lambda: list(hook.client.list_segment_jobs(property_filter=f"properties.scheduleId=={schedule_id}"))
    )
    return max(runs, key=lambda run: run.creation_time or 0).id


async def polls(admin: EmulatorAdmin, count: int, path: str = JOBS) -> None:
    """Wait until the watcher has listed the jobs ``count`` more times (it is alive and found nothing)."""
    before = len(await asyncio.to_thread(admin.requests, "GET", path))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(await asyncio.to_thread(admin.requests, "GET", path)) >= before + count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the watcher did not poll {count} times in 30 s")


def started(store: MemoryAssetStore, trigger: AEPJobFinishedTrigger) -> bool:
    state = store.state(trigger)
    return state is not None and state.started


async def test_one_event_per_finished_run_and_none_again_after_a_restart(
    hook, schedule, emulator_admin
) -> None:
    old = await fire(emulator_admin, hook, schedule["id"])  # finished before the watcher existed: history
    await finished(hook, old)
    store = MemoryAssetStore()
    first = watcher(schedule["id"], store)
    async with Watching(first) as watching:
        await watching.until("the first poll's baseline", lambda: started(store, first))
        one = await fire(emulator_admin, hook, schedule["id"])
        two = await fire(emulator_admin, hook, schedule["id"])
        events = await watching.events_after(2)
        await polls(emulator_admin, 5)
        assert [e["job_id"] for e in watching.events] == [one, two]  # not `old`, and each once
    event = events[0]
    assert event["kind"] == "scheduled_segment_job" and event["status"] == "SUCCEEDED"
    assert event["schedule_id"] == schedule["id"] and event["sandbox"] == "prod"
    assert event["segment_ids"] == [schedule["segment_id"]]
    assert event["segment_counts"][schedule["segment_id"]]["total"] > 0
    json.dumps(event)  # an asset event's extra

    second = restarted(first, store)
    async with Watching(second) as watching:
        await polls(emulator_admin, 5)
        assert watching.events == []  # the restart reports neither `one` nor `two` again
        three = await fire(emulator_admin, hook, schedule["id"])
        await watching.events_after(1)
        await polls(emulator_admin, 5)
        assert [e["job_id"] for e in watching.events] == [three]


async def test_a_run_that_finished_while_the_triggerer_was_down_is_reported_once(
    hook, schedule, emulator_admin
) -> None:
    store = MemoryAssetStore()
    first = watcher(schedule["id"], store)
    async with Watching(first) as watching:
        await watching.until("the baseline", lambda: started(store, first))
    missed = await fire(emulator_admin, hook, schedule["id"])
    await finished(hook, missed)
    async with Watching(restarted(first, store)) as watching:
        await watching.events_after(1)
        await polls(emulator_admin, 5)
        assert [e["job_id"] for e in watching.events] == [missed]


async def test_a_run_still_running_at_the_restart_is_reported_when_it_finishes(
    hook, schedule, emulator_admin
) -> None:
    emulator_admin.configure(job_step_seconds=0.5)
    store = MemoryAssetStore()
    first = watcher(schedule["id"], store)
    async with Watching(first) as watching:
        await watching.until("the baseline", lambda: started(store, first))
        running = await fire(emulator_admin, hook, schedule["id"])
        job = await asyncio.to_thread(hook.client.get_segment_job, running)
        created_ms = job.creation_time
        # the watcher saw it running: the floor stays at its creation time until it is reported
        await watching.until("the run seen running", lambda: store.state(first).floor == created_ms)  # type: ignore[union-attr]
        assert watching.events == []
    async with Watching(restarted(first, store)) as watching:
        await watching.events_after(1)
        await polls(emulator_admin, 5)
        assert [e["job_id"] for e in watching.events] == [running]


async def test_without_a_state_store_a_restart_takes_a_new_baseline(hook, schedule, emulator_admin) -> None:
    first = watcher(schedule["id"], None)
    async with Watching(first) as watching:
        await polls(emulator_admin, 2)
        seen = await fire(emulator_admin, hook, schedule["id"])
        await watching.events_after(1)
    async with Watching(restarted(first, None)) as watching:
        await polls(emulator_admin, 5)
        assert watching.events == []  # never twice; what finishes while it is down is not reported
        new = await fire(emulator_admin, hook, schedule["id"])
        await watching.events_after(1)
        assert [e["job_id"] for e in watching.events] == [new] and new != seen


async def test_a_schedule_watched_by_name_is_found_once_it_exists(hook, aep_conn, emulator_admin) -> None:
    store = MemoryAssetStore()
    trigger = AEPJobFinishedTrigger(
        kind="scheduled_segment_job", schedule_name="made later", poll_interval=POLL, sandbox="prod"
    )
    trigger.asset_state_store = store
    async with Watching(trigger) as watching:
        await watching.until("the baseline", lambda: started(store, trigger))
        await asyncio.to_thread(
            hook.client.create_segment_definition,
            {"name": "US", "expression": {"value": 'homeAddress.country = "US"'}},
        )
        created = await asyncio.to_thread(hook.client.create_schedule, "made later", cron="0 0 1 * * ?")
        run = await fire(emulator_admin, hook, created.id)
        [event] = await watching.events_after(1)
        assert event["job_id"] == run and event["schedule_id"] == created.id


async def test_transient_errors_never_stop_the_watcher(hook, schedule, emulator_admin, monkeypatch) -> None:
    store = MemoryAssetStore()
    trigger = watcher(schedule["id"], store, aep_conn_id="aep_late")  # no such connection yet
    pauses: list[float] = []
    pause = trigger._pause

    async def counted(seconds: float) -> None:
        pauses.append(seconds)
        await pause(seconds)

    trigger._pause = counted  # type: ignore[method-assign]
    async with Watching(trigger) as watching:
        await watching.until("three failed connection lookups", lambda: len(pauses) >= 3)
        assert not started(store, trigger)
        monkeypatch.setenv("AIRFLOW_CONN_AEP_LATE", os.environ["AIRFLOW_CONN_AEP_DEFAULT"])
        await watching.until("the baseline", lambda: started(store, trigger), timeout=60)
        for kind, extra in (("status", {"status": 503, "retry_after": 0.01}), ("drop", {})):
            emulator_admin.inject_fault(method="GET", path=JOBS, kind=kind, count=3, **extra)
        emulator_admin.inject_fault(
            method="GET", path=JOBS, kind="status", status=429, retry_after=0.01, count=2
        )
        await asyncio.to_thread(emulator_admin.expire_tokens)
        store.fail_writes = 2  # and the state store fails twice: no event until its state is saved
        run = await fire(emulator_admin, hook, schedule["id"])
        await watching.events_after(1, timeout=60)
        assert run in store.state(trigger).handled  # type: ignore[union-attr]
        await polls(emulator_admin, 5)
        assert [e["job_id"] for e in watching.events] == [run]
    statuses = {e["status"] for e in emulator_admin.requests("GET", JOBS)}
    assert {503, 429} <= statuses  # the faults did reach the watcher


async def test_polls_wait_the_poll_interval_and_back_off_on_errors(hook, schedule, emulator_admin) -> None:
    pauses: list[float] = []
    trigger = watcher(schedule["id"], MemoryAssetStore())

    async def recorded(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0.005)

    trigger._pause = recorded  # type: ignore[method-assign]
    # six 503s: two attempts per poll, so three polls in a row fail
    emulator_admin.inject_fault(method="GET", path=JOBS, kind="status", status=503, retry_after=0.01, count=6)
    async with Watching(trigger) as watching:
        await watching.until("ten pauses", lambda: len(pauses) >= 10)
    assert pauses[:3] == [POLL, 2 * POLL, 4 * POLL]
    assert all(0.9 * POLL <= p <= 1.1 * POLL for p in pauses[3:10])


async def test_exports_into_a_dataset_are_reported_with_their_audiences(
    hook, aep_conn, emulator_admin
) -> None:
    hook = SegmentationHook()
    gold = hook.client.create_segment_definition(
        {"name": "Gold", "expression": {"value": 'loyalty.tier = "gold"'}}
    ).id
    silver = hook.client.create_segment_definition(
        {"name": "Silver", "expression": {"value": 'loyalty.tier = "silver"'}}
    ).id
    assert gold and silver
    hook.wait_for_segment_job(
        hook.client.create_segment_job([gold, silver]).id, poll_interval=0.05, timeout=30
    )

    def export(*segments: str) -> str:
        request = {
            "filter": {"segments": [{"segmentId": s, "status": ["realized", "existing"]} for s in segments]},
            "destination": {"datasetId": PROFILE_DATASET_ID},
        }
        return hook.client.create_export_job(request).id

    before = export(gold)
    await finished(hook, before, kind="export")
    store = MemoryAssetStore()
    trigger = AEPJobFinishedTrigger(
        kind="export_job", dataset_id=PROFILE_DATASET_ID, segment_ids=[gold], poll_interval=POLL
    )
    trigger.asset_state_store = store
    async with Watching(trigger) as watching:
        await watching.until("the baseline", lambda: started(store, trigger))
        only_gold = await asyncio.to_thread(export, gold)
        only_silver = await asyncio.to_thread(export, silver)  # not of the watched audience
        both = await asyncio.to_thread(export, silver, gold)
        for job in (only_gold, only_silver, both):
            await finished(hook, job, kind="export")
        await watching.events_after(2)
        await polls(emulator_admin, 5, EXPORTS)  # and no third event in five more listings
        events = {e["job_id"]: e for e in watching.events}
    assert list(events) == [only_gold, both] and len(watching.events) == 2
    event = events[both]
    assert event["dataset_id"] == PROFILE_DATASET_ID and event["status"] == "SUCCEEDED"
    assert event["segment_ids"] == [silver, gold] and event["exported_profiles"] > 0
    assert event["batch_ids"]


@requires_asset_state_store
async def test_the_state_lives_in_every_watched_assets_store_through_airflows_accessors(
    hook, schedule, emulator_admin, monkeypatch
) -> None:
    """The triggerer injects ``AssetStateStoreAccessors``; a trigger shared by two assets keeps its state
    in both (reading back the most advanced), through Airflow's own accessor messages."""
    from airflow.sdk import Asset
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import (
        AssetStateStoreResult,
        GetAssetStateStoreByName,
        OKResponse,
        SetAssetStateStoreByName,
    )
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    rows: dict[tuple[str, str], Any] = {}

    class Supervisor:
        async def asend(self, msg: Any) -> Any:
            if isinstance(msg, SetAssetStateStoreByName):
                rows[msg.name, msg.key] = json.loads(json.dumps(msg.value))
                return OKResponse(ok=True)
            assert isinstance(msg, GetAssetStateStoreByName)
            return AssetStateStoreResult(value=rows.get((msg.name, msg.key)))

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Supervisor(), raising=False)
    trigger = watcher(schedule["id"], None)
    trigger.asset_state_store = AssetStateStoreAccessors(inlets=[Asset("aep://prod/schedules/a"), Asset("b")])
    async with Watching(trigger) as watching:
        await watching.until("the baseline", lambda: len(rows) == 2)
        run = await fire(emulator_admin, hook, schedule["id"])
        await watching.events_after(1)
    states = {name: WatchState.from_json(value) for (name, _), value in rows.items()}
    assert set(states) == {"aep://prod/schedules/a", "b"}
    assert all(s is not None and run in s.handled for s in states.values())


def test_watches_are_checked_when_the_dag_is_parsed() -> None:
    bad: list[dict[str, Any]] = [
        {"kind": "segment_job", "schedule_id": "s"},
        {"kind": "scheduled_segment_job"},
        {"kind": "scheduled_segment_job", "schedule_id": "s", "schedule_name": "n"},
        {"kind": "scheduled_segment_job", "schedule_id": "a/b"},
        {"kind": "scheduled_segment_job", "schedule_id": "s", "dataset_id": "d"},
        {"kind": "export_job"},
        {"kind": "export_job", "dataset_id": "d", "statuses": ["CANCELLED"]},
        {"kind": "export_job", "dataset_id": "d", "statuses": "SUCCEEDED"},
        {"kind": "export_job", "dataset_id": "d", "poll_interval": 0},
        {"kind": "export_job", "dataset_id": "d", "sandbox": "Prod"},
    ]
    for kwargs in bad:
        with pytest.raises(AEPValidationError):
            AEPJobFinishedTrigger(**kwargs)
    trigger = AEPJobFinishedTrigger(kind="export_job", dataset_id="d", segment_ids=["x"], statuses=["FAILED"])
    assert AEPJobFinishedTrigger(**trigger.serialize()[1]).serialize() == trigger.serialize()
    assert len(trigger.state_key) < 100  # the store's key column holds 512


async def test_the_example_dags_watcher_reports_the_nightly_run(hook, emulator_admin, monkeypatch) -> None:
    """The trigger of ``aep_nightly_audience_export`` (example_dags/example_audience_asset.py), as the DAG
    file builds it, against the emulator: the schedule kept as code by name, one event per run."""
    import importlib.util
    from pathlib import Path

    monkeypatch.setenv("AEP_DEMO_POLL_INTERVAL", str(POLL))
    path = Path(__file__).resolve().parents[2] / "example_dags" / "example_audience_asset.py"
    spec = importlib.util.spec_from_file_location("example_audience_asset", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    [watch] = example.NIGHTLY_RUNS.watchers
    trigger = restarted(watch.trigger, MemoryAssetStore())  # as the triggerer builds it from the DB
    store = trigger.asset_state_store
    assert isinstance(store, MemoryAssetStore)
    gold = hook.client.create_segment_definition(
        {"name": "Gold", "expression": {"value": 'loyalty.tier = "gold"'}}
    )
    nightly = hook.client.create_schedule("nightly audiences", cron="0 0 1 * * ?", state="active")
    async with Watching(trigger) as watching:
        await watching.until("the baseline", lambda: started(store, trigger))
        run = await fire(emulator_admin, hook, nightly.id)
        [event] = await watching.events_after(1)
        await polls(emulator_admin, 3)
    assert len(watching.events) == 1 and event["job_id"] == run and event["segment_ids"] == [gold.id]


def job(ident: str, created: int, finished: bool = True, status: str = "SUCCEEDED") -> WatchedJob:
    return WatchedJob(ident, status if finished else "PROCESSING", finished, created, {"job_id": ident})


def test_the_rule_an_older_run_that_finishes_late_is_still_reported_and_the_state_stays_small() -> None:
    state = WatchState()
    report, state = plan(state, [job("history", 100)], ["SUCCEEDED"])
    assert report == [] and state == WatchState(started=True, floor=100, handled=("history",))  # baseline
    report, state = plan(
        state, [job("history", 100), job("slow", 200, False), job("fast", 300)], ["SUCCEEDED"]
    )
    assert [j.id for j in report] == ["fast"] and state.floor == 200  # "slow" still running holds the floor
    listed = [job("slow", 200, status="FAILED"), job("fast", 300), job("next", 400)]
    report, state = plan(state, listed, ["SUCCEEDED", "FAILED"])
    assert [j.id for j in report] == ["slow", "next"]
    assert state == WatchState(started=True, floor=400, handled=("next",))  # only what can be listed again
    report, state = plan(state, [job("next", 400), job("late-listed", 400)], ["SUCCEEDED"])
    assert [j.id for j in report] == ["late-listed"]  # same creation time as the floor: still seen
    report, _ = plan(state, [job("next", 400), job("late-listed", 400)], ["SUCCEEDED"])
    assert report == []


def test_a_job_running_for_days_stops_holding_the_floor_back() -> None:
    state = WatchState(started=True, floor=0)
    day = 24 * 3600 * 1000
    _, held = plan(state, [job("stuck", 0, False), job("a", day)], ["SUCCEEDED"], now_ms=day)
    assert held.floor == 0
    _, moved = plan(state, [job("stuck", 0, False), job("a", day)], ["SUCCEEDED"], now_ms=3 * day)
    assert moved.floor == day and moved.handled == ("a",)
