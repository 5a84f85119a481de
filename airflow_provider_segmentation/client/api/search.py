"""Segment search: namespaces, entities and taxonomy (``/search``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_segmentation.client.api._common import (
    SEARCH_HEADERS,
    page_size,
    query_params,
)
from airflow_provider_segmentation.client.operations import (
    Operation,
    Page,
    call,
    decode,
    pages,
)
from airflow_provider_segmentation.client.pagination import (
    by_page_number,
    parse_page,
)
from airflow_provider_segmentation.models import (
    SearchEntity,
)


class Search:
    """Segment search: namespaces, entities and taxonomy."""

    @call
    def search_namespaces(
        *, query_text: str | None = None, schema_name: str = "_xdm.context.segmentdefinition"
    ) -> Operation[dict[str, Any]]:
        return Operation(
            "listSearchCounts",
            "GET",
            "/search/namespaces",
            lambda response, _op: decode(response) or {},
            params=query_params(schema__name=schema_name, s=query_text),
            headers=SEARCH_HEADERS,
        )

    @pages
    def search_entities(
        *,
        namespace: str,
        query_text: str | None = None,
        entity_id: str | None = None,
        limit: int = 50,
        schema_class: str = "_xdm.context.segmentdefinition",
    ) -> Operation[Page[SearchEntity]]:
        params = query_params(
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

    @call
    def search_taxonomy(
        *, namespace: str, entity_id: str, schema_name: str = "_xdm.context.segmentdefinition"
    ) -> Operation[dict[str, Any]]:
        return Operation(
            "retrieveSearchObjectStructure",
            "GET",
            "/search/taxonomy",
            lambda response, _op: decode(response) or {},
            params=query_params(schema__name=schema_name, namespace=namespace, entityId=entity_id),
            headers=SEARCH_HEADERS,
        )
