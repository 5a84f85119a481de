"""The emulator validates as AEP does, held to ``segmentation.yaml`` and to the docs where the spec is silent.

Each class of request is generated (hypothesis), not hand-picked: sort keys and directions, audience and
definition bodies with a required field missing, null or outside its enum (through POST, PATCH and PUT
alike), export filter timestamps in shapes that are not RFC 3339, methods a path does not declare, and
bodies over the emulator's size cap. The enums, required fields and declared methods are read from the
spec itself, so the tests follow it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.emulator.server import EmulatorServer
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID, EmulatorSettings
from tests.conftest import EmulatorAdmin
from tests.contract.conftest import platform_headers
from tests.contract.spec import BASE_PATH, METHODS, raw_spec, require_spec

pytestmark = pytest.mark.contract
require_spec()

PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PQL = {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "US"'}
SCHEMA = {"name": "_xdm.context.profile"}
SERIAL = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(SERIAL)}"


class Platform:
    """Plain HTTP to the emulator's platform routes with the gateway's headers (what a stranger sends)."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.url = emulator.url
        self.http = requests.Session()
        self.http.headers.update({**platform_headers(emulator), "x-ups-search-version": "1.0"})

    def __call__(self, method: str, path: str, body: Any = None, **query: Any) -> requests.Response:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if method in ("POST", "PUT", "PATCH") else {}
        return self.http.request(
            method, f"{self.url}{BASE_PATH}{path}", data=data, params=query, headers=headers, timeout=10
        )


@pytest.fixture
def platform(emulator: EmulatorServer, emulator_admin: EmulatorAdmin) -> Platform:
    emulator_admin.configure(token_lifetime_seconds=400 * 86400)
    return Platform(emulator)


def schema_of(name: str) -> dict[str, Any]:
    return dict(raw_spec()["components"]["schemas"][name])


def described_values(description: str) -> list[str]:
    """The values of a spec prose list such as "Possible values include `A`, `B`, and `C`."."""
    return re.findall(r"`([^`]+)`", description.split("Possible values include", 1)[1])


def assert_refused(response: requests.Response, *words: str) -> None:
    """AEP's UPAPI 400 naming the field."""
    assert response.status_code == 400, response.text
    body = response.json()
    [error] = body["errors"]["400"]
    assert body["type"].endswith(error["code"])
    for word in words:
        assert word in error["message"], error["message"]


# -- sort -----------------------------------------------------------------------------------------------

SORTABLE = ("name", "description", "creationTime", "updateTime", "id")


def sort_direction_of_spec() -> tuple[str, ...]:
    """``[attributeName]:[desc/asc]`` (audiences), ``[attributeName]:[desc|asc]`` (segment jobs)."""
    [parameter] = [
        p for p in raw_spec()["paths"]["/audiences"]["get"]["parameters"] if p.get("name") == "sort"
    ]
    assert "[attributeName]:[desc/asc]" in parameter["description"]
    return ("asc", "desc")


@pytest.mark.parametrize(("path", "key"), [("/segment/definitions", "segments"), ("/audiences", "children")])
@PROPERTY
@given(
    keys=st.lists(
        st.tuples(st.sampled_from(SORTABLE), st.sampled_from(sort_direction_of_spec())),
        min_size=1,
        max_size=2,
        unique_by=lambda k: k[0],
    ),
    names=st.lists(st.text("abcXYZ", min_size=1, max_size=3), min_size=2, max_size=4),
)
def test_sort_orders_definitions_and_audiences(platform, path, key, keys, names) -> None:
    """``sort=attr:asc|desc[,attr2:...]`` orders the list by those keys, in that order of precedence."""
    for name in names:
        body = {"name": unique(name), "description": name, "expression": PQL, "schema": SCHEMA}
        assert platform("POST", path, body).status_code in (200, 201)
    sort = ",".join(f"{attr}:{direction}" for attr, direction in keys)
    answer = platform("GET", path, sort=sort, limit=1000)
    assert answer.status_code == 200, answer.text
    items = answer.json()[key]
    for earlier, later in itertools.pairwise(items):
        for attr, direction in keys:
            a, b = earlier[attr], later[attr]
            if a != b:
                assert (a < b) == (direction == "asc"), (sort, a, b)
                break
    page = answer.json()["page" if key == "segments" else "_page"]
    assert (page["sortField"], page["sort"]) == keys[0]


@pytest.mark.parametrize("path", ["/segment/definitions", "/audiences", "/segment/jobs"])
@PROPERTY
@given(
    attr=st.sampled_from(SORTABLE),
    direction=st.text(min_size=1, max_size=6).filter(lambda d: d.lower() not in ("asc", "desc")),
)
def test_a_sort_direction_other_than_asc_or_desc_is_refused(platform, path, attr, direction) -> None:
    assert_refused(platform("GET", path, sort=f"{attr}:{direction}"), "sort")


# -- audience and definition bodies --------------------------------------------------------------------

