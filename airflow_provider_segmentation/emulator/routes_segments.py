"""Segment definitions, PQL conversion and segment jobs under ``/data/core/ups``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_segmentation.emulator.aep_rules import (
    check_account_audiences,
    on_demand_ids,
    resolved_evaluation_info,
)
from airflow_provider_segmentation.emulator.evaluation import new_segment_job, refresh_segment_job
from airflow_provider_segmentation.emulator.requests import (
    ConversionRequest,
    CreateSegmentDefinition,
    RunAllSegmentJob,
    SegmentJobRequest,
    bulk_ids,
    parse,
    parse_list,
)
from airflow_provider_segmentation.emulator.schedules import materialize_scheduled_jobs
from airflow_provider_segmentation.emulator.state import DEFAULT_MERGE_POLICY_ID, EmulatorState, Sandbox
from airflow_provider_segmentation.emulator.wire import (
    AEPHttpError,
    bad_request,
    emulator,
    existing,
    int_param,
    json_body,
    message,
    no_content,
    paged_query,
    removed,
    sandbox_of,
    sort_param,
    sorted_by,
)
from airflow_provider_segmentation.models import SegmentJobStatus
from airflow_provider_segmentation.pql import PQLError

MAX_SEGMENTS_PER_JOB = 1500
MAX_DEFINITION_BULK_IDS = 1500

router = APIRouter(prefix="/data/core/ups")


def pql_text(state: EmulatorState, expression: Any) -> str:
    """The definition's PQL as text, checked by the engine (400 with the parser's message otherwise)."""
    if not isinstance(expression, dict) or not expression.get("value"):
        raise bad_request("expression.value is required")
    if expression.get("type", "PQL") != "PQL":
        raise bad_request("expression.type must be PQL")
    fmt = expression.get("format", "pql/text")
    if fmt not in ("pql/text", "pql/json"):
        raise bad_request("expression.format must be pql/text or pql/json")
    try:
        text = (
            expression["value"]
            if fmt == "pql/text"
            else state.engine.convert(expression["value"], "pql/json")
        )
        state.engine.check(text)
    except PQLError as exc:
        raise AEPHttpError(400, "UPAPI-113040-400", f"Invalid PQL expression: {exc}") from None
    return str(text)


def checked_definition(state: EmulatorState, body: Any) -> tuple[CreateSegmentDefinition, str]:
    """``body`` as a definition AEP would keep (``CreateSegmentDefinition``, PQL the engine parses) and its
    PQL text, else a 400: the one check of a create and of the definition a PATCH would leave behind."""
    definition = parse(CreateSegmentDefinition, body)
    return definition, pql_text(state, body["expression"])


@router.get("/segment/definitions")
def list_definitions(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    limit = int_param(request, "limit", 100, minimum=1, maximum=1000)
    page = int_param(request, "page", 0, maximum=10**6)
    start = int_param(request, "start", page * limit, maximum=10**12)
    keys = sort_param(request, "creationTime:asc")
    with state.lock:
        items = list(sandbox.definitions.values())  # creation order
    for mode in ("continuous", "synchronous"):
        wanted = request.query_params.get(f"evaluationInfo.{mode}.enabled")
        if wanted is not None:
            items = [d for d in items if str(d["evaluationInfo"][mode]["enabled"]).lower() == wanted.lower()]
    items = sorted_by(items, keys)
    total_pages = max(1, -(-len(items) // limit))
    return JSONResponse(
        {
            "segments": items[start : start + limit],
            "page": {
                "totalCount": len(items),
                "totalPages": total_pages,
                "sortField": keys[0][0],
                "sort": keys[0][1],
                "pageSize": len(items[start : start + limit]),
                "limit": limit,
            },
            "link": {},
        }
    )


@router.post("/segment/definitions")
async def create_definition(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    body = await json_body(request)
    definition, text = checked_definition(state, body)
    with state.lock:
        _refuse_taken_name(sandbox, definition.name, "use PATCH to update it")
        created = _new_definition(state, sandbox, body)
        if state.settings.rules.resolve_evaluation_method:
            declared = body.get("evaluationInfo")
            created["evaluationInfo"] = resolved_evaluation_info(state, sandbox, text, declared)
        check_account_audiences(state, sandbox, created)
        sandbox.definitions[created["id"]] = created
    return JSONResponse(created, headers={"X-Location": f"/segment/definitions/{created['id']}"})


def _refuse_taken_name(sandbox: Sandbox, name: str, fix: str) -> None:
    """A sandbox holds one definition of a name (create's 422, also when a PATCH renames onto it)."""
    if any(d["name"] == name for d in sandbox.definitions.values()):
        raise AEPHttpError(
            422, "UPAPI-113012-422", f"A segment definition named '{name}' already exists; {fix}"
        )


@router.get("/segment/definitions/{segment_id}")
def get_definition(segment_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        return JSONResponse(existing(sandbox.definitions, segment_id, "Segment definition", sandbox))


@router.patch("/segment/definitions/{segment_id}")
async def patch_definition(segment_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request(
            "the body of a segment definition PATCH is a JSON object of the fields to overwrite"
        )
    with state.lock:
        current = existing(sandbox.definitions, segment_id, "Segment definition", sandbox)
        # "Overwrite a segment definition": the fields sent replace the stored ones, and the definition
        # that would result is held to create's rules (a null name, schema or expression is refused as a
        # POST refuses it); a null optional field is absence there, so here it keeps the stored value.
        _, text = checked_definition(state, {**current, **body})
        if "name" in body and body["name"] != current["name"]:
            _refuse_taken_name(sandbox, body["name"], "choose another name")
        updated = {**current}
        for key in ("name", "description", "expression", "evaluationInfo", "mergePolicyId", "ttlInDays"):
            if body.get(key) is not None:
                updated[key] = body[key]
        if state.settings.rules.resolve_evaluation_method:
            # an edit re-runs the eligibility rules on what the definition declares now [S-ELIG]
            declared = body.get("evaluationInfo") or current["evaluationInfo"]
            updated["evaluationInfo"] = resolved_evaluation_info(state, sandbox, text, declared)
        check_account_audiences(state, sandbox, updated)
        current.update(updated)
        current["updateTime"], current["updateEpoch"] = state.now_ms(), int(state.now())
    return JSONResponse(current)


@router.delete("/segment/definitions/{segment_id}")
def delete_definition(segment_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        removed(sandbox.definitions, segment_id, "Segment definition", sandbox)
    return message(f"Segment definition with id '{segment_id}' has been deleted")


@router.post("/segment/definitions/bulk-get")
async def bulk_get_definitions(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    ids = bulk_ids(await json_body(request), maximum=MAX_DEFINITION_BULK_IDS)
    return JSONResponse(
        {"results": {i: sandbox.definitions.get(i) or _missing(request, i) for i in ids}}, status_code=207
    )


@router.post("/segment/conversion")
async def convert(request: Request) -> JSONResponse:
    state = emulator(request)
    body = await json_body(request)
    conversion = parse(ConversionRequest, body)
    expression = body["expression"]
    text = pql_text(state, expression)
    source = expression.get("format") or "pql/text"
    target = "pql/json" if source == "pql/text" else "pql/text"
    value = state.engine.convert(text, "pql/text") if target == "pql/json" else text
    answer: dict[str, Any] = {
        # the spec answers a SegmentDefinition: the request's name and schema come back with the expression
        "name": conversion.name or "pql-conversion",
        "schema": body.get("schema") or {"name": "_xdm.context.profile"},
        "profileInstanceId": conversion.profileInstanceId or "ups",
        "imsOrgId": state.settings.org_id,
        "sandbox": {"sandboxName": sandbox_of(request).name},
        "expression": {"type": "PQL", "format": target, "value": value},
    }
    if conversion.description is not None:
        answer["description"] = conversion.description
    return JSONResponse(answer)


@router.get("/segment/jobs")
def list_jobs(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    status = request.query_params.get("status")
    keys = sort_param(request, "creationTime:desc")
    if status is not None and status not in SegmentJobStatus.__members__:
        raise bad_request(f"status '{status}' is not one of {', '.join(SegmentJobStatus.__members__)}")
    with state.lock:
        materialize_scheduled_jobs(state, sandbox)
        jobs = [refresh_segment_job(state, sandbox, job) for job in sandbox.segment_jobs.values()]
    jobs = [j for j in jobs if status is None or j["status"] == status]
    jobs = [j for j in jobs if _property_matches(j, request.query_params.get("property"))]
    jobs = sorted_by(jobs, keys)
    page, start, limit = paged_query(request, jobs)
    links: dict[str, Any] = {}
    if start + limit < len(jobs):
        params = {k: v for k, v in request.query_params.items() if k not in ("start", "limit")}
        links["next"] = {
            "href": "/segment/jobs?" + urlencode({**params, "start": start + limit, "limit": limit})
        }
    return JSONResponse(
        {"_page": {"totalCount": len(jobs), "pageSize": len(page)}, "children": page, "_links": links}
    )


def _job_entries(body: Any, sandbox: Sandbox) -> tuple[list[str], bool]:
    """The segment ids of a job body (the spec's array of {segmentId}, or the docs' run-all object) and
    whether it is the run-all form."""
    if isinstance(body, dict):
        run_all = parse(RunAllSegmentJob, body)
        if [s.segmentId for s in run_all.segments] != ["*"]:
            raise bad_request('the run-all body is {"segments": [{"segmentId": "*"}]}', "UPAPI-113020-400")
        return list(sandbox.definitions), True
    entries = parse_list(SegmentJobRequest, body, "segment job body", maximum=MAX_SEGMENTS_PER_JOB + 1)
    if len(entries) > MAX_SEGMENTS_PER_JOB:
        raise bad_request('at most 1500 segments per job; use [{"segmentId": "*"}] for all')
    return [e.segmentId for e in entries], False


@router.post("/segment/jobs")
async def create_job(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    segment_ids, run_all = _job_entries(await json_body(request), sandbox)
    with state.lock:
        for segment_id in segment_ids:
            existing(sandbox.definitions, segment_id, "Segment definition", sandbox)
        if not run_all:
            segment_ids = on_demand_ids(state, sandbox, segment_ids)
        if state.active_segment_jobs(sandbox) >= state.settings.max_processing_segment_jobs:
            raise AEPHttpError(
                429,
                "UPAPI-113429-429",
                "There are too many segmentation jobs in processing at the moment; try again later",
                headers={"Retry-After": str(max(1, int(state.settings.job_step_seconds)))},
            )
        entries = [{"segmentId": "*"}] if run_all else [{"segmentId": i} for i in segment_ids]
        job = new_segment_job(state, sandbox, entries, source="api")
        body_out = refresh_segment_job(state, sandbox, job)
    return JSONResponse(body_out)


@router.get("/segment/jobs/{job_id}")
def get_job(job_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        job = existing(sandbox.segment_jobs, job_id, "Segment job", sandbox)
        return JSONResponse(refresh_segment_job(state, sandbox, job))


@router.delete("/segment/jobs/{job_id}")
def cancel_job(job_id: str, request: Request) -> Response:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        state.cancel(existing(sandbox.segment_jobs, job_id, "Segment job", sandbox))
    return no_content()


@router.post("/segment/jobs/bulk-get")
async def bulk_get_jobs(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    ids = bulk_ids(await json_body(request), maximum=state.settings.max_job_bulk_get_ids)
    with state.lock:
        results = {
            i: refresh_segment_job(state, sandbox, sandbox.segment_jobs[i])
            if i in sandbox.segment_jobs
            else _missing(request, i)
            for i in ids
        }
    return JSONResponse({"results": results}, status_code=207)


def _new_definition(state: EmulatorState, sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    evaluation = body.get("evaluationInfo") or {}
    continuous = bool((evaluation.get("continuous") or {}).get("enabled"))
    created = state.now_ms()
    return {
        **{k: v for k, v in body.items() if v is not None},
        "id": state.new_id(),
        "imsOrgId": state.settings.org_id,
        "sandbox": {
            "sandboxId": f"sbx-{sandbox.name}",
            "sandboxName": sandbox.name,
            "type": state.settings.rules.sandbox_type(sandbox.name),
            "default": sandbox.name == "prod",
        },
        "profileInstanceId": body.get("profileInstanceId") or "ups",
        "evaluationInfo": {
            "batch": {"enabled": not continuous},
            "continuous": {"enabled": continuous},
            "synchronous": {"enabled": bool((evaluation.get("synchronous") or {}).get("enabled"))},
        },
        "dataGovernancePolicy": {"excludeOptOut": True},
        "mergePolicyId": body.get("mergePolicyId") or DEFAULT_MERGE_POLICY_ID,
        "creationTime": created,
        "updateTime": created,
        "updateEpoch": created // 1000,
    }


def _property_matches(job: dict[str, Any], expression: str | None) -> bool:
    """``property=jsonPath==value`` or ``property=arrayAttr~key==value``, exact match."""
    if not expression or "==" not in expression:
        return True
    path, value = expression.split("==", 1)
    if "~" in path:
        array, key = path.split("~", 1)
        items = job.get(array)
        return any(str(item.get(key)) == value for item in items or [] if isinstance(item, dict))
    current: Any = job
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return str(current) == value


def _missing(request: Request, ident: str) -> dict[str, Any]:
    return {
        "requestId": request.headers.get("x-request-id", ""),
        "errors": {"404": [{"code": 404, "message": f"Not found: {ident}"}]},
    }
