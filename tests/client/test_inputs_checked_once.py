"""Inputs are checked once, completely, before any request: duplicate ids, control characters in any
string sent to AEP, and rendered values of the wrong type (generated, over HTTP to the emulator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import AEPValidationError, SegmentationClient, export_request

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CONTROL = st.sampled_from([chr(c) for c in [*range(0x20), 0x7F]])
ONE_LINE_CONTROL = CONTROL.filter(lambda c: c not in "\t\r\n")
PQL = 'homeAddress.countryCode = "US"'

# every string field a DAG author's value reaches AEP through, one line each (names, field lists, ...)
ONE_LINE: dict[str, Callable[[SegmentationClient, str], Any]] = {
    "definition name": lambda c, v: c.create_segment_definition({"name": v, "expression": {"value": PQL}}),
    "definition schema": lambda c, v: c.create_segment_definition(
        {"name": "n", "expression": {"value": PQL}, "schema": {"name": v}}
    ),
    "export fields": lambda c, v: c.create_export_job(export_request(["s1"], "d1", fields=v)),
    "export merge policy": lambda c, v: c.create_export_job(export_request(["s1"], "d1", merge_policy_id=v)),
    "schedule name": lambda c, v: c.create_schedule(v, cron="0 0 1 * * ?", segments=["*"]),
    "audience name": lambda c, v: c.create_audience({"name": v}),
    "audience name filter": lambda c, v: list(c.list_audiences(name=v)),
    "job property filter": lambda c, v: list(c.list_segment_jobs(property_filter=v)),
    "search text": lambda c, v: list(c.search_entities(namespace="ups", query_text=v)),
}
# free text that may span lines: tabs and line breaks are fine there, other control characters are not
MULTI_LINE: dict[str, Callable[[SegmentationClient, str], Any]] = {
    "definition description": lambda c, v: c.create_segment_definition(
        {"name": "n", "expression": {"value": PQL}, "description": v}
    ),
    "preview expression": lambda c, v: c.create_preview(v),
}


def splice(text: str, char: str, at: int) -> str:
    at %= len(text) + 1
    return text[:at] + char + text[at:]


@SETTINGS
@given(
    target=st.sampled_from([*ONE_LINE, *MULTI_LINE]),
    text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12),
    char=CONTROL,
    at=st.integers(0, 20),
)
def test_a_control_character_in_any_string_is_refused_before_any_request(
    client: SegmentationClient, emulator_admin, target: str, text: str, char: str, at: int
) -> None:
    send = ONE_LINE.get(target) or MULTI_LINE[target]
    value = splice(text.strip() or "x", char, at)
    emulator_admin.clear_requests()
    if target in MULTI_LINE and char in "\t\r\n":
        return  # allowed in free text (checked by the test of that operation)
    with pytest.raises(AEPValidationError, match="control character"):
        send(client, value)
    assert emulator_admin.requests() == []


ID_LISTS: dict[str, Callable[[SegmentationClient, list[str]], Any]] = {
    "segment job": lambda c, ids: c.create_segment_job(ids),
    "export": lambda c, ids: c.create_export_job(export_request(ids, "d1")),
    "schedule": lambda c, ids: c.create_schedule("s", cron="0 0 1 * * ?", segments=ids),
    "bulk get": lambda c, ids: c.bulk_get_segment_definitions(ids),
}


@SETTINGS
@given(
    target=st.sampled_from(list(ID_LISTS)),
    ids=st.lists(st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True), min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_duplicate_ids_are_refused_naming_them(
    client: SegmentationClient, emulator_admin, target: str, ids: list[str], data: st.DataObject
) -> None:
    repeated = data.draw(st.sampled_from(ids))
    sent = data.draw(st.permutations([*ids, repeated]))
    emulator_admin.clear_requests()
    with pytest.raises(AEPValidationError, match=f"'{repeated}' more than once") as excinfo:
        ID_LISTS[target](client, sent)
    assert excinfo.value.field in ("segment_ids", "segments")
    assert emulator_admin.requests() == []
