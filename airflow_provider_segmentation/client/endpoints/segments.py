"""Segment definitions, PQL conversion and segment jobs (``/segment/...``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_segmentation.client.endpoints._common import (
    PQL_FORMATS,
    PROFILE_SCHEMA,
    SEGMENT_JOB_STATUSES,
    _ids_body,
    _mapping,
    page_size,
)
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    by_links_next_or_start,
    by_page_number,
    encode_body,
    parse_bulk,
    parse_model,
    parse_optional,
    parse_page,
    query,
    segment,
    validate_choice,
    validate_ids,
)
from airflow_provider_segmentation.models import (
    MessageResponse,
    PqlConversion,
    SegmentDefinition,
    SegmentJob,
)

# -- segment definitions ---------------------------------------------------------------------------


def list_segment_definitions(
    *, limit: int = 100, sort: str | None = None, streaming: bool | None = None, edge: bool | None = None
) -> Operation[Page[SegmentDefinition]]:
    params = query(
        limit=page_size(limit),
        page=0,
        sort=sort,
        evaluationInfo__continuous__enabled=streaming,
        evaluationInfo__synchronous__enabled=edge,
    )
    return Operation(
        "listSegmentDefinitions",
        "GET",
        "/segment/definitions",
        parse_page(SegmentDefinition, by_page_number, "segments"),
        params=params,
    )


def create_segment_definition(definition: Mapping[str, Any]) -> Operation[SegmentDefinition]:
    body = dict(_mapping(definition, "definition"))
    for required in ("name", "expression"):
        if not body.get(required):
            raise AEPValidationError(f"definition.{required} is missing", field=f"definition.{required}")
    body.setdefault("schema", {"name": PROFILE_SCHEMA})
    return Operation(
        "createSegmentDefinition",
        "POST",
        "/segment/definitions",
        parse_model(SegmentDefinition),
        body=encode_body(body, field_name="definition"),
        creates=True,
    )


def get_segment_definition(segment_id: str) -> Operation[SegmentDefinition]:
    return Operation(
        "retrieveSegmentDefinitionById",
        "GET",
        f"/segment/definitions/{segment(segment_id, field_name='segment_id')}",
        parse_model(SegmentDefinition),
    )


def update_segment_definition(segment_id: str, definition: Mapping[str, Any]) -> Operation[SegmentDefinition]:
    """PATCH with the whole definition ("Overwrite a segment definition"; not JSON Patch)."""
    body = encode_body(_mapping(definition, "definition"), field_name="definition")
    return Operation(
        "patchSegmentDefinition",
        "PATCH",
        f"/segment/definitions/{segment(segment_id, field_name='segment_id')}",
        parse_model(SegmentDefinition),
        body=body,
    )


def delete_segment_definition(segment_id: str) -> Operation[MessageResponse | None]:
    return Operation(
        "deleteSegmentDefinition",
        "DELETE",
        f"/segment/definitions/{segment(segment_id, field_name='segment_id')}",
        parse_optional(MessageResponse),
    )


def bulk_get_segment_definitions(segment_ids: Iterable[str]) -> Operation[dict[str, SegmentDefinition]]:
    return Operation(
        "bulkGetSegmentDefinitions",
        "POST",
        "/segment/definitions/bulk-get",
        parse_bulk(SegmentDefinition),
        body=_ids_body(segment_ids, "segment_ids", 1500),
    )


def convert_pql(
    expression: str,
    *,
    source_format: str = "pql/text",
    name: str = "pql-conversion",
    schema_name: str = PROFILE_SCHEMA,
) -> Operation[PqlConversion]:
    """``/segment/conversion`` answers the expression in the other format; nothing is stored."""
    validate_choice(source_format, PQL_FORMATS, field_name="source_format")
    if not str(expression or "").strip():
        raise AEPValidationError("expression is empty: pass the PQL to convert", field="expression")
    body = {
        "name": name,
        "profileInstanceId": "ups",
        "schema": {"name": schema_name},
        "expression": {"type": "PQL", "format": source_format, "value": expression},
    }
    return Operation(
        "convertSegmentDefinition",
        "POST",
        "/segment/conversion",
        parse_model(PqlConversion),
        body=encode_body(body, field_name="expression"),
    )


# -- segment jobs ------------------------------------------------------------------------------------


def list_segment_jobs(
    *,
    status: str | None = None,
    limit: int = 100,
    sort: str | None = "creationTime:desc",
    property_filter: str | None = None,
    snapshot_name: str | None = None,
) -> Operation[Page[SegmentJob]]:
    status = validate_choice(status, SEGMENT_JOB_STATUSES, field_name="status")
    params = query(
        start=0,
        limit=page_size(limit),
        status=status,
        sort=sort,
        property=property_filter,
        snapshot__name=snapshot_name,
    )
    return Operation(
        "listSegmentJobs",
        "GET",
        "/segment/jobs",
        parse_page(SegmentJob, by_links_next_or_start, "children"),
        params=params,
    )


def create_segment_job(segment_ids: Iterable[str]) -> Operation[SegmentJob]:
    ids = validate_ids(segment_ids, field_name="segment_ids")
    body = encode_body([{"segmentId": i} for i in ids], field_name="segment_ids")
    return Operation(
        "createSegmentJob", "POST", "/segment/jobs", parse_model(SegmentJob), body=body, creates=True
    )


def get_segment_job(job_id: str) -> Operation[SegmentJob]:
    return Operation(
        "retrieveSegmentJob",
        "GET",
        f"/segment/jobs/{segment(job_id, field_name='job_id')}",
        parse_model(SegmentJob),
    )


def cancel_segment_job(job_id: str) -> Operation[MessageResponse | None]:
    return Operation(
        "deleteSegmentJob",
        "DELETE",
        f"/segment/jobs/{segment(job_id, field_name='job_id')}",
        parse_optional(MessageResponse),
    )


def bulk_get_segment_jobs(job_ids: Iterable[str]) -> Operation[dict[str, SegmentJob]]:
    return Operation(
        "bulkGetSegmentJobs",
        "POST",
        "/segment/jobs/bulk-get",
        parse_bulk(SegmentJob),
        body=_ids_body(job_ids, "job_ids", 1500),
    )
