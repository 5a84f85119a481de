"""Export jobs, previews and estimates (``/export/jobs``, ``/preview``, ``/estimate``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_segmentation.client.endpoints._common import (
    EXPORT_JOB_LIST_STATUSES,
    PROFILE_SCHEMA,
    _mapping,
    page_size,
)
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    by_offset_link,
    encode_body,
    parse_model,
    parse_optional,
    parse_page,
    query,
    segment,
    validate_choice,
)
from airflow_provider_segmentation.models import (
    Estimate,
    ExportJob,
    MessageResponse,
    Preview,
    PreviewResults,
    PreviewResultsRow,
)

# -- export jobs -------------------------------------------------------------------------------------


def list_export_jobs(*, status: str | None = None, limit: int = 100) -> Operation[Page[ExportJob]]:
    status = validate_choice(status, EXPORT_JOB_LIST_STATUSES, field_name="status")
    return Operation(
        "listExportJobs",
        "GET",
        "/export/jobs",
        parse_page(ExportJob, by_offset_link, "records"),
        params=query(limit=page_size(limit), status=status),
    )


def create_export_job(request: Mapping[str, Any]) -> Operation[ExportJob]:
    body = dict(_mapping(request, "request"))
    if not (body.get("destination") or {}).get("datasetId"):
        raise AEPValidationError(
            "request.destination.datasetId is missing: name the dataset to export into",
            field="destination.datasetId",
        )
    for entry in (body.get("filter") or {}).get("segments") or []:
        if not entry.get("segmentId"):
            raise AEPValidationError(
                "every filter.segments[] entry needs a segmentId", field="filter.segments"
            )
    body.setdefault("schema", {"name": PROFILE_SCHEMA})
    return Operation(
        "createExportJob",
        "POST",
        "/export/jobs",
        parse_model(ExportJob),
        body=encode_body(body, field_name="request"),
        creates=True,
    )


def get_export_job(job_id: str | int) -> Operation[ExportJob]:
    return Operation(
        "retrieveExportJob",
        "GET",
        f"/export/jobs/{segment(job_id, field_name='job_id')}",
        parse_model(ExportJob),
    )


def cancel_export_job(job_id: str | int) -> Operation[MessageResponse | None]:
    return Operation(
        "cancelExportJob",
        "DELETE",
        f"/export/jobs/{segment(job_id, field_name='job_id')}",
        parse_optional(MessageResponse),
    )


# -- previews and estimates --------------------------------------------------------------------------


def create_preview(
    expression: str, *, model: str = PROFILE_SCHEMA, graph_type: str = "none"
) -> Operation[Preview]:
    if not str(expression or "").strip():
        raise AEPValidationError("expression is empty: pass the PQL to preview", field="expression")
    validate_choice(graph_type, ("none", "pdg"), field_name="graph_type")
    body = {
        "predicateExpression": expression,
        "predicateType": "pql/text",
        "predicateModel": model,
        "graphType": graph_type,
    }
    return Operation(
        "createPreview",
        "POST",
        "/preview",
        parse_model(Preview),
        body=encode_body(body, field_name="expression"),
        creates=True,
    )


def get_preview(
    preview_id: str, *, offset: int | str | None = None, limit: int | None = None
) -> Operation[PreviewResults]:
    return Operation(
        "retrievePreview",
        "GET",
        f"/preview/{segment(preview_id, field_name='preview_id')}",
        parse_model(PreviewResults),
        params=query(offset=offset, limit=page_size(limit)),
    )


def preview_result_pages(preview_id: str, *, limit: int = 1000) -> Operation[Page[PreviewResultsRow]]:
    return Operation(
        "retrievePreview",
        "GET",
        f"/preview/{segment(preview_id, field_name='preview_id')}",
        parse_page(PreviewResultsRow, by_offset_link, "results"),
        params=query(offset=0, limit=page_size(limit)),
    )


def delete_preview(preview_id: str) -> Operation[MessageResponse | None]:
    return Operation(
        "deletePreview",
        "DELETE",
        f"/preview/{segment(preview_id, field_name='preview_id')}",
        parse_optional(MessageResponse),
    )


def get_estimate(preview_id: str) -> Operation[Estimate]:
    return Operation(
        "retrieveEstimate",
        "GET",
        f"/estimate/{segment(preview_id, field_name='preview_id')}",
        parse_model(Estimate),
    )
