"""Segment definitions and PQL conversion (``/segment/definitions``, ``/segment/conversion``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_segmentation.client.api._common import (
    PQL_FORMATS,
    PROFILE_SCHEMA,
    ids_body,
    json_body,
    json_object,
    page_size,
    query_params,
    text,
)
from airflow_provider_segmentation.client.checks import check_choice
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
    validate_choice,
)
from airflow_provider_segmentation.client.pagination import (
    by_page_number,
    parse_page,
)
from airflow_provider_segmentation.kinds import EVALUATIONS as EVALUATIONS
from airflow_provider_segmentation.models import (
    MessageResponse,
    PqlConversion,
    SegmentDefinition,
)


def definition_body(
    name: str,
    expression: str,
    *,
    description: str | None = None,
    evaluation: str = "batch",
    merge_policy_id: str | None = None,
    schema_name: str = PROFILE_SCHEMA,
) -> dict[str, Any]:
    """The body of a definition create or overwrite, from the fields a DAG author writes."""
    text(name, field_name="name")
    text(expression, field_name="expression")
    text(description, field_name="description", required=False)
    text(merge_policy_id, field_name="merge_policy_id", required=False)
    check_choice(evaluation, tuple(EVALUATIONS), field_name="evaluation")
    body: dict[str, Any] = {
        "name": name,
        "expression": {"type": "PQL", "format": "pql/text", "value": expression},
        "schema": {"name": schema_name},
        "evaluationInfo": EVALUATIONS[evaluation],
    }
    if description is not None:
        body["description"] = description
    if merge_policy_id:
        body["mergePolicyId"] = merge_policy_id
    return body


class SegmentDefinitions:
    """Segment definitions and PQL conversion."""

    @pages
    def list_segment_definitions(
        *, limit: int = 100, sort: str | None = None, streaming: bool | None = None, edge: bool | None = None
    ) -> Operation[Page[SegmentDefinition]]:
        params = query_params(
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

    @call
    def create_segment_definition(definition: Mapping[str, Any]) -> Operation[SegmentDefinition]:
        body = dict(json_object(definition, "definition"))
        for required in ("name", "expression"):
            if not body.get(required):
                raise AEPValidationError(f"definition.{required} is missing", field=f"definition.{required}")
        body.setdefault("schema", {"name": PROFILE_SCHEMA})
        return Operation(
            "createSegmentDefinition",
            "POST",
            "/segment/definitions",
            parse_model(SegmentDefinition),
            body=json_body(body, field_name="definition"),
            creates=True,
        )

    @call
    def get_segment_definition(segment_id: str) -> Operation[SegmentDefinition]:
        return Operation(
            "retrieveSegmentDefinitionById",
            "GET",
            f"/segment/definitions/{segment(segment_id, field_name='segment_id')}",
            parse_model(SegmentDefinition),
        )

    @call
    def update_segment_definition(
        segment_id: str, definition: Mapping[str, Any]
    ) -> Operation[SegmentDefinition]:
        """PATCH with the whole definition ("Overwrite a segment definition"; not JSON Patch)."""
        body = json_body(json_object(definition, "definition"), field_name="definition")
        return Operation(
            "patchSegmentDefinition",
            "PATCH",
            f"/segment/definitions/{segment(segment_id, field_name='segment_id')}",
            parse_model(SegmentDefinition),
            body=body,
        )

    @call
    def delete_segment_definition(segment_id: str) -> Operation[MessageResponse | None]:
        return Operation(
            "deleteSegmentDefinition",
            "DELETE",
            f"/segment/definitions/{segment(segment_id, field_name='segment_id')}",
            parse_optional(MessageResponse),
        )

    @call
    def bulk_get_segment_definitions(segment_ids: Iterable[str]) -> Operation[dict[str, SegmentDefinition]]:
        return Operation(
            "bulkGetSegmentDefinitions",
            "POST",
            "/segment/definitions/bulk-get",
            parse_bulk(SegmentDefinition),
            body=ids_body(segment_ids, "segment_ids", 1500),
        )

    @call
    def convert_pql(
        expression: str,
        *,
        source_format: str = "pql/text",
        name: str = "pql-conversion",
        schema_name: str = PROFILE_SCHEMA,
    ) -> Operation[PqlConversion]:
        """``/segment/conversion`` answers the expression in the other format; nothing is stored."""
        validate_choice(source_format, PQL_FORMATS, field_name="source_format")
        text(expression, field_name="expression")
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
            body=json_body(body, field_name="expression"),
        )