AUDIENCE_TYPES = described_values(
    schema_of("CreatePlatformAudienceRequestBody")["properties"]["type"]["description"]
)
EXPRESSION = schema_of("Expression")["properties"]
REQUIRED_OF_DEFINITIONS = schema_of("CreateSegmentDefinition")["required"]


def valid_body() -> dict[str, Any]:
    return {
        "name": unique("valid"),
        "type": "SegmentDefinition",
        "expression": dict(PQL),
        "schema": dict(SCHEMA),
    }


def broken(body: dict[str, Any], fault: str, field: str) -> dict[str, Any]:
    """``body`` with ``field`` (``expression.type`` names a nested one) missing, null, or off its enum."""
    copy = json.loads(json.dumps(body))
    *parents, leaf = field.split(".")
    target = copy
    for parent in parents:
        target = target[parent]
    if fault == "missing":
        target.pop(leaf)
    elif fault == "null":
        target[leaf] = None
    else:
        target[leaf] = f"not-a-{leaf}"
    return copy


BREAKABLE = st.one_of(
    st.tuples(
        st.sampled_from(["missing", "null"]),
        st.sampled_from([*REQUIRED_OF_DEFINITIONS, "schema.name", "expression.value"]),
    ),
    st.tuples(st.just("enum"), st.sampled_from(["expression.type", "expression.format", "type"])),
)


def test_the_audience_enums_are_the_spec_s() -> None:
    assert AUDIENCE_TYPES == ["SegmentDefinition", "ExternalAudience"]
    assert EXPRESSION["format"]["enum"] == ["pql/text", "pql/json"]


@PROPERTY
@given(fault_field=BREAKABLE)
def test_audience_writes_refuse_what_a_definition_refuses(platform, fault_field) -> None:
    """A Platform audience is a segment definition: POST, PUT and PATCH of one refuse a missing or null
    name, expression or schema and a value outside the spec's enums, and store nothing of it."""
    fault, field = fault_field
    created = platform("POST", "/audiences", valid_body())
    assert created.status_code == 201, created.text
    audience = created.json()
    bad = broken(valid_body(), fault, field)
    words = () if field == "type" or field.startswith("expression.") else (field.split(".")[0],)
    assert_refused(platform("POST", "/audiences", bad), *words)
    assert_refused(platform("PUT", f"/audiences/{audience['id']}", bad), *words)
    top, *_ = field.split(".")
    value = bad.get(top) if fault != "missing" or "." in field else None
    operation = {"op": "add", "path": f"/{top}", "value": value}
    assert_refused(platform("PATCH", f"/audiences/{audience['id']}", [operation]), *words)
    assert platform("GET", f"/audiences/{audience['id']}").json() == audience
    assert all(
        a["name"] != bad.get("name") for a in platform("GET", "/audiences", limit=1000).json()["children"]
    )


@PROPERTY
@given(fault_field=BREAKABLE.filter(lambda f: f[1] != "type" and not (f[0] == "missing" and "." not in f[1])))
def test_definition_patch_refuses_what_post_refuses(platform, fault_field) -> None:
    """PATCH overwrites what it names: the definition it would leave behind is held to POST's rules (a
    null name, expression or schema, a schema or expression emptied, an expression off the enums)."""
    fault, field = fault_field
    body = valid_body()
    body.pop("type")
    created = platform("POST", "/segment/definitions", body)
    assert created.status_code == 200, created.text
    definition = created.json()
    bad = broken(valid_body(), fault, field)
    bad.pop("type")
    assert platform("POST", "/segment/definitions", bad).status_code == 400
    top = field.split(".")[0]
    answer = platform("PATCH", f"/segment/definitions/{definition['id']}", {top: bad[top]})
    assert answer.status_code == 400, (bad, answer.text)
    assert platform("GET", f"/segment/definitions/{definition['id']}").json() == definition


# -- export filter timestamps --------------------------------------------------------------------------

TIMESTAMP_FIELDS = (
    ("filter", "fromIngestTimestamp"),
    ("filter", "segmentQualificationTime", "startTime"),
    ("filter", "segmentQualificationTime", "endTime"),
    ("additionalFields", "eventList", "filter", "fromIngestTimestamp"),
    ("additionalFields", "eventList", "filter", "toIngestTimestamp"),
)
NOT_RFC_3339 = st.one_of(
    st.dates().map(str),  # a date alone
    st.datetimes().map(lambda d: d.isoformat()),  # no offset
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),  # no T, no offset
    st.datetimes().map(lambda d: d.strftime("%Y%m%dT%H%M%SZ")),  # ISO 8601 basic format
    st.datetimes().map(lambda d: d.strftime("%d/%m/%Y %H:%M:%SZ")),
    st.integers(0, 2**40).map(str),  # epoch seconds as text
    st.sampled_from(["2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", "now", ""]),
)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
RFC_3339 = st.one_of(
    st.datetimes(timezones=OFFSETS).map(lambda d: d.isoformat(timespec="milliseconds")),
    st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z"),
)


