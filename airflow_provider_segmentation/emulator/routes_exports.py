"""Export jobs, previews and estimates under ``/data/core/ups``."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from airflow_provider_segmentation.emulator.evaluation import finished_at, refresh_export_job, refresh_preview
from airflow_provider_segmentation.emulator.requests import CreateExportJob, CreatePreview, parse
from airflow_provider_segmentation.emulator.routes_segments import pql_text
from airflow_provider_segmentation.emulator.state import (
    EXPORT_CANCEL_STEPS,
    EXPORT_JOB_STEPS,
    PREVIEW_STEPS,
    Job,
)
from airflow_provider_segmentation.emulator.wire import (
    bad_request,
    emulator,
    existing,
    int_param,
    json_body,
    message,
    removed,
    sandbox_of,
)
from airflow_provider_segmentation.models import ExportJobStatus, PreviewState

# The spec's filter enum for GET /export/jobs?status= (PROCESSING is a status, but not a filter).
EXPORT_LIST_STATUSES = (ExportJobStatus.NEW, ExportJobStatus.SUCCEEDED, ExportJobStatus.FAILED)

router = APIRouter(prefix="/data/core/ups")


def _cursor(body: dict[str, Any]) -> str:
    return f"{body['creationTime']}_{body['id']}"


@router.get("/export/jobs")
def list_exports(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    status = request.query_params.get("status")
    if status is not None and status not in EXPORT_LIST_STATUSES:
        raise bad_request(
            f"status '{status}' is not one of {', '.join(s.value for s in EXPORT_LIST_STATUSES)}"
        )
    limit = int_param(request, "limit", 100, minimum=1, maximum=1000)
    with state.lock:
        jobs = [refresh_export_job(state, sandbox, job) for job in sandbox.export_jobs.values()]
    jobs = sorted(
        (j for j in jobs if status is None or j["status"] == status),
        key=lambda j: (j["creationTime"], j["id"]),
        reverse=True,
    )
    offset = request.query_params.get("offset")
    if offset:
        jobs = [j for j in jobs if (j["creationTime"], j["id"]) < _parse_cursor(offset)]
    page = jobs[:limit]
    following = f"/export/jobs/?limit={limit}&offset={_cursor(page[-1])}" if len(jobs) > limit else ""
    return JSONResponse(
        {
            "records": page,
            "page": {
                "sortField": "createdTime",
                "sort": "desc",
                "pageOffset": _cursor(page[0]) if page else "",
                "pageSize": len(page),
            },
            "link": {"next": following},
        }
    )


@router.post("/export/jobs")
async def create_export(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    body = await json_body(request)
    export = parse(CreateExportJob, body)
    dataset_id = export.destination.datasetId
    if dataset_id not in {d["id"] for d in state.datasets()}:
        # The spec lists no error of this operation for a dataset Catalog does not have (only 403, 503).
        # Its one example of that case, POST /audiences's "Dataset ID validation", answers 400 with
        # UPLIB-101554-503 "Dataset ... cannot be retrieved from Catalog": the emulator answers the same.
        raise bad_request(
            f"Dataset {dataset_id} cannot be retrieved from Catalog (the emulator's only export dataset, "
            "based on the Profile union schema, is listed by GET /_emulator/datasets)",
            "UPLIB-101554-503",
        )
    with state.lock:
        for entry in (export.filter.segments if export.filter else None) or []:
            existing(sandbox.definitions, entry.segmentId, "Segment definition", sandbox)
        job_id = state.next_number()
        created = state.now_ms()
        destination = body["destination"]
        record = {
            **{key: value for key, value in body.items() if value is not None},  # null is absence
            "id": job_id,
            "jobType": "BATCH",
            "status": ExportJobStatus.NEW.value,
            "imsOrgId": state.settings.org_id,
            "profileInstanceId": "ups",
            "destination": {**destination, "segmentPerBatch": bool(destination.get("segmentPerBatch"))},
            "errors": [],
            "metrics": {},
            "creationTime": created,
            "updateTime": created,
            "requestId": state.new_id(),
        }
        final = ExportJobStatus.FAILED if state.settings.fail_export_jobs else ExportJobStatus.SUCCEEDED
        job = Job(record, state.now(), EXPORT_JOB_STEPS, final, EXPORT_CANCEL_STEPS)
        sandbox.export_jobs[str(job_id)] = job
        if export.evaluationInfo is not None and export.evaluationInfo.segmentation:
            record["evaluationInfo"] = {"segmentation": True}
        return JSONResponse(
            refresh_export_job(state, sandbox, job), headers={"X-Location": f"/export/jobs/{job_id}"}
        )


@router.get("/export/jobs/{job_id}")
def get_export(job_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        job = existing(sandbox.export_jobs, job_id, "Export job", sandbox)
        return JSONResponse(refresh_export_job(state, sandbox, job))


@router.delete("/export/jobs/{job_id}")
def cancel_export(job_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        state.cancel(existing(sandbox.export_jobs, job_id, "Export job", sandbox))
    return message("Export job has been marked for cancelling")


@router.post("/preview")
async def create_preview(request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    preview = parse(CreatePreview, await json_body(request))
    if (preview.predicateType or "pql/text") != "pql/text":
        raise bad_request("predicateType must be pql/text")
    pql_text(state, {"type": "PQL", "format": "pql/text", "value": preview.predicateExpression})
    query_id = state.new_id()
    preview_id = base64.b64encode(f"MDphcHAt{query_id}:emulator".encode()).decode()
    with state.lock:
        state_body = {
            "predicateExpression": preview.predicateExpression,
            "_sandbox": sandbox,
            "previewQueryId": query_id,
        }
        sandbox.previews[preview_id] = Job(state_body, state.now(), PREVIEW_STEPS, PreviewState.RESULT_READY)
    return JSONResponse(
        {
            "state": PreviewState.NEW.value,
            "previewQueryId": query_id,
            "previewQueryStatus": PreviewState.NEW.value,
            "previewId": preview_id,
            "previewExecutionId": 0,
        },
        status_code=201,
        headers={"X-Location": f"/preview/{quote(preview_id, safe='')}"},
    )


@router.get("/preview/{preview_id}")
def get_preview(preview_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    offset = int_param(request, "offset", 0, maximum=10**9)
    limit = int_param(request, "limit", 1000, minimum=1, maximum=1000)
    with state.lock:
        job = existing(sandbox.previews, preview_id, "Preview", sandbox)
        state_name = refresh_preview(state, job)
        members: list[str] = job.body.get("_members", [])
        page = members[offset : offset + limit]
        results = [
            {
                pid: {
                    "_href": f"/data/core/ups/models/profile/{pid}",
                    "endCustomerIds": state.engine.profile(pid).get("identityMap", {}),
                }
            }
            for pid in page
        ]
    base = f"/data/core/ups/preview/{quote(preview_id, safe='')}"
    following = f"{base}?offset={offset + limit}&limit={limit}" if offset + limit < len(members) else ""
    previous = f"{base}?offset={max(0, offset - limit)}&limit={limit}" if offset else ""
    return JSONResponse(
        {
            "results": results,
            "state": state_name.value,
            "links": {"_self": f"{base}?offset={offset}&limit={limit}", "next": following, "prev": previous},
            "page": {"offset": offset, "size": len(page)},
        }
    )


@router.delete("/preview/{preview_id}")
def delete_preview(preview_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        removed(sandbox.previews, preview_id, "Preview", sandbox)
    return message(f"Preview {preview_id} has been deleted")


@router.get("/estimate/{preview_id}")
def get_estimate(preview_id: str, request: Request) -> JSONResponse:
    state, sandbox = emulator(request), sandbox_of(request)
    with state.lock:
        job = existing(sandbox.previews, preview_id, "Estimate", sandbox)
        state_name = refresh_preview(state, job)
        size = len(job.body.get("_members", []))
        total = state.engine.total_profiles(state.population(finished_at(state, job)))
        failure = job.body.get("_error", "")
    ready = state_name is PreviewState.RESULT_READY
    return JSONResponse(
        {
            "estimatedSize": size if ready else 0,
            "numRowsToRead": total,
            "state": state_name.value,
            "estimatedNamespaceDistribution": [
                {"namespaceId": "4", "profilesMatchedSoFar": size if ready else 0}
            ],
            "profilesReadSoFar": total if ready else 0,
            "standardError": 0,
            "error": {"description": failure, "traceback": ""},
            "profilesMatchedSoFar": size if ready else 0,
            "totalRows": total,
            "confidenceInterval": "95%",
            "_links": {"preview": f"/data/core/ups/preview/{quote(preview_id, safe='')}"},
        }
    )


def _parse_cursor(offset: str) -> tuple[int, int]:
    try:
        created, ident = offset.split("_", 1)
        return int(created), int(ident)
    except ValueError:
        raise bad_request(f"offset '{offset}' is not a cursor this API returned") from None
