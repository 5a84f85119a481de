"""Request bodies are checked against the spec's request schemas: 400 with an AEP error, never a 500,
and nothing AEP would refuse is stored. Also AEP's way of ending lists and the fields the spec requires."""

from __future__ import annotations

import pytest

from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from tests.emulator.conftest import assert_aep_400

BASE = "/data/core/ups"
PQL = {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "US"'}
SCHEMA = {"name": "_xdm.context.profile"}


# Cause 1: bulk-get bodies were not type-checked.
@pytest.mark.parametrize(
    "path", ["/segment/definitions/bulk-get", "/segment/jobs/bulk-get", "/audiences/bulk-get"]
)
@pytest.mark.parametrize(
    "body",
    [
        {"ids": [True]},
        {"ids": [{"id": 7}]},
        {"ids": "abc"},
        {"ids": [["x"]]},
        [{"id": "x"}],
        {"ids": [{"id": ""}]},
    ],
)
def test_bulk_get_bodies_are_type_checked(platform, path, body) -> None:
    assert_aep_400(platform("POST", path, body), "Invalid")


@pytest.mark.parametrize(
    "path", ["/segment/definitions/bulk-get", "/segment/jobs/bulk-get", "/audiences/bulk-get"]
)
def test_bulk_get_id_counts(platform, path) -> None:
    limit = 100 if path.startswith("/audiences") else 1500
    assert_aep_400(platform("POST", path, {"ids": []}), "Cannot be 0 or exceed")
    assert_aep_400(platform("POST", path, {"ids": [{"id": str(i)} for i in range(limit + 1)]}), "Cannot be 0")


# Cause 2: nested fields assumed to be objects or strings.
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/segment/definitions",
            {"name": "a", "expression": PQL, "schema": "_xdm.context.profile"},
            "schema",
        ),
        (
            "/segment/definitions",
            {"name": "a", "expression": PQL, "schema": SCHEMA, "evaluationInfo": {"continuous": True}},
            "evaluationInfo",
        ),
        ("/export/jobs", {"destination": "ds", "schema": SCHEMA}, "destination"),
        ("/export/jobs", {"destination": {"datasetId": 7}, "schema": SCHEMA}, "datasetId"),
        ("/export/jobs", {"destination": {"datasetId": PROFILE_DATASET_ID}, "schema": ["x"]}, "schema"),
        (
            "/export/jobs",
            {
                "destination": {"datasetId": PROFILE_DATASET_ID},
                "schema": SCHEMA,
                "filter": {"segments": [{"segmentId": 7}]},
            },
            "segmentId",
        ),
        (
            "/export/jobs",
            {
                "destination": {"datasetId": PROFILE_DATASET_ID},
                "schema": SCHEMA,
                "filter": {"segments": "all"},
            },
            "segments",
        ),
        ("/segment/jobs", [{"segmentId": 7}], "segmentId"),
        ("/segment/jobs", [{"segmentId": {"id": "x"}}], "segmentId"),
        ("/segment/jobs", {"segments": "*"}, "segments"),
        ("/config/schedules", {"name": "s", "type": "batch_segmentation", "properties": ["*"]}, "properties"),
        (
            "/config/schedules",
            {"name": "s", "type": "batch_segmentation", "properties": {"segments": [1]}},
            "segments",
        ),
    ],
)
def test_nested_fields_of_the_wrong_type_are_refused(platform, path, body, field) -> None:
    assert_aep_400(platform("POST", path, body), field)


# Cause 3: non-string PQL reaching the engine.
@pytest.mark.parametrize("value", [7, ["a = 1"], {"value": "a = 1"}, True])
def test_pql_must_be_a_string(platform, value) -> None:
    expression = {**PQL, "value": value}
    assert_aep_400(
        platform("POST", "/segment/definitions", {"name": "a", "expression": expression, "schema": SCHEMA})
    )
    assert_aep_400(
        platform("POST", "/segment/conversion", {"name": "a", "expression": expression, "schema": SCHEMA})
    )
    assert_aep_400(platform("POST", "/audiences", {"name": "a", "expression": expression}))
    assert_aep_400(platform("POST", "/preview", {"predicateExpression": value}))


