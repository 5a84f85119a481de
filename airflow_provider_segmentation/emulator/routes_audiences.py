"""Audiences and segment search under ``/data/core/ups``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_segmentation.emulator.routes_segments import pql_text
from airflow_provider_segmentation.emulator.state import now_ms
from airflow_provider_segmentation.emulator.wire import (
    AEPHttpError,
    bad_request,
    emulator,
    int_param,
    json_body,
    no_content,
    paged_query,
    sandbox_of,
)

LIFECYCLE_STATES = ("draft", "published", "inactive", "archived")


def _not_found(ident: str) -> AEPHttpError:
    return AEPHttpError(404, "UPAPI-113430-404", f"Audience with id '{ident}' not found")


def _check(state: Any, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not body.get("name"):
        raise bad_request("name is required")
    if body.get("lifecycleState") is not None and body["lifecycleState"] not in LIFECYCLE_STATES:
        raise bad_request(f"lifecycleState must be one of {', '.join(LIFECYCLE_STATES)}", "UPAPI-113434-400")
    if body.get("expression"):
        pql_text(state, body["expression"])
    return body


def router() -> APIRouter:
    api = APIRouter(prefix="/data/core/ups")

    @api.get("/audiences")
    def list_audiences(request: Request) -> JSONResponse:
        state, sandbox = emulator(request), sandbox_of(request)
        name = (request.query_params.get("name") or "").lower()
        with state.lock:
            items = list(sandbox.audiences.values())  # creation order
        items = [a for a in items if name in a["name"].lower()]
        prop = request.query_params.get("property")
        if prop and "==" in prop:
            key, value = prop.split("==", 1)
            items = [a for a in items if str(a.get(key)) == value]
        page, start, limit = paged_query(request, items)
        following = start + limit if start + limit < len(items) else None
        return JSONResponse(
            {
                "children": page,
                "_page": {
                    "totalCount": len(items),
                    "totalPages": max(1, -(-len(items) // limit)),
                    "sortField": "creationTime",
                    "sort": "asc",
                    "pageSize": len(page),
                    "limit": limit,
                    "start": start,
                    "next": following,
                },
                "_links": {"next": {"href": f"@/audiences?start={following}&limit={limit}"}}
                if following
                else {},
            }
        )

    @api.post("/audiences")
    async def create_audience(request: Request) -> JSONResponse:
        state, sandbox = emulator(request), sandbox_of(request)
        body = _check(state, await json_body(request))
        with state.lock:
            if any(a["name"] == body["name"] for a in sandbox.audiences.values()):
                raise AEPHttpError(
                    409, "UPAPI-113011-409", f"An audience named '{body['name']}' already exists"
                )
            ident = state.new_id()
            created = now_ms()
            audience = {
                "type": "SegmentDefinition",
                "namespace": "AEPSegments",
                "lifecycleState": "published",
                "originName": "REAL_TIME_CUSTOMER_PROFILE",
                **body,
                "id": ident,
                "audienceId": body.get("audienceId", ident),
                "imsOrgId": state.settings.org_id,
                "sandbox": {"sandboxName": sandbox.name},
                "creationTime": created,
                "updateTime": created,
            }
            sandbox.audiences[ident] = audience
        return JSONResponse(audience, status_code=201)

    @api.get("/audiences/{audience_id}")
    def get_audience(audience_id: str, request: Request) -> JSONResponse:
        sandbox = sandbox_of(request)
        if audience_id not in sandbox.audiences:
            raise _not_found(audience_id)
        return JSONResponse(sandbox.audiences[audience_id])

    @api.patch("/audiences/{audience_id}")
    async def patch_audience(audience_id: str, request: Request) -> JSONResponse:
        state, sandbox = emulator(request), sandbox_of(request)
        operations = await json_body(request)
        if not isinstance(operations, list) or not operations:
            raise bad_request("the body must be a JSON Patch array")
        with state.lock:
            audience = sandbox.audiences.get(audience_id)
            if audience is None:
                raise _not_found(audience_id)
            updated = dict(audience)
            for op in operations:
                if (
                    not isinstance(op, dict)
                    or op.get("op") not in ("add", "replace")
                    or not str(op.get("path", "")).startswith("/")
                ):
                    raise bad_request("each operation needs op add/replace and a /path")
                key = op["path"].strip("/").split("/")[0]
                if key in ("id", "namespace", "imsOrgId", "sandbox"):
                    raise bad_request(f"{key} is immutable", "UPAPI-113434-400")
                updated[key] = op.get("value")
            _check(state, updated)
            updated["updateTime"] = now_ms()
            sandbox.audiences[audience_id] = updated
        return JSONResponse(updated, status_code=201)

    @api.put("/audiences/{audience_id}")
    async def put_audience(audience_id: str, request: Request) -> JSONResponse:
        state, sandbox = emulator(request), sandbox_of(request)
        body = _check(state, await json_body(request))
        with state.lock:
            current = sandbox.audiences.get(audience_id)
            if current is None:
                raise _not_found(audience_id)
            if body.get("namespace", current["namespace"]) != current["namespace"]:
                raise bad_request("Namespace is immutable")
            replaced = {
                **body,
                "id": audience_id,
                "audienceId": current["audienceId"],
                "namespace": current["namespace"],
                "imsOrgId": current["imsOrgId"],
                "sandbox": current["sandbox"],
                "creationTime": current["creationTime"],
                "updateTime": now_ms(),
            }
            sandbox.audiences[audience_id] = replaced
        return JSONResponse(replaced, status_code=201)

    @api.delete("/audiences/{audience_id}")
    def delete_audience(audience_id: str, request: Request) -> Response:
        state, sandbox = emulator(request), sandbox_of(request)
        with state.lock:
            if sandbox.audiences.pop(audience_id, None) is None:
                raise _not_found(audience_id)
        return no_content()

    @api.post("/audiences/bulk-get")
    async def bulk_get(request: Request) -> JSONResponse:
        sandbox = sandbox_of(request)
        body = await json_body(request)
        ids = [e.get("id") for e in body.get("ids", [])] if isinstance(body, dict) else []
        if not ids or len(ids) > 100:
            raise bad_request(
                "The number of requested IDs is invalid. Cannot be 0 or exceed 100.", "UPAPI-113015-400"
            )
        found = {i: sandbox.audiences[i] for i in ids if i in sandbox.audiences}
        if not found:
            raise _not_found(", ".join(str(i) for i in ids))
        results = {
            i: found.get(i)
            or {
                "requestId": request.headers.get("x-request-id", ""),
                "errors": {"404": [{"code": 404, "message": "Not found."}]},
            }
            for i in ids
        }
        return JSONResponse({"results": results}, status_code=207)

    @api.get("/search/namespaces")
    def search_namespaces(request: Request) -> JSONResponse:
        sandbox = sandbox_of(request)
        hits = _search(sandbox.audiences.values(), request.query_params.get("s"))
        counts: dict[str, int] = {}
        for audience in hits:
            counts[audience["namespace"]] = counts.get(audience["namespace"], 0) + 1
        return JSONResponse(
            {
                "namespaces": [
                    {"namespace": ns, "displayName": ns, "count": n} for ns, n in sorted(counts.items())
                ]
            }
        )

    @api.get("/search/entities")
    def search_entities(request: Request) -> JSONResponse:
        sandbox = sandbox_of(request)
        namespace = request.query_params.get("namespace")
        if not namespace:
            raise bad_request("namespace is required")
        limit = int_param(request, "limit", 50, minimum=1, maximum=50)
        page = int_param(request, "page", 0, maximum=10**6)
        hits = [
            {
                "id": a["id"],
                "name": a["name"],
                "namespace": a["namespace"],
                "description": a.get("description"),
                "schema": {"name": "_xdm.context.segmentdefinition"},
            }
            for a in _search(sandbox.audiences.values(), request.query_params.get("s"))
            if a["namespace"] == namespace
        ]
        chunk = hits[page * limit : (page + 1) * limit]
        return JSONResponse(
            {
                "entities": chunk,
                "page": {
                    "totalCount": len(hits),
                    "totalPages": max(1, -(-len(hits) // limit)),
                    "pageOffset": page,
                    "pageSize": len(chunk),
                },
            }
        )

    @api.get("/search/taxonomy")
    def search_taxonomy(request: Request) -> JSONResponse:
        sandbox = sandbox_of(request)
        entity_id = request.query_params.get("entityId")
        audience = sandbox.audiences.get(entity_id or "")
        if audience is None:
            raise _not_found(str(entity_id))
        return JSONResponse(
            {
                "taxonomy": [
                    {"id": audience["namespace"], "name": audience["namespace"]},
                    {"id": audience["id"], "name": audience["name"]},
                ],
                "retrievedAt": int(time.time()),
            }
        )

    return api


def _search(audiences: Any, text: str | None) -> list[dict[str, Any]]:
    needle = (text or "").strip("*").lower()
    return sorted((a for a in audiences if needle in a["name"].lower()), key=lambda a: a["name"])