def export_body(path: tuple[str, ...], value: str) -> dict[str, Any]:
    body: dict[str, Any] = {"destination": {"datasetId": PROFILE_DATASET_ID}, "schema": SCHEMA}
    target = body
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    return body


@PROPERTY
@given(path=st.sampled_from(TIMESTAMP_FIELDS), value=NOT_RFC_3339)
def test_export_filter_timestamps_must_be_rfc_3339(platform, path, value) -> None:
    assert_refused(platform("POST", "/export/jobs", export_body(path, value)), path[-1], "RFC 3339")


@PROPERTY
@given(path=st.sampled_from(TIMESTAMP_FIELDS), value=RFC_3339)
def test_rfc_3339_export_filter_timestamps_are_taken(platform, path, value) -> None:
    answer = platform("POST", "/export/jobs", export_body(path, value))
    assert answer.status_code == 200, answer.text


def test_an_unknown_export_dataset_is_refused_as_audiences_refuse_one(platform) -> None:
    """The spec lists no error of POST /export/jobs for a dataset Catalog does not know; its one example
    of that case (POST /audiences) answers 400 with UPLIB-101554-503, and so does the emulator."""
    example = raw_spec()["paths"]["/audiences"]["post"]["responses"]["400"]["content"]["application/json"]
    documented = example["examples"]["Validation error (Dataset ID validation)"]["value"]
    body = {"destination": {"datasetId": "no-such-dataset"}, "schema": SCHEMA}
    answer = platform("POST", "/export/jobs", body)
    assert answer.status_code == documented["status"] == 400
    assert answer.json()["type"] == documented["type"]
    assert "no-such-dataset cannot be retrieved from Catalog" in answer.json()["title"]


# -- methods a path does not declare -------------------------------------------------------------------


TEMPLATES = {
    re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"): {
        m.upper() for m in item if m in METHODS
    }
    for path, item in raw_spec()["paths"].items()
}


def declared_methods(path: str) -> set[str]:
    """The methods the spec declares for a concrete path: of every path template that matches it (so
    ``/segment/jobs/bulk-get`` is also ``/segment/jobs/{SEGMENT_JOB_ID}``, as OpenAPI matches it)."""
    return set().union(*(methods for pattern, methods in TEMPLATES.items() if pattern.match(path)))


@st.composite
def undeclared_calls(draw: st.DrawFn) -> tuple[str, str, set[str]]:
    template = draw(st.sampled_from(sorted(raw_spec()["paths"])))
    ident = draw(st.from_regex(r"\Aid[a-z0-9]{1,8}\Z"))
    path = re.sub(r"\{[^}]+\}", ident, template)
    declared = declared_methods(path)
    undeclared = [m.upper() for m in METHODS if m.upper() not in declared]
    assume(undeclared)  # /audiences/bulk-get is also /audiences/{AUDIENCE_ID}: every method is declared
    method = draw(st.sampled_from(undeclared))
    return path, method, declared


@PROPERTY
@given(call=undeclared_calls())
def test_a_method_a_path_does_not_declare_is_405_with_the_declared_methods_in_allow(platform, call) -> None:
    path, method, declared = call
    answer = platform(method, path, {} if method in ("POST", "PUT", "PATCH") else None)
    assert answer.status_code == 405, (method, path, answer.text)
    assert set(answer.headers["Allow"].split(", ")) == declared, (method, path)


# -- request body size ---------------------------------------------------------------------------------

CAP = 2048


@pytest.fixture
def small_cap(emulator_admin: EmulatorAdmin) -> Iterator[int]:
    default = EmulatorSettings().max_request_body_bytes
    emulator_admin.configure(max_request_body_bytes=CAP)
    try:
        yield CAP
    finally:
        emulator_admin.configure(max_request_body_bytes=default)


@PROPERTY
@given(
    route=st.sampled_from(
        [
            ("POST", "/segment/definitions"),
            ("POST", "/audiences"),
            ("PUT", "/audiences/x"),
            ("POST", "/export/jobs"),
            ("POST", "/segment/jobs"),
        ]
    ),
    size=st.integers(CAP + 1, 4 * CAP),
)
def test_a_body_over_the_cap_is_refused_unread(platform, small_cap, route, size) -> None:
    method, path = route
    body = json.dumps({"name": "x", "description": "d" * size})
    answer = platform.http.request(
        method,
        f"{platform.url}{BASE_PATH}{path}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 413, answer.text
    assert str(small_cap) in answer.json()["detail"]


def test_the_default_body_cap_takes_the_largest_documented_bodies(platform) -> None:
    """1,500 segment ids in a job or a bulk-get are far under the default cap."""
    ids = [{"id": f"{i:036d}"} for i in range(1500)]
    assert platform("POST", "/segment/definitions/bulk-get", {"ids": ids}).status_code == 207
