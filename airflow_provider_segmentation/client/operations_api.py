"""The 35 operations as typed methods, declared once for the client and the hook alike.

A class that implements ``execute`` (run one ``Operation``) gets every method below; list methods are
lazy iterators that fetch the next page only when the caller gets there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from airflow_provider_segmentation.client import endpoints as ep
from airflow_provider_segmentation.client.operations import Operation, Page
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
)

T = TypeVar("T")


class SegmentationOperations(ABC):
    """Typed methods for every operation of the Segmentation Service API."""

    @abstractmethod
    def execute(self, operation: Operation[T]) -> T:
        """Run one operation and return what its ``parse`` makes of the answer."""

    def paginate(self, operation: Operation[Page[T]]) -> Iterator[T]:
        """Yield every item of a list operation, following the endpoint's own pagination scheme."""
        current: Operation[Page[T]] | None = operation
        while current is not None:
            page = self.execute(current)
            yield from page.items
            current = page.next

    # segment definitions
    def list_segment_definitions(
        self,
        *,
        limit: int = 100,
        sort: str | None = None,
        streaming: bool | None = None,
        edge: bool | None = None,
    ) -> Iterator[SegmentDefinition]:
        return self.paginate(
            ep.list_segment_definitions(limit=limit, sort=sort, streaming=streaming, edge=edge)
        )

    def create_segment_definition(self, definition: Mapping[str, Any]) -> SegmentDefinition:
        return self.execute(ep.create_segment_definition(definition))

    def get_segment_definition(self, segment_id: str) -> SegmentDefinition:
        return self.execute(ep.get_segment_definition(segment_id))

    def update_segment_definition(self, segment_id: str, definition: Mapping[str, Any]) -> SegmentDefinition:
        return self.execute(ep.update_segment_definition(segment_id, definition))

    def delete_segment_definition(self, segment_id: str) -> MessageResponse | None:
        return self.execute(ep.delete_segment_definition(segment_id))

    def bulk_get_segment_definitions(self, segment_ids: Iterable[str]) -> dict[str, SegmentDefinition]:
        return self.execute(ep.bulk_get_segment_definitions(segment_ids))

    def convert_pql(self, expression: str, *, source_format: str = "pql/text") -> PqlConversion:
        return self.execute(ep.convert_pql(expression, source_format=source_format))

    # segment jobs
    def list_segment_jobs(
        self,
        *,
        status: str | None = None,
        limit: int = 100,
        sort: str | None = "creationTime:desc",
        property_filter: str | None = None,
        snapshot_name: str | None = None,
    ) -> Iterator[SegmentJob]:
        return self.paginate(
            ep.list_segment_jobs(
                status=status,
                limit=limit,
                sort=sort,
                property_filter=property_filter,
                snapshot_name=snapshot_name,
            )
        )

    def create_segment_job(self, segment_ids: Iterable[str]) -> SegmentJob:
        return self.execute(ep.create_segment_job(segment_ids))

    def get_segment_job(self, job_id: str) -> SegmentJob:
        return self.execute(ep.get_segment_job(job_id))

    def cancel_segment_job(self, job_id: str) -> MessageResponse | None:
        return self.execute(ep.cancel_segment_job(job_id))

    def bulk_get_segment_jobs(self, job_ids: Iterable[str]) -> dict[str, SegmentJob]:
        return self.execute(ep.bulk_get_segment_jobs(job_ids))

    # export jobs
    def list_export_jobs(self, *, status: str | None = None, limit: int = 100) -> Iterator[ExportJob]:
        return self.paginate(ep.list_export_jobs(status=status, limit=limit))

    def create_export_job(self, request: Mapping[str, Any]) -> ExportJob:
        return self.execute(ep.create_export_job(request))

    def get_export_job(self, job_id: str | int) -> ExportJob:
        return self.execute(ep.get_export_job(job_id))

    def cancel_export_job(self, job_id: str | int) -> MessageResponse | None:
        return self.execute(ep.cancel_export_job(job_id))

    # previews and estimates
    def create_preview(
        self, expression: str, *, model: str = ep.PROFILE_SCHEMA, graph_type: str = "none"
    ) -> Preview:
        return self.execute(ep.create_preview(expression, model=model, graph_type=graph_type))

    def get_preview(
        self, preview_id: str, *, offset: int | str | None = None, limit: int | None = None
    ) -> PreviewResults:
        return self.execute(ep.get_preview(preview_id, offset=offset, limit=limit))

    def iter_preview_results(self, preview_id: str, *, limit: int = 1000) -> Iterator[PreviewResultsRow]:
        return self.paginate(ep.preview_result_pages(preview_id, limit=limit))

    def delete_preview(self, preview_id: str) -> MessageResponse | None:
        return self.execute(ep.delete_preview(preview_id))

    def get_estimate(self, preview_id: str) -> Estimate:
        return self.execute(ep.get_estimate(preview_id))

    # schedules
    def list_schedules(self, *, limit: int = 100) -> Iterator[Schedule]:
        return self.paginate(ep.list_schedules(limit=limit))

    def create_schedule(
        self, name: str, *, cron: str, segments: Sequence[str] = ("*",), state: str = "inactive"
    ) -> Schedule:
        return self.execute(ep.create_schedule(name, cron=cron, segments=segments, state=state))

    def get_schedule(self, schedule_id: str) -> Schedule:
        return self.execute(ep.get_schedule(schedule_id))

    def update_schedule(self, schedule_id: str, *, state: str | None = None, cron: str | None = None) -> None:
        self.execute(ep.update_schedule(schedule_id, state=state, cron=cron))

    def delete_schedule(self, schedule_id: str) -> None:
        self.execute(ep.delete_schedule(schedule_id))

    # audiences
    def list_audiences(
        self,
        *,
        limit: int = 100,
        sort: str | None = None,
        name: str | None = None,
        property_filter: str | None = None,
        entity_type: str | None = None,
    ) -> Iterator[Audience]:
        return self.paginate(
            ep.list_audiences(
                limit=limit, sort=sort, name=name, property_filter=property_filter, entity_type=entity_type
            )
        )

    def create_audience(self, audience: Mapping[str, Any]) -> Audience:
        return self.execute(ep.create_audience(audience))

    def get_audience(self, audience_id: str) -> Audience:
        return self.execute(ep.get_audience(audience_id))

    def patch_audience(self, audience_id: str, operations: Sequence[Mapping[str, Any]]) -> Audience | None:
        return self.execute(ep.patch_audience(audience_id, operations))

    def replace_audience(self, audience_id: str, audience: Mapping[str, Any]) -> Audience | None:
        return self.execute(ep.replace_audience(audience_id, audience))

    def delete_audience(self, audience_id: str) -> None:
        self.execute(ep.delete_audience(audience_id))

    def bulk_get_audiences(self, audience_ids: Iterable[str]) -> dict[str, Audience]:
        return self.execute(ep.bulk_get_audiences(audience_ids))

    # search
    def search_namespaces(
        self, *, query_text: str | None = None, schema_name: str = "_xdm.context.segmentdefinition"
    ) -> dict[str, Any]:
        return self.execute(ep.search_namespaces(query_text=query_text, schema_name=schema_name))

    def search_entities(
        self, *, namespace: str, query_text: str | None = None, entity_id: str | None = None, limit: int = 50
    ) -> Iterator[SearchEntity]:
        return self.paginate(
            ep.search_entities(namespace=namespace, query_text=query_text, entity_id=entity_id, limit=limit)
        )

    def search_taxonomy(
        self, *, namespace: str, entity_id: str, schema_name: str = "_xdm.context.segmentdefinition"
    ) -> dict[str, Any]:
        return self.execute(
            ep.search_taxonomy(namespace=namespace, entity_id=entity_id, schema_name=schema_name)
        )
