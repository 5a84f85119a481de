"""Adobe IMS (``/ims/token/v3``) and the emulator's own admin routes (``/_emulator/`` only)."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_segmentation.emulator.aep_rules import changed_rules
from airflow_provider_segmentation.emulator.gateway import credential_matches, parse_fault
from airflow_provider_segmentation.emulator.history import changed_history
from airflow_provider_segmentation.emulator.schedules import trigger_now
from airflow_provider_segmentation.emulator.settings import RUNTIME_SETTINGS
from airflow_provider_segmentation.emulator.wire import emulator

ims_router = APIRouter()
admin_router = APIRouter(prefix="/_emulator")
# The largest number a runtime setting takes (seconds, job counts, ids): beyond it no test means anything.
MAX_SETTING = 10**9


@ims_router.post("/ims/token/v3")
async def token(request: Request) -> JSONResponse:
    state = emulator(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    form.update({k: v for k, v in request.query_params.items() if k not in form})
    if form.get("grant_type") != "client_credentials":
        return JSONResponse(
            {
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be client_credentials",
            },
            status_code=400,
        )
    if form.get("client_id") != state.settings.client_id:
        return JSONResponse(
            {"error": "invalid_client", "error_description": "invalid client_id parameter"},
            status_code=400,
        )
    if not credential_matches(form.get("client_secret", ""), state.settings.client_secret):
        return JSONResponse(
            {"error": "invalid_client", "error_description": "invalid client_secret parameter"},
            status_code=401,
        )
    if not form.get("scope"):
        return JSONResponse(
            {"error": "invalid_scope", "error_description": "scope is required"}, status_code=400
        )
    value = "eyJ" + secrets.token_urlsafe(48)
    lifetime = state.settings.token_lifetime_seconds
    with state.lock:
        state.tokens[value] = state.now() + lifetime
    return JSONResponse({"access_token": value, "token_type": "bearer", "expires_in": lifetime})


@admin_router.post("/reset")
def reset(request: Request) -> dict[str, bool]:
    emulator(request).reset()
    return {"reset": True}


@admin_router.get("/requests")
def requests_log(request: Request) -> dict[str, Any]:
    state = emulator(request)
    method = request.query_params.get("method")
    prefix = request.query_params.get("path", "")
    with state.lock:
        entries = [
            e
            for e in state.request_log
            if (method is None or e["method"] == method.upper()) and e["path"].startswith(prefix)
        ]
    return {"requests": entries}


@admin_router.delete("/requests")
def clear_requests(request: Request) -> dict[str, bool]:
    state = emulator(request)
    with state.lock:
        state.request_log.clear()
    return {"cleared": True}


@admin_router.post("/faults")
async def add_fault(request: Request) -> JSONResponse:
    state = emulator(request)
    try:
        fault = parse_fault(await request.json())
    except ValueError as exc:
        return JSONResponse({"error": f"bad fault spec: {exc}"}, status_code=400)
    ident = state.new_id()
    with state.lock:
        state.faults[ident] = fault
    return JSONResponse({"id": ident})


@admin_router.delete("/faults")
def clear_faults(request: Request) -> dict[str, bool]:
    state = emulator(request)
    with state.lock:
        state.faults.clear()
    return {"cleared": True}


@admin_router.post("/tokens/expire")
def expire_tokens(request: Request) -> dict[str, int]:
    state = emulator(request)
    with state.lock:
        count = len(state.tokens)
        state.tokens = dict.fromkeys(state.tokens, 0.0)
    return {"expired": count}


@admin_router.patch("/settings")
async def patch_settings(request: Request) -> JSONResponse:
    state = emulator(request)
    try:
        changes = await request.json()
    except ValueError:
        changes = None
    if not isinstance(changes, dict):
        return JSONResponse({"error": "send an object of settings"}, status_code=400)
    try:
        rules = changed_rules(state.settings.rules, changes.pop("rules", {}))
        history = changed_history(state.settings.history, changes.pop("history", {}))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    unknown = set(changes) - set(RUNTIME_SETTINGS)
    if unknown:
        return JSONResponse({"error": f"unknown settings: {sorted(unknown)}"}, status_code=400)
    wrong = sorted(
        key for key, value in changes.items() if not _fits(key, value, getattr(state.settings, key))
    )
    if wrong:
        return JSONResponse(
            {
                "error": f"bad values for {wrong}: flags take true or false, numbers 0 to {MAX_SETTING:,} "
                "(max_job_bulk_get_ids at least 1)"
            },
            status_code=400,
        )
    with state.lock:
        for key, value in changes.items():
            setattr(state.settings, key, type(getattr(state.settings, key))(value))
        state.settings.rules = rules
        state.settings.history = history
        today = state.population(state.now())
        history_now = {
            **history.describe(),
            "start_day": str(history.start_day or state.start_day),
            "today": {"day_number": today.day_number, "profiles": state.engine.total_profiles(today)},
        }
    current = {key: getattr(state.settings, key) for key in RUNTIME_SETTINGS}
    return JSONResponse({**current, "rules": dataclasses.asdict(rules), "history": history_now})


def _fits(key: str, value: Any, current: Any) -> bool:
    """A runtime setting's new value has the setting's JSON type (no ``"false"`` read as true) and range."""
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if not isinstance(value, int if isinstance(current, int) else (int, float)):
        return False
    minimum = 1 if key == "max_job_bulk_get_ids" else 0
    return minimum <= value <= MAX_SETTING


@admin_router.get("/datasets")
def datasets(request: Request) -> dict[str, Any]:
    return {"datasets": emulator(request).datasets()}


@admin_router.get("/datasets/{dataset_id}/batches/{batch_id}")
def batch(dataset_id: str, batch_id: str, request: Request) -> JSONResponse:
    state = emulator(request)
    sandbox_name = request.query_params.get("sandbox")
    with state.lock:
        for name, sandbox in state.sandboxes.items():
            if sandbox_name not in (None, name):
                continue
            records = sandbox.batches.get(dataset_id, {}).get(batch_id)
            if records is not None:
                return JSONResponse({"records": records})
    return JSONResponse({"error": f"no batch {batch_id} in dataset {dataset_id}"}, status_code=404)


@admin_router.post("/schedules/{schedule_id}/trigger")
def trigger(schedule_id: str, request: Request) -> JSONResponse:
    if not trigger_now(emulator(request), schedule_id):
        return JSONResponse({"error": f"no schedule {schedule_id}"}, status_code=404)
    return JSONResponse({"triggered": schedule_id})


@admin_router.get("/clock")
def get_clock(request: Request) -> dict[str, Any]:
    return emulator(request).clock.describe()


@admin_router.post("/clock")
async def set_clock(request: Request) -> JSONResponse:
    """``{"frozen": true|false}`` and/or ``{"advance_seconds": N}`` (freeze first, then advance)."""
    clock = emulator(request).clock
    try:
        change = await request.json()
        if not isinstance(change, dict) or set(change) - {"frozen", "advance_seconds"}:
            raise ValueError("send {'frozen': bool} and/or {'advance_seconds': number}")
        frozen, seconds = change.get("frozen"), change.get("advance_seconds", 0)
        if frozen is not None and not isinstance(frozen, bool):
            raise ValueError("frozen must be true or false")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ValueError("advance_seconds must be a number of seconds")
        if frozen is not None:
            clock.freeze(frozen)
        clock.advance(float(seconds))
    except ValueError as exc:
        return JSONResponse({"error": f"bad clock change: {exc}"}, status_code=400)
    return JSONResponse(clock.describe())
