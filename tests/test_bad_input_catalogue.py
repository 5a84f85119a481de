"""The bad-input catalogue: each row is something a DAG author or AEP can get wrong, the typed error it
must produce and the words of its message. Rows that are caught locally must not send any request."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.client import (
    AEPConfigurationError,
    AEPServerError,
    AEPValidationError,
    SegmentationClient,
)
from airflow_provider_segmentation.client.errors import error_from_response
from airflow_provider_segmentation.client.http import HttpResponse
from airflow_provider_segmentation.client.operations import decode, to_model
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
)
from airflow_provider_segmentation.hooks.segmentation import config_from_connection
from airflow_provider_segmentation.models import SegmentJob
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.pql import AEPConvertPQLOperator
from airflow_provider_segmentation.operators.previews import (
    AEPEstimateAudienceOperator,
    AEPPreviewAudienceOperator,
)
from airflow_provider_segmentation.operators.schedules import AEPUpdateScheduleOperator
from airflow_provider_segmentation.operators.segment_definitions import AEPUpsertSegmentDefinitionOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from tests.client.conftest import make_config

GOOD_EXTRA = {
    "ims_org_id": DEFAULT_ORG_ID,
    "ims_host": "http://127.0.0.1:1",
    "platform_host": "http://127.0.0.1:1",
}


def connection(**changes: Any) -> Callable[[Any], Any]:
    fields: dict[str, Any] = {
        "login": DEFAULT_CLIENT_ID,
        "password": DEFAULT_CLIENT_SECRET,
        "schema": "prod",
        "extra": dict(GOOD_EXTRA),
    }
    for key, value in changes.items():
        if key == "sandbox":
            fields["schema"] = value
        elif key in fields and key != "extra":
            fields[key] = value
        elif key == "raw_extra":
            fields["extra"] = value
        elif value is None:
            fields["extra"].pop(key)
        else:
            fields["extra"][key] = value
    extra = fields["extra"] if isinstance(fields["extra"], str) else json.dumps(fields["extra"])
    conn = Connection(
        conn_id="aep_default",
        conn_type="adobe_experience_platform",
        login=fields["login"],
        password=fields["password"],
        schema=fields["schema"],
        extra=extra,
    )
    return lambda _client: config_from_connection(conn)


def server(status: int, body: bytes, content_type: str = "application/json") -> Callable[[Any], Any]:
    def raise_it(_client: Any) -> None:
        raise error_from_response(status, body, content_type=content_type, request_id="req-1")

    return raise_it


def op(factory: Callable[[], Any]) -> Callable[[Any], Any]:
    return lambda _client: factory()


CATALOGUE: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [
    # connection fields
    ("no client id", connection(login=""), AEPConfigurationError, "Client ID is missing"),
    (
        "no client secret",
        connection(password=""),
        AEPConfigurationError,
        "Client secret is missing",
    ),
    ("no org id", connection(ims_org_id=None), AEPConfigurationError, "Organization ID is missing"),
    ("no sandbox", connection(sandbox=None), AEPConfigurationError, "Sandbox name is empty"),
    ("uppercase sandbox", connection(sandbox="Prod"), AEPConfigurationError, "use 'prod'"),
    ("sandbox with a space", connection(sandbox="my box"), AEPConfigurationError, "lowercase name"),
    (
        "platform host without scheme",
        connection(platform_host="platform.adobe.io"),
        AEPConfigurationError,
        "is not a URL",
    ),
    (
        "ims host without scheme",
        connection(ims_host="ims-na1.adobelogin.com"),
        AEPConfigurationError,
        "is not a URL",
    ),
    ("extra is not JSON", connection(raw_extra="{sandbox: prod"), AEPConfigurationError, "is not valid JSON"),
    # client arguments
    ("empty segment list", lambda c: c.create_segment_job([]), AEPValidationError, "at least one id"),
    (
        "1,501 segments",
        lambda c: c.create_segment_job([f"s{i}" for i in range(1501)]),
        AEPValidationError,
        "at most 1500",
    ),
    ("segment ids as a string", lambda c: c.create_segment_job("abc"), AEPValidationError, "list of ids"),
    ("blank segment id", lambda c: c.create_segment_job(["a", " "]), AEPValidationError, "blank id"),
    (
        "unknown job status",
        lambda c: list(c.list_segment_jobs(status="RUNNING")),
        AEPValidationError,
        "'RUNNING' is not one of",
    ),
    (
        "misspelt export status",
        lambda c: list(c.list_export_jobs(status="SUCEEDED")),
        AEPValidationError,
        "'SUCEEDED' is not one of",
    ),
    ("5-field cron", lambda c: c.create_schedule("s", cron="0 1 * * *"), AEPValidationError, "6 or 7 fields"),
    ("hour 25", lambda c: c.create_schedule("s", cron="0 0 25 * * ?"), AEPValidationError, "the hour field"),
    ("no '?' in the cron", lambda c: c.create_schedule("s", cron="0 0 1 * * *"), AEPValidationError, "'?'"),
    (
        "schedule update with nothing",
        lambda c: c.update_schedule("id"),
        AEPValidationError,
        "state and/or cron",
    ),
    (
        "unknown schedule state",
        lambda c: c.update_schedule("id", state="paused"),
        AEPValidationError,
        "active, inactive",
    ),
    (
        "datetime in a payload",
        lambda c: c.create_segment_definition({"name": "x", "expression": {"value": datetime(2026, 1, 1)}}),
        AEPValidationError,
        "not JSON-serializable",
    ),
    (
        "NaN in a payload",
        lambda c: c.create_audience({"name": "x", "ttlInDays": float("nan")}),
        AEPValidationError,
        "not JSON-serializable",
    ),
    (
        "definition without name",
        lambda c: c.create_segment_definition({"expression": {"value": "a = 1"}}),
        AEPValidationError,
        "definition.name is missing",
    ),
    (
        "definition that is a list",
        lambda c: c.create_segment_definition(["x"]),
        AEPValidationError,
        "must be a dict",
    ),
    (
        "export without dataset",
        lambda c: c.create_export_job({"destination": {}}),
        AEPValidationError,
        "datasetId is missing",
    ),
    (
        "export segment without id",
        lambda c: c.create_export_job(
            {"destination": {"datasetId": "d"}, "filter": {"segments": [{"status": ["realized"]}]}}
        ),
        AEPValidationError,
        "needs a segmentId",
    ),
    (
        "101 audiences in bulk",
        lambda c: c.bulk_get_audiences([f"a{i}" for i in range(101)]),
        AEPValidationError,
        "at most 100",
    ),
    ("empty job id", lambda c: c.get_segment_job(""), AEPValidationError, "job_id is empty"),
    ("blank preview expression", lambda c: c.create_preview("  "), AEPValidationError, "expression is empty"),
    (
        "search page of 51",
        lambda c: list(c.search_entities(namespace="AAM", limit=51)),
        AEPValidationError,
        "1 to 50",
    ),
    (
        "unknown PQL format",
        lambda c: c.convert_pql("a = 1", source_format="pql/xml"),
        AEPValidationError,
        "'pql/xml' is not one of",
    ),
    (
        "audience patch without op",
        lambda c: c.patch_audience("a", [{"path": "/x"}]),
        AEPValidationError,
        "JSON Patch",
    ),
    # operator arguments
    (
        "ids and names",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], segment_names=["b"])),
        AEPValidationError,
        "exactly one of segment_ids and segment_names",
    ),
    (
        "zero poll interval",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], poll_interval=0)),
        AEPValidationError,
        "poll_interval must be a positive",
    ),
    (
        "negative timeout",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], timeout=-1)),
        AEPValidationError,
        "timeout must be a positive",
    ),
    (
        "unknown if_exists",
        op(
            lambda: AEPUpsertSegmentDefinitionOperator(
                task_id="t", name="n", expression="a = 1", if_exists="replace"
            )
        ),
        AEPValidationError,
        "if_exists 'replace'",
    ),
    (
        "unknown evaluation",
        op(
            lambda: AEPUpsertSegmentDefinitionOperator(
                task_id="t", name="n", expression="a = 1", evaluation="realtime"
            )
        ),
        AEPValidationError,
        "evaluation 'realtime'",
    ),
    (
        "unknown member status",
        op(
            lambda: AEPExportAudienceOperator(
                task_id="t", segment_ids=["a"], dataset_id="d", status=["active"]
            )
        ),
        AEPValidationError,
        "non-empty subset",
    ),
    (
        "min_size above max_size",
        op(lambda: AEPEstimateAudienceOperator(task_id="t", expression="a = 1", min_size=5, max_size=1)),
        AEPValidationError,
        "greater than max_size",
    ),
    (
        "no preview members",
        op(lambda: AEPPreviewAudienceOperator(task_id="t", expression="a = 1", max_members=0)),
        AEPValidationError,
        "max_members must be at least 1",
    ),
    (
        "unknown target format",
        op(lambda: AEPConvertPQLOperator(task_id="t", expression="a = 1", to_format="sql")),
        AEPValidationError,
        "to_format 'sql'",
    ),
    (
        "schedule update with nothing (operator)",
        op(lambda: AEPUpdateScheduleOperator(task_id="t", schedule_id="s")),
        AEPValidationError,
        "pass state and/or cron",
    ),
    (
        "neither ids nor names",
        op(lambda: AEPRunSegmentJobOperator(task_id="t")),
        AEPValidationError,
        "exactly one of segment_ids and segment_names",
    ),
    # PQL
    (
        "PQL syntax error",
        lambda c: pql.parse('loyalty.tier = = "gold"'),
        pql.PQLSyntaxError,
        "line 1, column 16",
    ),
    (
        "PQL outside the supported set",
        lambda c: pql.parse("orders.topN(price, 5)"),
        pql.PQLUnsupportedError,
        "topN",
    ),
    ("malformed pql/json", lambda c: pql.from_json('{"nodeType": "fnApply"'), pql.PQLError, "not valid JSON"),
    (
        "unknown pql/json node",
        lambda c: pql.from_json('{"nodeType": "lambda"}'),
        pql.PQLError,
        "unknown pql/json",
    ),
    # answers from the server that are not what AEP documents
    (
        "HTML gateway page",
        server(502, b"<html><title>502 Bad Gateway</title></html>", "text/html"),
        AEPServerError,
        "an HTML page (502 Bad Gateway) instead of JSON",
    ),
    (
        "truncated JSON error",
        server(500, b'{"errors": {"500": [{"code": "UPAPI'),
        AEPServerError,
        "a body that is not valid JSON",
    ),
    ("empty 503", server(503, b""), AEPServerError, "no details"),
    (
        "truncated JSON on a 200",
        lambda c: decode(HttpResponse(200, {}, b'{"id": "x", "sta')),
        AEPServerError,
        "body that is not JSON",
    ),
    (
        "job without id",
        lambda c: to_model(SegmentJob, {"status": "SUCCEEDED"}),
        AEPServerError,
        "SegmentJob this package cannot read",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "words"), CATALOGUE, ids=[row[0] for row in CATALOGUE])
def test_bad_input_fails_clearly(
    emulator, emulator_admin, case: str, call: Callable[[Any], Any], error: type[Exception], words: str
) -> None:
    client = SegmentationClient(make_config(emulator))
    with pytest.raises(error) as excinfo:
        call(client)
    assert words in str(excinfo.value), f"{case}: {excinfo.value}"
    assert emulator_admin.requests() == []


def test_the_catalogue_has_at_least_forty_rows() -> None:
    assert len(CATALOGUE) >= 40
