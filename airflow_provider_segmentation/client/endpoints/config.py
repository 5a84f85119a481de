"""Schedules, audiences and segment search (``/config/schedules``, ``/audiences``, ``/search``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_segmentation.client.cron import validate_quartz_cron
from airflow_provider_segmentation.client.endpoints._common import (
    SCHEDULE_STATES,
    SEARCH_HEADERS,
    _ids_body,
    _mapping,
    page_size,
)
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
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
    Schedule,
    SearchEntity,
)

# -- schedules ---------------------------------------------------------------------------------------


def list_schedules(*, limit: int = 100) -> Operation[Page[Schedule]]:
    return Operation(
        "listSchedules",
        "GET",
        "/config/schedules",
        parse_page(Schedule, by_page_next, "children"),
        params=query(start=0, limit=page_size(limit)),
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
        start=0,
        limit=page_size(limit),
        sort=sort,
        name=name,
        property=property_filter,
        entityType=entity_type,
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
    params = query(
        schemaClass=schema_class,
        namespace=namespace,
        s=query_text,
        entityId=entity_id,
        limit=page_size(limit, maximum=50),
        page=0,
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
