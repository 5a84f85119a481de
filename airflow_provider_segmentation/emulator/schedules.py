"""Schedules (``/config/schedules``) and the segment jobs an active schedule starts.

An active ``batch_segmentation`` schedule fires at each time of its Quartz cron (evaluated with croniter,
which Airflow already ships; the optional 7th year field is ignored) since it was activated; each fire
becomes a segment job with ``source: "scheduler"`` and ``properties.scheduleId``/``runId``, created when
jobs are next listed or read. ``POST /_emulator/schedules/{id}/trigger`` fires a schedule now.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from croniter import croniter
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_segmentation.emulator.evaluation import new_segment_job
from airflow_provider_segmentation.emulator.requests import (
    ScheduleCreate,
    SchedulePatchOperation,
    parse,
    parse_list,
)
from airflow_provider_segmentation.emulator.state import EmulatorState, Sandbox
from airflow_provider_segmentation.emulator.wire import (
    bad_request,
    emulator,
    json_body,
    next_start,
    no_content,
    not_found,
    paged_query,
    sandbox_of,
)
from airflow_provider_segmentation.models import ScheduleState

MAX_RUNS_PER_READ = 50
DEFAULT_CRON = "0 0 1 * * ?"  # the docs: "if omitted, the system generates one"
SCHEDULE_STATES = tuple(s.value for s in ScheduleState)


def _valid_cron(expression: Any) -> bool:
    if not isinstance(expression, str) or len(expression.split()) not in (6, 7):
        return False
    return bool(croniter.is_valid(" ".join(expression.split()[:6]), second_at_beginning=True))


def _fire_times(cron: str, since: float, until: float) -> list[float]:
    it = croniter(
        " ".join(cron.split()[:6]), datetime.fromtimestamp(since, tz=timezone.utc), second_at_beginning=True
    )
    times: list[float] = []
    while len(times) < MAX_RUNS_PER_READ:
        fire = it.get_next(datetime).timestamp()
        if fire > until:
            break
        times.append(fire)
    return times


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
    cron = body.schedule if body.schedule is not None else DEFAULT_CRON
    if not _valid_cron(cron):
        raise bad_request(f"schedule '{cron}' is not a valid Quartz cron expression")
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
    sandbox = sandbox_of(request)
    if schedule_id not in sandbox.schedules:
        raise not_found("Schedule", schedule_id, sandbox)
    return JSONResponse(public(sandbox.schedules[schedule_id]))


@router.patch("/config/schedules/{schedule_id}")
async def patch_schedule(schedule_id: str, request: Request) -> Response:
    state, sandbox = emulator(request), sandbox_of(request)
    operations = parse_list(SchedulePatchOperation, await json_body(request), "JSON Patch")
    for op in operations:
        if op.path == "/state" and op.value not in SCHEDULE_STATES:
            raise bad_request("state must be active or inactive")
        if op.path == "/schedule" and not _valid_cron(op.value):
            raise bad_request(f"schedule '{op.value}' is not a valid Quartz cron expression")
    with state.lock:
        schedule = sandbox.schedules.get(schedule_id)
        if schedule is None:
            raise not_found("Schedule", schedule_id, sandbox)
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
        if sandbox.schedules.pop(schedule_id, None) is None:
            raise not_found("Schedule", schedule_id, sandbox)
    return no_content()


def trigger_now(state: EmulatorState, schedule_id: str) -> bool:
    """Fire a schedule now in whichever sandbox holds it (admin route)."""
    with state.lock:
        for sandbox in state.sandboxes.values():
            if schedule_id in sandbox.schedules:
                fire_schedule(state, sandbox, sandbox.schedules[schedule_id], state.now())
                return True
    return False
