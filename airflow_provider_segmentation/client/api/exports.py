"""Export jobs: audience members written into a dataset (``/export/jobs``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_segmentation.client.api._common import (
    EXPORT_JOB_LIST_STATUSES,
    PROFILE_SCHEMA,
    json_body,
    json_object,
    page_size,
    query_params,
    text,
)
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    call,
    check_id,
    pages,
    parse_model,
    parse_optional,
    segment,
    validate_choice,
    validate_ids,
)
from airflow_provider_segmentation.client.pagination import (
    by_offset_link,
    parse_page,
)
from airflow_provider_segmentation.models import (
    ExportJob,
    MessageResponse,
)

MEMBER_STATUSES = ("realized", "existing", "exited")


def export_request(
    segment_ids: Iterable[str],
    dataset_id: str,
    *,
    fields: str | None = None,
    status: Sequence[str] = ("realized", "existing"),
    merge_policy_id: str | None = None,
    segment_per_batch: bool = False,
    evaluate_first: bool = False,
) -> dict[str, Any]:
    """The body of an export of these segments' members into a dataset on the Profile union schema."""
    ids = validate_ids(segment_ids, field_name="segment_ids")
    text(dataset_id, field_name="dataset_id")
    text(fields, field_name="fields", required=False)
    text(merge_policy_id, field_name="merge_policy_id", required=False)
    check_id(dataset_id, field_name="dataset_id")  # an id AEP could hold (no "/", "?", control chars)
    unknown = [s for s in status if s not in MEMBER_STATUSES]
    if not status or unknown or isinstance(status, str):
        raise AEPValidationError(
            f"status {list(status)!r} must be a non-empty subset of {MEMBER_STATUSES}", field="status"
        )
    request: dict[str, Any] = {
        "filter": {"segments": [{"segmentId": i, "segmentNs": "ups", "status": list(status)} for i in ids]},
        "destination": {"datasetId": dataset_id, "segmentPerBatch": segment_per_batch},
        "schema": {"name": PROFILE_SCHEMA},
    }
    if fields:
        request["fields"] = fields
    if merge_policy_id:
        request["mergePolicy"] = {"id": merge_policy_id, "version": 1}
    if evaluate_first:
        request["evaluationInfo"] = {"segmentation": True}
    return request


class ExportJobs:
    """Export jobs: audience members written into a dataset."""

    @pages
    def list_export_jobs(*, status: str | None = None, limit: int = 100) -> Operation[Page[ExportJob]]:
        status = validate_choice(status, EXPORT_JOB_LIST_STATUSES, field_name="status")
        return Operation(
            "listExportJobs",
            "GET",
            "/export/jobs",
            parse_page(ExportJob, by_offset_link, "records"),
            params=query_params(limit=page_size(limit), status=status),
        )

    @call
    def create_export_job(request: Mapping[str, Any]) -> Operation[ExportJob]:
        body = dict(json_object(request, "request"))
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
            body=json_body(body, field_name="request"),
            creates=True,
        )

    @call
    def get_export_job(job_id: str | int) -> Operation[ExportJob]:
        return Operation(
            "retrieveExportJob",
            "GET",
            f"/export/jobs/{segment(job_id, field_name='job_id')}",
            parse_model(ExportJob),
        )

    @call
    def cancel_export_job(job_id: str | int) -> Operation[MessageResponse | None]:
        return Operation(
            "cancelExportJob",
            "DELETE",
            f"/export/jobs/{segment(job_id, field_name='job_id')}",
            parse_optional(MessageResponse),
        )