# Cause 4: wrong-typed fields stored and echoed.
def test_an_audience_named_by_a_list_is_refused_and_listings_keep_working(platform) -> None:
    assert_aep_400(platform("POST", "/audiences", {"name": ["x"]}), "name")
    assert platform("GET", "/audiences").json()["children"] == []
    assert platform("GET", "/search/namespaces", s="x").status_code == 200
    assert platform("GET", "/search/entities", namespace="AEPSegments").status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/audiences", {"name": "a", "description": 7}),
        ("/audiences", {"name": "a", "labels": "core/C1"}),
        ("/audiences", {"name": "a", "lifecycleState": "deleted"}),
        ("/segment/definitions", {"name": 7, "expression": PQL, "schema": SCHEMA}),
        ("/segment/definitions", {"name": "a", "expression": PQL, "schema": SCHEMA, "description": ["d"]}),
        ("/config/schedules", {"name": 7, "type": "batch_segmentation", "properties": {"segments": ["*"]}}),
        (
            "/config/schedules",
            {"name": "s", "type": "batch_segmentation", "properties": {"segments": ["*"]}, "state": True},
        ),
        ("/preview", {"predicateExpression": "a = 1", "graphType": "all"}),
    ],
)
def test_wrong_typed_fields_are_not_stored(platform, path, body) -> None:
    assert_aep_400(platform("POST", path, body))
    listing = platform("GET", path).json() if path != "/preview" else {}
    assert not listing.get("children") and not listing.get("segments")


def test_patches_are_checked_before_they_apply(platform) -> None:
    audience = platform("POST", "/audiences", {"name": "a", "expression": PQL, "schema": SCHEMA}).json()
    for patch in (
        [{"op": "add", "path": "/name", "value": ["x"]}],
        [{"op": "add", "path": "/expression", "value": {**PQL, "value": 7}}],
        [{"op": "move", "path": "/name", "value": "b"}],
        [{"op": "add", "path": "name", "value": "b"}],
        [{"op": "add", "path": "/id", "value": "b"}],
        [{"op": "add", "path": "/sandbox/sandboxName/x", "value": "b"}],
        ["add"],
    ):
        assert_aep_400(platform("PATCH", f"/audiences/{audience['id']}", patch))
    assert platform("GET", f"/audiences/{audience['id']}").json()["name"] == "a"
    nested = platform(
        "PATCH",
        f"/audiences/{audience['id']}",
        [{"op": "add", "path": "/expression/value", "value": "x = 1"}],
    )
    assert nested.status_code == 201 and nested.json()["expression"] == {**PQL, "value": "x = 1"}
    schedule = platform(
        "POST",
        "/config/schedules",
        {"name": "s", "type": "batch_segmentation", "properties": {"segments": ["*"]}},
    ).json()
    for patch in (
        [{"op": "add", "path": "/state", "value": 1}],
        [{"op": "add", "path": "/name", "value": "n"}],
    ):
        assert_aep_400(platform("PATCH", f"/config/schedules/{schedule['id']}", patch))


def test_the_last_audience_page_has_no_next_and_a_bad_start_is_a_400(platform) -> None:
    for i in range(3):
        platform("POST", "/audiences", {"name": f"a{i}"})
    first = platform("GET", "/audiences", limit=2).json()
    assert first["_page"]["next"] == 2 and first["_links"]["next"]["href"].startswith("@/audiences?start=2")
    last = platform("GET", "/audiences", limit=2, start=2).json()
    assert "next" not in last["_page"] and last["_links"] == {}
    # aepp 0.6.0's getAudiences loop: it pages while _page.get("next", 0) != 0
    seen, params = [], {"limit": 2}
    following = 0
    for _ in range(5):
        page = platform("GET", "/audiences", **params).json()
        seen += [a["name"] for a in page["children"]]
        following = page.get("_page", {}).get("next", 0)
        if following == 0:
            break
        params["start"] = following
    assert following == 0 and seen == ["a0", "a1", "a2"]
    for start in ("None", "1.5", "-1", ""):
        response = platform("GET", "/audiences", start=start)
        if start == "":
            assert response.status_code == 200
        else:
            assert_aep_400(response, "start")


def test_schedules_end_their_list_the_same_way(platform) -> None:
    for i in range(2):
        platform(
            "POST",
            "/config/schedules",
            {"name": f"s{i}", "type": "batch_segmentation", "properties": {"segments": ["*"]}},
        )
    first = platform("GET", "/config/schedules", limit=1).json()
    assert first["_page"]["next"] == "1"
    assert "next" not in platform("GET", "/config/schedules", limit=1, start=1).json()["_page"]


