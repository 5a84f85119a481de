"""Previews (sample members) and estimates (sizes) of a PQL expression (``/preview``, ``/estimate``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from airflow_provider_segmentation.client.api._common import (
    PROFILE_SCHEMA,
    json_body,
    page_size,
    query_params,
    text,
)
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    call,
    pages,
    parse_model,
    parse_optional,
    segment,
    validate_choice,
)
from airflow_provider_segmentation.client.pagination import (
    by_offset_link,
    parse_page,
)
from airflow_provider_segmentation.models import (
    Estimate,
    MessageResponse,
    Preview,
    PreviewResults,
    PreviewResultsRow,
)


class Previews:
    """Previews."""

    @call
    def create_preview(
        expression: str, *, model: str = PROFILE_SCHEMA, graph_type: str = "none"
    ) -> Operation[Preview]:
        text(expression, field_name="expression")
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
            body=json_body(body, field_name="expression"),
            creates=True,
        )

    @call
    def get_preview(
        preview_id: str, *, offset: int | str | None = None, limit: int | None = None
    ) -> Operation[PreviewResults]:
        return Operation(
            "retrievePreview",
            "GET",
            f"/preview/{segment(preview_id, field_name='preview_id')}",
            parse_model(PreviewResults),
            params=query_params(offset=offset, limit=page_size(limit)),
        )

    @pages
    def iter_preview_results(preview_id: str, *, limit: int = 1000) -> Operation[Page[PreviewResultsRow]]:
        return Operation(
            "retrievePreview",
            "GET",
            f"/preview/{segment(preview_id, field_name='preview_id')}",
            parse_page(PreviewResultsRow, by_offset_link, "results"),
            params=query_params(offset=0, limit=page_size(limit)),
        )

    @call
    def delete_preview(preview_id: str) -> Operation[MessageResponse | None]:
        return Operation(
            "deletePreview",
            "DELETE",
            f"/preview/{segment(preview_id, field_name='preview_id')}",
            parse_optional(MessageResponse),
        )

    @call
    def get_estimate(preview_id: str) -> Operation[Estimate]:
        return Operation(
            "retrieveEstimate",
            "GET",
            f"/estimate/{segment(preview_id, field_name='preview_id')}",
            parse_model(Estimate),
        )
