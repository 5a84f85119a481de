"""Audiences and segment search under ``/data/core/ups``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_segmentation.emulator.aep_rules import check_account_audiences, resolved_evaluation_info
from airflow_provider_segmentation.emulator.requests import (
    AudienceBody,
    AudiencePatchOperation,
    audience_type,
    bulk_ids,
    parse,
    parse_list,
)
from airflow_provider_segmentation.emulator.routes_segments import pql_text
from airflow_provider_segmentation.emulator.state import EmulatorState, Sandbox
from airflow_provider_segmentation.emulator.wire import (
    AEPHttpError,
    bad_request,
    emulator,
    existing,
    int_param,
    json_body,
    next_start,
    no_content,
    paged_query,
    removed,
    sandbox_of,
    sort_param,
    sorted_by,
)

MAX_BULK_IDS = 100
IMMUTABLE = ("id", "audienceId", "namespace", "imsOrgId", "sandbox", "creationTime")

router = APIRouter(prefix="/data/core/ups")


def audience_not_found(kind: str, ident: str, sandbox: Sandbox) -> AEPHttpError:
    """The audiences service words its 404 its own way (no sandbox in it, its own code)."""
    return AEPHttpError(404, "UPAPI-113430-404", f"{kind} with id '{ident}' not found")


def _checked(state: EmulatorState, body: Any) -> dict[str, Any]:
    """``body`` once it is a valid audience (``AudienceBody``: typed fields, enums, the fields its type
    requires; PQL that parses), without its null fields (null is absence, so defaults apply); a 400
    otherwise. POST, PUT and the audience a PATCH leaves behind all pass here."""
    audience = parse(AudienceBody, body)
    if audience.expression is not None:
        pql_text(state, body["expression"])
    assert isinstance(body, dict)
    return {key: value for key, value in body.items() if value is not None}


def _ruled(state: EmulatorState, sandbox: Sandbox, audience: dict[str, Any]) -> dict[str, Any]:
    """``audience`` as AEP keeps it: a declared evaluation method it is not eligible for resolved (as a
    segment definition's is), and refused past the account-audience limit. Call under the state lock."""
    expression, declared = audience.get("expression"), audience.get("evaluationInfo")
    if declared is not None and expression is not None and state.settings.rules.resolve_evaluation_method:
        audience["evaluationInfo"] = resolved_evaluation_info(
            state, sandbox, pql_text(state, expression), declared
        )
    check_account_audiences(state, sandbox, audience)
    return audience


def _contains(value: Any, needle: str) -> bool:
    return needle in str(value or "").lower()


@router.get("/audiences")
def list_audiences(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    name = (request.query_params.get("name") or "").lower()
    description = (request.query_params.get("description") or "").lower()
    keys = sort_param(request, "creationTime:asc")
    with state.lock:
        items = list(sandbox.audiences.values())  # creation order
    items = [a for a in items if _contains(a["name"], name) and _contains(a.get("description"), description)]
    prop = request.query_params.get("property")
    if prop and "==" in prop:
        key, value = prop.split("==", 1)
        items = [a for a in items if str(a.get(key)) == value]
    items = sorted_by(items, keys)
    page, start, limit = paged_query(request, items)
    following = next_start(start, limit, len(items))
    body: dict[str, Any] = {
        "children": page,
        "_page": {
            "totalCount": len(items),
            "totalPages": max(1, -(-len(items) // limit)),
            "sortField": keys[0][0],
            "sort": keys[0][1],
            "pageSize": len(page),
            "limit": limit,
            "start": start,
        },
        "_links": {},
    }
    if following is not None:
        body["_page"]["next"] = following
        body["_links"]["next"] = {"href": f"@/audiences?start={following}&limit={limit}"}
    return JSONResponse(body)


@router.post("/audiences")
async def create_audience(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    body = _checked(state, await json_body(request))
    with state.lock:
        if any(a["name"] == body["name"] for a in sandbox.audiences.values()):
            raise AEPHttpError(409, "UPAPI-113011-409", f"An audience named '{body['name']}' already exists")
        ident = state.new_id()
        created = state.now_ms()
        audience = {
            "type": audience_type(body),
            "namespace": "AEPSegments",
            "lifecycleState": "published",
            "originName": "REAL_TIME_CUSTOMER_PROFILE",
            **body,
            "id": ident,
            "audienceId": body.get("audienceId") or ident,
            "imsOrgId": state.settings.org_id,
            "sandbox": {"sandboxName": sandbox.name},
            "creationTime": created,
            "updateTime": created,
        }
        sandbox.audiences[ident] = _ruled(state, sandbox, audience)
    return JSONResponse(audience, status_code=201)


@router.get("/audiences/{audience_id}")
def get_audience(audience_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        return JSONResponse(existing(sandbox.audiences, audience_id, "Audience", sandbox, audience_not_found))


def _apply(document: dict[str, Any], operation: AudiencePatchOperation) -> None:
    """JSON Patch ``add``/``replace`` of one JSON Pointer into objects (RFC 6901 escapes)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in operation.path.split("/")[1:]]
    if parts[0] in IMMUTABLE:
        raise bad_request(f"{parts[0]} is immutable")
    target: Any = document
    for part in parts[:-1]:
        target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            raise bad_request(f"path '{operation.path}' does not name a field of the audience")
    target[parts[-1]] = operation.value


@router.patch("/audiences/{audience_id}")
async def patch_audience(audience_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    operations = parse_list(AudiencePatchOperation, await json_body(request), "JSON Patch")
    with state.lock:
        audience = existing(sandbox.audiences, audience_id, "Audience", sandbox, audience_not_found)
        updated = _deep_copy(audience)
        for operation in operations:
            _apply(updated, operation)
        updated = _ruled(state, sandbox, _checked(state, updated))
        updated["updateTime"] = state.now_ms()
        sandbox.audiences[audience_id] = updated
    return JSONResponse(updated, status_code=201)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


@router.put("/audiences/{audience_id}")
async def put_audience(audience_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    body = _checked(state, await json_body(request))
    with state.lock:
        current = existing(sandbox.audiences, audience_id, "Audience", sandbox, audience_not_found)
        if body.get("namespace", current["namespace"]) != current["namespace"]:
            raise bad_request("Namespace is immutable")
        replaced = {
            "type": audience_type(body),
            **body,
            "id": audience_id,
            "audienceId": current["audienceId"],
            "namespace": current["namespace"],
            "imsOrgId": current["imsOrgId"],
            "sandbox": current["sandbox"],
            "creationTime": current["creationTime"],
            "updateTime": state.now_ms(),
        }
        sandbox.audiences[audience_id] = _ruled(state, sandbox, replaced)
    return JSONResponse(replaced, status_code=201)


@router.delete("/audiences/{audience_id}")
def delete_audience(audience_id: str, request: Request) -> Response:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        removed(sandbox.audiences, audience_id, "Audience", sandbox, audience_not_found)
    return no_content()


@router.post("/audiences/bulk-get")
async def bulk_get(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    ids = bulk_ids(await json_body(request), maximum=MAX_BULK_IDS)
    found = {i: sandbox.audiences[i] for i in ids if i in sandbox.audiences}
    if not found:
        raise audience_not_found("Audience", ", ".join(ids), sandbox)
    results = {
        i: found.get(i)
        or {
            "requestId": request.headers.get("x-request-id", ""),
            "errors": {"404": [{"code": 404, "message": "Not found."}]},
        }
        for i in ids
    }
    return JSONResponse({"results": results}, status_code=207)


@router.get("/search/namespaces")
def search_namespaces(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    hits = _search(sandbox.audiences.values(), request.query_params.get("s"))
    counts: dict[str, int] = {}
    for audience in hits:
        counts[audience["namespace"]] = counts.get(audience["namespace"], 0) + 1
    return JSONResponse(
        {"namespaces": [{"namespace": ns, "displayName": ns, "count": n} for ns, n in sorted(counts.items())]}
    )


@router.get("/search/entities")
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


@router.get("/search/taxonomy")
def search_taxonomy(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    entity_id = request.query_params.get("entityId")
    audience = sandbox.audiences.get(entity_id or "")
    if audience is None:
        raise audience_not_found("Audience", str(entity_id), sandbox)
    return JSONResponse(
        {
            "taxonomy": [
                {"id": audience["namespace"], "name": audience["namespace"]},
                {"id": audience["id"], "name": audience["name"]},
            ],
            "retrievedAt": int(state.now()),
        }
    )


def _search(audiences: Any, text: str | None) -> list[dict[str, Any]]:
    needle = (text or "").strip("*").lower()
    return sorted((a for a in audiences if needle in a["name"].lower()), key=lambda a: a["name"])
