"""Segment jobs: on-demand batch evaluation of segment definitions (``/segment/jobs``).

Each operation is declared once: what is sent (method, path, query, body) and how the answer is read.
``call``/``pages`` give it a sync face (client, hook) and an async face (async client) with the same
signature; input is checked here, before any HTTP call.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow_provider_segmentation.client.api._common import (
    SEGMENT_JOB_STATUSES,
    ids_body,
    json_body,
    page_size,
    query_params,
)
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
    validate_ids,
)
from airflow_provider_segmentation.client.pagination import (
    by_links_next_or_start,
    parse_page,
)
from airflow_provider_segmentation.models import (
    MessageResponse,
    SegmentJob,
)

# The most ids one bulk-get call sends. AEP documents no limit for segment jobs (its audiences bulk-get
# refuses more than 100 with a 400 UPAPI-113015-400); 1,500 is the segments-per-job limit. The shared
# trigger poll starts here and halves on such a 400 (triggers/shared_poll.py).
MAX_IDS_PER_BULK_GET = 1500


class SegmentJobs:
    """Segment jobs: on-demand batch evaluation of segment definitions."""

    @pages
    def list_segment_jobs(
        *,
        status: str | None = None,
        limit: int = 100,
        sort: str | None = "creationTime:desc",
        property_filter: str | None = None,
        snapshot_name: str | None = None,
    ) -> Operation[Page[SegmentJob]]:
        status = validate_choice(status, SEGMENT_JOB_STATUSES, field_name="status")
        params = query_params(
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

    @call
    def create_segment_job(segment_ids: Iterable[str]) -> Operation[SegmentJob]:
        ids = validate_ids(segment_ids, field_name="segment_ids")
        body = json_body([{"segmentId": i} for i in ids], field_name="segment_ids")
        return Operation(
            "createSegmentJob", "POST", "/segment/jobs", parse_model(SegmentJob), body=body, creates=True
        )

    @call
    def get_segment_job(job_id: str) -> Operation[SegmentJob]:
        return Operation(
            "retrieveSegmentJob",
            "GET",
            f"/segment/jobs/{segment(job_id, field_name='job_id')}",
            parse_model(SegmentJob),
        )

    @call
    def cancel_segment_job(job_id: str) -> Operation[MessageResponse | None]:
        return Operation(
            "deleteSegmentJob",
            "DELETE",
            f"/segment/jobs/{segment(job_id, field_name='job_id')}",
            parse_optional(MessageResponse),
        )

    @call
    def bulk_get_segment_jobs(job_ids: Iterable[str]) -> Operation[dict[str, SegmentJob]]:
        """The jobs AEP returned, by id; an id it answers with an error entry, or with an entry this
        package cannot read, is left out (``get_segment_job`` tells why)."""
        return Operation(
            "bulkGetSegmentJobs",
            "POST",
            "/segment/jobs/bulk-get",
            parse_bulk(SegmentJob),
            body=ids_body(job_ids, "job_ids", MAX_IDS_PER_BULK_GET),
        )
