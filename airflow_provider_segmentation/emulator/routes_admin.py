"""Adobe IMS (``/ims/token/v3``) and the emulator's own admin routes (``/_emulator/`` only)."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_segmentation.emulator.gateway import parse_fault
from airflow_provider_segmentation.emulator.schedules import trigger_now
from airflow_provider_segmentation.emulator.settings import RUNTIME_SETTINGS
from airflow_provider_segmentation.emulator.wire import emulator


def ims_router() -> APIRouter:
    api = APIRouter()

    @api.post("/ims/token/v3")
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
        if not secrets.compare_digest(form.get("client_secret", ""), state.settings.client_secret):
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
            state.tokens[value] = time.time() + lifetime
        return JSONResponse({"access_token": value, "token_type": "bearer", "expires_in": lifetime})

    return api


def admin_router() -> APIRouter:
    api = APIRouter(prefix="/_emulator")

    @api.post("/reset")
    def reset(request: Request) -> dict[str, bool]:
        emulator(request).reset()
        return {"reset": True}

    @api.get("/requests")
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

    @api.delete("/requests")
    def clear_requests(request: Request) -> dict[str, bool]:
        state = emulator(request)
        with state.lock:
            state.request_log.clear()
        return {"cleared": True}

    @api.post("/faults")
    async def add_fault(request: Request) -> JSONResponse:
        state = emulator(request)
        try:
            fault = parse_fault(await request.json())
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad fault spec: {exc}"}, status_code=400)
        ident = state.new_id()
        with state.lock:
            state.faults[ident] = fault
        return JSONResponse({"id": ident})

    @api.delete("/faults")
    def clear_faults(request: Request) -> dict[str, bool]:
        state = emulator(request)
        with state.lock:
            state.faults.clear()
        return {"cleared": True}

    @api.post("/tokens/expire")
    def expire_tokens(request: Request) -> dict[str, int]:
        state = emulator(request)
        with state.lock:
            count = len(state.tokens)
            state.tokens = dict.fromkeys(state.tokens, 0.0)
        return {"expired": count}

    @api.patch("/settings")
    async def patch_settings(request: Request) -> JSONResponse:
        state = emulator(request)
        changes = await request.json()
        unknown = set(changes) - set(RUNTIME_SETTINGS)
        if unknown:
            return JSONResponse({"error": f"unknown settings: {sorted(unknown)}"}, status_code=400)
        with state.lock:
            for key, value in changes.items():
                setattr(state.settings, key, type(getattr(state.settings, key))(value))
        return JSONResponse({key: getattr(state.settings, key) for key in RUNTIME_SETTINGS})

    @api.get("/datasets")
    def datasets(request: Request) -> dict[str, Any]:
        return {"datasets": emulator(request).datasets()}

    @api.get("/datasets/{dataset_id}/batches/{batch_id}")
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

    @api.post("/schedules/{schedule_id}/trigger")
    def trigger(schedule_id: str, request: Request) -> JSONResponse:
        if not trigger_now(emulator(request), schedule_id):
            return JSONResponse({"error": f"no schedule {schedule_id}"}, status_code=404)
        return JSONResponse({"triggered": schedule_id})

    return api
