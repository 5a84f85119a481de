"""The 35 operations of the Segmentation Service API (``segmentation.yaml``), one builder each.

Each builder validates its input (before any HTTP call) and returns an ``Operation``; paths are
relative to ``{platform_host}/data/core/ups``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_segmentation.client.cron import validate_quartz_cron
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    by_links_next_or_start,
    by_offset_link,
    by_page_next,
    by_page_number,
    decode,
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
    Audience,
    Estimate,
    ExportJob,
    MessageResponse,
    PqlConversion,
    Preview,
    PreviewResults,
    PreviewResultsRow,
    Schedule,
    SearchEntity,
    SegmentDefinition,
    SegmentJob,
    SegmentJobStatus,
)

SEGMENT_JOB_STATUSES = tuple(s.value for s in SegmentJobStatus)
EXPORT_JOB_LIST_STATUSES = ("NEW", "SUCCEEDED", "FAILED")  # the spec's filter enum
PQL_FORMATS = ("pql/text", "pql/json")
SCHEDULE_STATES = ("active", "inactive")
PROFILE_SCHEMA = "_xdm.context.profile"
SEARCH_HEADERS = {"x-ups-search-version": "1.0"}


def _mapping(payload: Any, field_name: str) -> Mapping[str, Any]:
    if hasattr(payload, "model_dump"):
        payload = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not isinstance(payload, Mapping):
        raise AEPValidationError(
            f"{field_name} must be a dict (the JSON object AEP expects)", field=field_name
        )
    return payload


def _ids_body(ids: Iterable[str], field_name: str, maximum: int) -> bytes:
    return encode_body(
        {"ids": [{"id": i} for i in validate_ids(ids, field_name=field_name, maximum=maximum)]},
        field_name=field_name,
    )


# -- segment definitions ---------------------------------------------------------------------------


def list_segment_definitions(
    *, limit: int = 100, sort: str | None = None, streaming: bool | None = None, edge: bool | None = None
) -> Operation[Page[SegmentDefinition]]:
    params = query(
        limit=limit,
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
        start=0, limit=limit, status=status, sort=sort, property=property_filter, snapshot__name=snapshot_name
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


# -- export jobs -------------------------------------------------------------------------------------


def list_export_jobs(*, status: str | None = None, limit: int = 100) -> Operation[Page[ExportJob]]:
    status = validate_choice(status, EXPORT_JOB_LIST_STATUSES, field_name="status")
    return Operation(
        "listExportJobs",
        "GET",
        "/export/jobs",
        parse_page(ExportJob, by_offset_link, "records"),
        params=query(limit=limit, status=status),
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
        f"/export/jobs/{segment(str(job_id), field_name='job_id')}",
        parse_model(ExportJob),
    )


def cancel_export_job(job_id: str | int) -> Operation[MessageResponse | None]:
    return Operation(
        "cancelExportJob",
        "DELETE",
        f"/export/jobs/{segment(str(job_id), field_name='job_id')}",
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
        params=query(offset=offset, limit=limit),
    )


def preview_result_pages(preview_id: str, *, limit: int = 1000) -> Operation[Page[PreviewResultsRow]]:
    return Operation(
        "retrievePreview",
        "GET",
        f"/preview/{segment(preview_id, field_name='preview_id')}",
        parse_page(PreviewResultsRow, by_offset_link, "results"),
        params=query(offset=0, limit=limit),
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


# -- schedules ---------------------------------------------------------------------------------------


def list_schedules(*, limit: int = 100) -> Operation[Page[Schedule]]:
    return Operation(
        "listSchedules",
        "GET",
        "/config/schedules",
        parse_page(Schedule, by_page_next, "children"),
        params=query(start=0, limit=limit),
    )


def create_schedule(
    name: str,
    *,
    cron: str,
    segments: Sequence[str] = ("*",),
    state: str = "inactive",
    schedule_type: str = "batch_segmentation",
) -> Operation[Schedule]:
    if not str(name or "").strip():
        raise AEPValidationError("name is empty: give the schedule a name", field="name")
    validate_quartz_cron(cron)
    validate_choice(state, SCHEDULE_STATES, field_name="state")
    body = {
        "name": name,
        "type": schedule_type,
        "properties": {"segments": validate_ids(segments, field_name="segments")},
        "schedule": cron,
        "state": state,
    }
    return Operation(
        "createSchedule",
        "POST",
        "/config/schedules",
        parse_model(Schedule),
        body=encode_body(body, field_name="schedule"),
        creates=True,
    )


def get_schedule(schedule_id: str) -> Operation[Schedule]:
    return Operation(
        "retrieveSchedule",
        "GET",
        f"/config/schedules/{segment(schedule_id, field_name='schedule_id')}",
        parse_model(Schedule),
    )


def update_schedule(
    schedule_id: str, *, state: str | None = None, cron: str | None = None
) -> Operation[None]:
    """JSON Patch with ``op: add`` on ``/state`` and/or ``/schedule``, as the spec allows; AEP answers 204."""
    patch: list[dict[str, Any]] = []
    if state is not None:
        patch.append(
            {
                "op": "add",
                "path": "/state",
                "value": validate_choice(state, SCHEDULE_STATES, field_name="state"),
            }
        )
    if cron is not None:
        patch.append({"op": "add", "path": "/schedule", "value": validate_quartz_cron(cron)})
    if not patch:
        raise AEPValidationError("update_schedule needs state and/or cron", field="state")
    return Operation(
        "updateSchedule",
        "PATCH",
        f"/config/schedules/{segment(schedule_id, field_name='schedule_id')}",
        lambda response, _op: None,
        body=encode_body(patch, field_name="patch"),
    )


def delete_schedule(schedule_id: str) -> Operation[None]:
    return Operation(
        "deleteSchedule",
        "DELETE",
        f"/config/schedules/{segment(schedule_id, field_name='schedule_id')}",
        lambda response, _op: None,
    )


# -- audiences ---------------------------------------------------------------------------------------


def list_audiences(
    *,
    limit: int = 100,
    sort: str | None = None,
    name: str | None = None,
    property_filter: str | None = None,
    entity_type: str | None = None,
) -> Operation[Page[Audience]]:
    params = query(
        start=0, limit=limit, sort=sort, name=name, property=property_filter, entityType=entity_type
    )
    return Operation(
        "listAudiences", "GET", "/audiences", parse_page(Audience, by_page_next, "children"), params=params
    )


def create_audience(audience: Mapping[str, Any]) -> Operation[Audience]:
    body = _mapping(audience, "audience")
    if not body.get("name"):
        raise AEPValidationError("audience.name is missing", field="audience.name")
    return Operation(
        "createAudience",
        "POST",
        "/audiences",
        parse_model(Audience),
        body=encode_body(body, field_name="audience"),
        creates=True,
    )


def get_audience(audience_id: str) -> Operation[Audience]:
    return Operation(
        "getAudience",
        "GET",
        f"/audiences/{segment(audience_id, field_name='audience_id')}",
        parse_model(Audience),
    )


def patch_audience(audience_id: str, operations: Sequence[Mapping[str, Any]]) -> Operation[Audience | None]:
    if not operations or not all(isinstance(o, Mapping) and "op" in o and "path" in o for o in operations):
        raise AEPValidationError(
            "operations must be a non-empty JSON Patch list of {op, path, value}", field="operations"
        )
    return Operation(
        "patchAudience",
        "PATCH",
        f"/audiences/{segment(audience_id, field_name='audience_id')}",
        parse_optional(Audience),
        body=encode_body(list(operations), field_name="operations"),
    )


def replace_audience(audience_id: str, audience: Mapping[str, Any]) -> Operation[Audience | None]:
    return Operation(
        "updateAudience",
        "PUT",
        f"/audiences/{segment(audience_id, field_name='audience_id')}",
        parse_optional(Audience),
        body=encode_body(_mapping(audience, "audience"), field_name="audience"),
    )


def delete_audience(audience_id: str) -> Operation[None]:
    return Operation(
        "deleteAudience",
        "DELETE",
        f"/audiences/{segment(audience_id, field_name='audience_id')}",
        lambda response, _op: None,
    )


def bulk_get_audiences(audience_ids: Iterable[str]) -> Operation[dict[str, Audience]]:
    return Operation(
        "bulkGetAudiences",
        "POST",
        "/audiences/bulk-get",
        parse_bulk(Audience),
        body=_ids_body(audience_ids, "audience_ids", 100),
    )


# -- search --------------------------------------------------------------------------------------------


def search_namespaces(
    *, query_text: str | None = None, schema_name: str = "_xdm.context.segmentdefinition"
) -> Operation[dict[str, Any]]:
    return Operation(
        "listSearchCounts",
        "GET",
        "/search/namespaces",
        lambda response, _op: decode(response) or {},
        params=query(schema__name=schema_name, s=query_text),
        headers=SEARCH_HEADERS,
    )


def search_entities(
    *,
    namespace: str,
    query_text: str | None = None,
    entity_id: str | None = None,
    limit: int = 50,
    schema_class: str = "_xdm.context.segmentdefinition",
) -> Operation[Page[SearchEntity]]:
    if not 1 <= limit <= 50:
        raise AEPValidationError(f"limit {limit} is out of range: AEP allows 1 to 50", field="limit")
    params = query(
        schemaClass=schema_class, namespace=namespace, s=query_text, entityId=entity_id, limit=limit, page=0
    )
    return Operation(
        "listFullTextIndexedObjects",
        "GET",
        "/search/entities",
        parse_page(SearchEntity, by_page_number, "entities"),
        params=params,
        headers=SEARCH_HEADERS,
    )


def search_taxonomy(
    *, namespace: str, entity_id: str, schema_name: str = "_xdm.context.segmentdefinition"
) -> Operation[dict[str, Any]]:
    return Operation(
        "retrieveSearchObjectStructure",
        "GET",
        "/search/taxonomy",
        lambda response, _op: decode(response) or {},
        params=query(schema__name=schema_name, namespace=namespace, entityId=entity_id),
        headers=SEARCH_HEADERS,
    )
