"""Audiences (``/audiences``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_segmentation.client.api._common import (
    ids_body,
    json_body,
    json_object,
    page_size,
    query_params,
)
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    call,
    pages,
    parse_bulk,
    parse_model,
    parse_optional,
    segment,
)
from airflow_provider_segmentation.client.pagination import (
    by_page_next,
    parse_page,
)
from airflow_provider_segmentation.models import (
    Audience,
)


class Audiences:
    """Audiences."""

    @pages
    def list_audiences(
        *,
        limit: int = 100,
        sort: str | None = None,
        name: str | None = None,
        property_filter: str | None = None,
        entity_type: str | None = None,
    ) -> Operation[Page[Audience]]:
        params = query_params(
            start=0,
            limit=page_size(limit),
            sort=sort,
            name=name,
            property=property_filter,
            entityType=entity_type,
        )
        return Operation(
            "listAudiences",
            "GET",
            "/audiences",
            parse_page(Audience, by_page_next, "children"),
            params=params,
        )

    @call
    def create_audience(audience: Mapping[str, Any]) -> Operation[Audience]:
        body = json_object(audience, "audience")
        if not body.get("name"):
            raise AEPValidationError("audience.name is missing", field="audience.name")
        return Operation(
            "createAudience",
            "POST",
            "/audiences",
            parse_model(Audience),
            body=json_body(body, field_name="audience"),
            creates=True,
        )

    @call
    def get_audience(audience_id: str) -> Operation[Audience]:
        return Operation(
            "getAudience",
            "GET",
            f"/audiences/{segment(audience_id, field_name='audience_id')}",
            parse_model(Audience),
        )

    @call
    def patch_audience(
        audience_id: str, operations: Sequence[Mapping[str, Any]]
    ) -> Operation[Audience | None]:
        if not operations or not all(
            isinstance(o, Mapping) and "op" in o and "path" in o for o in operations
        ):
            raise AEPValidationError(
                "operations must be a non-empty JSON Patch list of {op, path, value}", field="operations"
            )
        return Operation(
            "patchAudience",
            "PATCH",
            f"/audiences/{segment(audience_id, field_name='audience_id')}",
            parse_optional(Audience),
            body=json_body(list(operations), field_name="operations"),
        )

    @call
    def replace_audience(audience_id: str, audience: Mapping[str, Any]) -> Operation[Audience | None]:
        return Operation(
            "updateAudience",
            "PUT",
            f"/audiences/{segment(audience_id, field_name='audience_id')}",
            parse_optional(Audience),
            body=json_body(json_object(audience, "audience"), field_name="audience"),
        )

    @call
    def delete_audience(audience_id: str) -> Operation[None]:
        return Operation(
            "deleteAudience",
            "DELETE",
            f"/audiences/{segment(audience_id, field_name='audience_id')}",
            lambda response, _op: None,
        )

    @call
    def bulk_get_audiences(audience_ids: Iterable[str]) -> Operation[dict[str, Audience]]:
        return Operation(
            "bulkGetAudiences",
            "POST",
            "/audiences/bulk-get",
            parse_bulk(Audience),
            body=ids_body(audience_ids, "audience_ids", 100),
        )
