"""Constants and payload helpers shared by the resource modules of ``client/api``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    encode_body,
    validate_ids,
)
from airflow_provider_segmentation.models import (
    ScheduleState,
    SegmentJobStatus,
)

SEGMENT_JOB_STATUSES = tuple(s.value for s in SegmentJobStatus)
EXPORT_JOB_LIST_STATUSES = ("NEW", "SUCCEEDED", "FAILED")  # the spec's filter enum
PQL_FORMATS = ("pql/text", "pql/json")
SCHEDULE_STATES = tuple(s.value for s in ScheduleState)
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


MAX_PAGE_SIZE = 1000  # no maximum is documented; AEP's own defaults are 100 and (previews) 1000


def page_size(limit: Any, *, maximum: int = MAX_PAGE_SIZE) -> int | None:
    """A page size AEP can honour: a whole number from 1 to ``maximum`` (None keeps AEP's default)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise AEPValidationError(
            f"limit {limit!r} is out of range: pass a whole number from 1 to {maximum} (items per page; "
            "every page is fetched as you iterate)",
            field="limit",
        )
    return limit