def test_segment_jobs_carry_the_merge_policy_object(platform) -> None:
    segment = platform(
        "POST",
        "/segment/definitions",
        {"name": "a", "expression": PQL, "schema": SCHEMA, "mergePolicyId": "mp-1"},
    ).json()
    job = platform("POST", "/segment/jobs", [{"segmentId": segment["id"]}]).json()
    [entry] = job["segments"]
    assert entry["segment"]["mergePolicyId"] == "mp-1"
    assert entry["segment"]["mergePolicy"] == {"id": "mp-1", "version": 1}


def test_bodies_are_captured_only_when_asked(emulator_admin, platform) -> None:
    platform("POST", "/audiences", {"name": "plain"})
    [plain] = emulator_admin.requests("POST", f"{BASE}/audiences")
    assert "request_body" not in plain
    emulator_admin.clear_requests()
    emulator_admin.configure(capture_bodies=True)
    try:
        platform("POST", "/audiences", {"name": "captured"})
    finally:
        emulator_admin.configure(capture_bodies=False)
    [captured] = emulator_admin.requests("POST", f"{BASE}/audiences")
    assert captured["request_body"] == '{"name": "captured"}'
    assert '"name":"captured"' in captured["response_body"] and captured["status"] == 201
    assert captured["request_headers"]["authorization"] == "Bearer <redacted>"
    assert captured["response_headers"]["content-type"] == "application/json"


# Cause 4: JSON that Python reads but cannot write back (NaN, Infinity, numbers beyond a double, lone
# surrogates) was stored, and every later listing of the sandbox answered 500.
@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999", '"\\ud800"'])
@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        (
            "POST",
            "/segment/definitions",
            '{"name": "x", "schema": {"name": "_xdm.context.profile"}, "expression": %s, "note": @}',
        ),
        ("POST", "/audiences", '{"name": "x", "expression": %s, "note": @}'),
        (
            "POST",
            "/config/schedules",
            '{"name": "x", "type": "batch_segmentation", "properties": {"segments": ["*"]}, "note": @}',
        ),
    ],
)
def test_json_that_cannot_be_answered_back_is_a_400_and_not_stored(
    platform, raw, method, path, template
) -> None:
    pql = '{"type": "PQL", "format": "pql/text", "value": "homeAddress.countryCode = \\"US\\""}'
    body = template.replace("%s", pql).replace("@", raw)
    answer = platform(method, path, raw=body)
    assert_aep_400(answer, "not valid JSON")
    for listing in ("/segment/definitions", "/audiences", "/config/schedules"):
        assert platform("GET", listing).status_code == 200


def test_a_patch_value_that_cannot_be_answered_back_is_a_400(platform) -> None:
    audience = platform("POST", "/audiences", {"name": "x", "expression": PQL, "schema": SCHEMA}).json()
    patch = '[{"op": "add", "path": "/description", "value": NaN}]'
    answer = platform("PATCH", f"/audiences/{audience['id']}", raw=patch)
    assert_aep_400(answer, "not valid JSON")
    assert platform("GET", f"/audiences/{audience['id']}").json().get("description") is None


def test_a_patch_cannot_rename_a_definition_onto_a_name_in_use(platform) -> None:
    """A sandbox holds one definition of a name: create answers 422 for a taken name, and so does a rename."""
    first = platform("POST", "/segment/definitions", {"name": "Gold", "expression": PQL, "schema": SCHEMA})
    second = platform("POST", "/segment/definitions", {"name": "Silver", "expression": PQL, "schema": SCHEMA})
    assert first.status_code == second.status_code == 200
    taken = platform("PATCH", f"/segment/definitions/{second.json()['id']}", {"name": "Gold"})
    assert taken.status_code == 422 and taken.json()["errors"]["422"][0]["code"] == "UPAPI-113012-422"
    assert platform("GET", f"/segment/definitions/{second.json()['id']}").json()["name"] == "Silver"
    same = platform(
        "PATCH", f"/segment/definitions/{first.json()['id']}", {"name": "Gold", "description": "d"}
    )
    assert same.status_code == 200  # keeping its own name is no rename
