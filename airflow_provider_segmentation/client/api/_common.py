"""Constants and payload helpers shared by the resource modules of ``client/api``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_segmentation.client.config import has_control_characters
from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.client.operations import (
    encode_body,
    query,
    validate_ids,
    wrong_type,
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


def json_object(payload: Any, field_name: str) -> Mapping[str, Any]:
    """``payload`` (a dict or a pydantic model) as a JSON object, or a typed error naming ``field_name``."""
    if hasattr(payload, "model_dump"):
        payload = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not isinstance(payload, Mapping):
        raise AEPValidationError(
            f"{field_name} must be a dict (the JSON object AEP expects)", field=field_name
        )
    return payload


# Free text that may span lines (a description, a PQL expression): tabs and line breaks are allowed
# there, no other control character. Every other string sent to AEP is one line, as ids are.
MULTILINE_KEYS = frozenset({"description", "value", "predicateExpression"})
_LINE_BREAKS = str.maketrans("", "", "\t\r\n")


def check_text(value: Any, *, field_name: str, multiline: bool = False) -> None:
    """A string AEP receives: no control character (``check_id``'s rule for ids), except tabs and line
    breaks in multi-line free text."""
    if has_control_characters(value.translate(_LINE_BREAKS) if multiline else value):
        raise AEPValidationError(
            f"{field_name} {value!r} contains a control character"
            f"{'' if multiline else ' (a newline?)'}: remove it",
            field=field_name,
        )


def _check_strings(payload: Any, path: str, *, multiline: bool = False) -> None:
    if isinstance(payload, str):
        check_text(payload, field_name=path, multiline=multiline)
    elif isinstance(payload, Mapping):
        for key, value in payload.items():
            check_text(str(key), field_name=f"{path} key")
            text_kind = key in MULTILINE_KEYS and not (key == "value" and "op" in payload)  # JSON Patch
            _check_strings(value, f"{path}.{key}", multiline=text_kind)
    elif isinstance(payload, list | tuple):
        for index, value in enumerate(payload):
            _check_strings(value, f"{path}[{index}]")


def json_body(payload: Any, *, field_name: str) -> bytes:
    """``encode_body`` for what a request sends, after every string in it passed ``check_text``: one
    place for the rule, so no name, field list or filter reaches AEP with a control character."""
    if hasattr(payload, "model_dump"):
        payload = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
    _check_strings(payload, field_name)
    return encode_body(payload, field_name=field_name)


def query_params(**values: Any) -> tuple[tuple[str, str], ...]:
    """``query`` for what a request sends, each string value checked by ``check_text``."""
    for key, value in values.items():
        if isinstance(value, str):
            check_text(value, field_name=key)
    return query(**values)


def text(value: Any, *, field_name: str, required: bool = True) -> str | None:
    """A rendered string argument as it is: the wrong type is named (``name must be a string; got int
    5``), a blank required one refused. None passes when the argument is optional."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise wrong_type(field_name, "a string", value)
    if required and not value.strip():
        raise AEPValidationError(
            f"{field_name} {value!r} is empty: pass a non-blank string", field=field_name
        )
    return value


def ids_body(ids: Iterable[str], field_name: str, maximum: int) -> bytes:
    """The ``{"ids": [{"id": ...}]}`` body of AEP's bulk reads, at most ``maximum`` checked ids."""
    return json_body(
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
