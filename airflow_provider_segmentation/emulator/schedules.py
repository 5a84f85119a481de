"""Schedules (``/config/schedules``) and the segment jobs an active schedule starts.

A cron is checked as AEP checks it (``airflow_provider_segmentation.cron``: Quartz syntax, and it must
fire at least once from now on the emulator's clock); a bad one is a 400 and nothing is stored. An
active ``batch_segmentation`` schedule fires at each time of its Quartz cron (year field included) since
it was activated; each fire becomes a segment job with ``source: "scheduler"`` and
``properties.scheduleId``/``runId``, created when jobs are next listed or read.
``POST /_emulator/schedules/{id}/trigger`` fires a schedule now.
"""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import islice
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_segmentation.cron import QuartzCron, QuartzCronError, check_quartz_cron
from airflow_provider_segmentation.emulator.aep_rules import check_schedule
from airflow_provider_segmentation.emulator.evaluation import new_segment_job
from airflow_provider_segmentation.emulator.requests import (
    ScheduleCreate,
    SchedulePatchOperation,
    known_schedule_state,
    parse,
    parse_list,
)
from airflow_provider_segmentation.emulator.state import EmulatorState, Sandbox
from airflow_provider_segmentation.emulator.wire import (
    bad_request,
    emulator,
    existing,
    json_body,
    next_start,
    no_content,
    paged_query,
    removed,
    sandbox_of,
)
from airflow_provider_segmentation.models import ScheduleState

MAX_RUNS_PER_READ = 50
DEFAULT_CRON = "0 0 1 * * ?"  # the docs: "if omitted, the system generates one"


def _checked_cron(state: EmulatorState, cron: str) -> str:
    """``cron`` if AEP would accept it now, else AEP's 400 naming the problem (or the once-a-day rule's
    refusal, ``aep_rules``)."""
    try:
        check_quartz_cron(cron, now=_utc(state.now()))
    except QuartzCronError as exc:
        raise bad_request(f"Invalid cron expression: schedule {exc}") from None
    check_schedule(state, cron)
    return cron


def _fire_times(cron: str, since: float, until: float) -> list[float]:
    """The fire times in (since, until], at most ``MAX_RUNS_PER_READ``; none for a cron that cannot fire
    (stored schedules were checked, but one that is not Quartz cron must never break a listing)."""
    try:
        times = QuartzCron.parse(cron).fire_times(_utc(since), _utc(until))
    except QuartzCronError:
        return []
    return [fire.timestamp() for fire in islice(times, MAX_RUNS_PER_READ)]


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def fire_schedule(state: EmulatorState, sandbox: Sandbox, schedule: dict[str, Any], at: float) -> None:
    segments = schedule["properties"].get("segments") or ["*"]
    # A run evaluates the definitions that exist when it fires; with none it still runs and finds nothing.
    ids = (
        list(sandbox.definitions) if segments == ["*"] else [s for s in segments if s in sandbox.definitions]
    )
    run_id = state.new_id()
    new_segment_job(
        state,
        sandbox,
        [{"segmentId": i} for i in ids],
        source="scheduler",
        properties={"scheduleId": schedule["id"], "runId": run_id},
        started=at,
    )


def materialize_scheduled_jobs(state: EmulatorState, sandbox: Sandbox) -> None:
    """Create the segment jobs of every fire time that passed since the schedule was last looked at."""
    now = state.now()
    for schedule in sandbox.schedules.values():
        if schedule["state"] != ScheduleState.ACTIVE or schedule["type"] != "batch_segmentation":
            continue
        for fire in _fire_times(schedule["schedule"], schedule["_checked"], now):
            fire_schedule(state, sandbox, schedule, fire)
        schedule["_checked"] = now


def public(schedule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schedule.items() if not k.startswith("_")}


router = APIRouter(prefix="/data/core/ups")


@router.get("/config/schedules")
def list_schedules(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        items = [public(s) for s in sandbox.schedules.values()]
    page, start, limit = paged_query(request, items)
    following = next_start(start, limit, len(items))
    body: dict[str, Any] = {
        "_page": {"totalCount": len(items), "pageSize": len(page)},
        "children": page,
        "_links": {},
    }
    if following is not None:
        body["_page"]["next"] = str(following)  # a string in the spec's SchedulesPage
        body["_links"]["next"] = {"href": f"/config/schedules?start={following}&limit={limit}"}
    return JSONResponse(body)


@router.post("/config/schedules")
async def create_schedule(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    body = parse(ScheduleCreate, await json_body(request))
    cron = _checked_cron(state, body.schedule if body.schedule is not None else DEFAULT_CRON)
    now = state.now()
    schedule: dict[str, Any] = {
        "id": state.new_id(),
        "imsOrgId": state.settings.org_id,
        "sandbox": {"sandboxName": sandbox.name},
        "name": body.name,
        "state": body.state or ScheduleState.INACTIVE.value,
        "type": body.type,
        "schedule": cron,
        "properties": body.properties.model_dump(),
        "createEpoch": int(now),
        "updateEpoch": int(now),
        "_checked": now,
    }
    with state.lock:
        sandbox.schedules[schedule["id"]] = schedule
    return JSONResponse(public(schedule))


@router.get("/config/schedules/{schedule_id}")
def get_schedule(schedule_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        return JSONResponse(public(existing(sandbox.schedules, schedule_id, "Schedule", sandbox)))


@router.patch("/config/schedules/{schedule_id}")
async def patch_schedule(schedule_id: str, request: Request) -> Response:
    state, sandbox = emulator(request), sandbox_of(request)
    operations = parse_list(SchedulePatchOperation, await json_body(request), "JSON Patch")
    for op in operations:
        if op.path == "/state":
            try:
                known_schedule_state(op.value)
            except ValueError as exc:
                raise bad_request(str(exc)) from None
        if op.path == "/schedule":
            _checked_cron(state, op.value)
    with state.lock:
        schedule = existing(sandbox.schedules, schedule_id, "Schedule", sandbox)
        for op in operations:
            key = op.path.lstrip("/")
            if (
                key == "state"
                and op.value == ScheduleState.ACTIVE
                and schedule["state"] != ScheduleState.ACTIVE
            ):
                schedule["_checked"] = state.now()
            schedule[key] = op.value
        schedule["updateEpoch"] = int(state.now())
    return no_content()


@router.delete("/config/schedules/{schedule_id}")
def delete_schedule(schedule_id: str, request: Request) -> Response:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        removed(sandbox.schedules, schedule_id, "Schedule", sandbox)
    return no_content()


def trigger_now(state: EmulatorState, schedule_id: str) -> bool:
    """Fire a schedule now in whichever sandbox holds it (admin route)."""
    with state.lock:
        for sandbox in state.sandboxes.values():
            if schedule_id in sandbox.schedules:
                fire_schedule(state, sandbox, sandbox.schedules[schedule_id], state.now())
                return True
    return False
