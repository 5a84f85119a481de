"""The bad-input catalogue: each row is something a DAG author can get wrong, the typed error it must
produce and the words of its message, and proof that no request left: every row runs the whole path that
WOULD call the emulator if the input got through (a connection row then lists schedules, an operator row
then executes the task), so "no request" is a real check. Answers from a misbehaving server are rows of
their own, served over real HTTP, each sent exactly once."""

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
    AEPRateLimitError,
    AEPServerError,
    AEPValidationError,
    ClientConfig,
    RetrySettings,
    SegmentationClient,
)
from airflow_provider_segmentation.emulator.settings import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
)
from airflow_provider_segmentation.hooks.segmentation import config_from_connection
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.pql import AEPConvertPQLOperator
from airflow_provider_segmentation.operators.previews import (
    AEPEstimateAudienceOperator,
    AEPPreviewAudienceOperator,
)
from airflow_provider_segmentation.operators.schedules import AEPUpdateScheduleOperator
from airflow_provider_segmentation.operators.segment_definitions import AEPUpsertSegmentDefinitionOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from airflow_provider_segmentation.sensors.segmentation import AEPSegmentJobSensor
from tests.client.conftest import make_config
from tests.operators.conftest import make_context
from tests.scripted_server import Answer, ScriptedServer

GOOD_EXTRA = {"ims_org_id": DEFAULT_ORG_ID}


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

    def call(client: SegmentationClient) -> Any:
        extra = fields["extra"]
        if isinstance(extra, dict):  # hosts default to the emulator, so a miss would reach it
            extra = json.dumps(
                {"ims_host": client.config.ims_host, "platform_host": client.config.platform_host, **extra}
            )
        conn = Connection(
            conn_id="aep_default",
            conn_type="adobe_experience_platform",
            login=fields["login"],
            password=fields["password"],
            schema=fields["schema"],
            extra=extra,
        )
        return list(SegmentationClient(config_from_connection(conn)).list_schedules())

    return call


def config(**overrides: Any) -> Callable[[Any], Any]:
    """A client built with these settings, then one call: a miss would reach the emulator."""

    def call(client: SegmentationClient) -> Any:
        values = {
            "client_id": client.config.client_id,
            "client_secret": client.config.secret,
            "org_id": client.config.org_id,
            "sandbox": "prod",
            "ims_host": client.config.ims_host,
            "platform_host": client.config.platform_host,
            **overrides,
        }
        return list(SegmentationClient(ClientConfig(**values)).list_schedules())

    return call


def op(factory: Callable[[], Any], rendered: dict[str, Any] | None = None) -> Callable[[Any], Any]:
    """Build the operator, set what templating would have rendered, then execute it for real."""

    def call(_client: Any) -> Any:
        operator = factory()
        for name, value in (rendered or {}).items():
            setattr(operator, name, value)
        return operator.execute(make_context())

    return call


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
    ("blank preview expression", lambda c: c.create_preview("  "), AEPValidationError, "expression '  ' is"),
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
        "poll_interval must be a finite number of seconds above zero",
    ),
    (
        "negative timeout",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], timeout=-1)),
        AEPValidationError,
        "timeout must be a finite number of seconds above zero",
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
        "max_members must be a whole number from 1 to 1000",
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
    # hostile or mistaken header values and hosts (caught before any request)
    ("sandbox with a newline", config(sandbox="prod\n"), AEPConfigurationError, "lowercase name"),
    (
        "org id with CR/LF",
        connection(ims_org_id="ORG@AdobeOrg\r\nX-Evil: 1"),
        AEPConfigurationError,
        "control character",
    ),
    ("client id with a newline", connection(login="client\nid"), AEPConfigurationError, "control character"),
    (
        "plain http to a remote host",
        connection(platform_host="http://platform.example.com"),
        AEPConfigurationError,
        "cleartext",
    ),
    (
        "credentials in the host",
        connection(ims_host="https://u:p@ims-na1.adobelogin.com"),
        AEPConfigurationError,
        "user name or password",
    ),
    (
        "org id with a non-ASCII letter",
        connection(ims_org_id="ORG€@AdobeOrg"),
        AEPConfigurationError,
        "org_id 'ORG€@AdobeOrg' has a non-ASCII character ('€')",
    ),
    (
        "client id with a non-ASCII letter",
        connection(login="clïent-id"),
        AEPConfigurationError,
        "client_id 'clïent-id' has a non-ASCII character",
    ),
    (
        "sandbox with a non-ASCII letter",
        config(sandbox="prød"),
        AEPConfigurationError,
        "is not a sandbox name",
    ),
    (
        "platform host with a query and fragment",
        connection(platform_host="https://platform.adobe.io/?x=1#f"),
        AEPConfigurationError,
        "platform_host 'https://platform.adobe.io/?x=1#f' has more than a scheme and host",
    ),
    (
        "ims host with the token path",
        connection(ims_host="https://ims-na1.adobelogin.com/ims/token/v3"),
        AEPConfigurationError,
        "give only scheme://host[:port]",
    ),
    ("connect timeout of zero", config(connect_timeout=0), AEPValidationError, "connect_timeout must be"),
    ("read timeout NaN", config(read_timeout=float("nan")), AEPValidationError, "read_timeout must be"),
    (
        "page size 0",
        lambda c: list(c.list_segment_jobs(limit=0)),
        AEPValidationError,
        "limit 0 is out of range",
    ),
    (
        "page size -1",
        lambda c: list(c.list_schedules(limit=-1)),
        AEPValidationError,
        "limit -1 is out of range",
    ),
    (
        "page size 1e9",
        lambda c: list(c.list_segment_definitions(limit=10**9)),
        AEPValidationError,
        "1 to 1000",
    ),
    ("page size as text", lambda c: list(c.list_export_jobs(limit="10")), AEPValidationError, "limit '10'"),
    # operator arguments, checked at construction (or after templating), before any request
    (
        "empty sandbox",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], sandbox="")),
        AEPConfigurationError,
        "sandbox is empty",
    ),
    (
        "sandbox template rendered empty",
        op(
            lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], sandbox="{{ params.s }}"),
            rendered={"sandbox": ""},
        ),
        AEPConfigurationError,
        "sandbox is empty",
    ),
    (
        "NaN poll interval",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], poll_interval=float("nan"))),
        AEPValidationError,
        "poll_interval must be a finite number",
    ),
    (
        "infinite timeout",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], timeout=float("inf"))),
        AEPValidationError,
        "timeout must be a finite number",
    ),
    (
        "poll interval as text",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=["a"], poll_interval="5")),
        AEPValidationError,
        "poll_interval must be a finite number",
    ),
    (
        "deferrable sensor poking every 0 s",
        op(lambda: AEPSegmentJobSensor(task_id="t", job_id="j", deferrable=True, poke_interval=0)),
        AEPValidationError,
        "poke_interval must be a finite number",
    ),
    (
        "negative min_size",
        op(lambda: AEPEstimateAudienceOperator(task_id="t", expression="a = 1", min_size=-5)),
        AEPValidationError,
        "min_size must be a whole number",
    ),
    (
        "max_size as text",
        op(lambda: AEPEstimateAudienceOperator(task_id="t", expression="a = 1", max_size="100")),
        AEPValidationError,
        "max_size must be a whole number",
    ),
    (
        "empty segment_ids on the operator",
        op(lambda: AEPRunSegmentJobOperator(task_id="t", segment_ids=[])),
        AEPValidationError,
        "segment_ids is empty",
    ),
    (
        "export into an empty dataset",
        op(lambda: AEPExportAudienceOperator(task_id="t", segment_ids=["a"], dataset_id=" ")),
        AEPValidationError,
        "dataset_id ' ' is empty",
    ),
    # ids that would address another endpoint or smuggle characters into the URL
    ("id '.'", lambda c: c.cancel_segment_job("."), AEPValidationError, "'.' and '..' are path steps"),
    ("id '..'", lambda c: c.get_segment_job(".."), AEPValidationError, "'.' and '..' are path steps"),
    ("id with a slash", lambda c: c.delete_schedule("a/b"), AEPValidationError, "contains '/'"),
    ("id with a newline", lambda c: c.get_export_job("7\n8"), AEPValidationError, "control character"),
    ("None as an id", lambda c: c.get_export_job(None), AEPValidationError, "must be an id"),
    ("None among segment ids", lambda c: c.create_segment_job([None]), AEPValidationError, "must be an id"),
    (
        "dict among segment ids",
        lambda c: c.create_segment_job([{"id": 1}]),
        AEPValidationError,
        "must be an id",
    ),
    # Quartz cron that could never fire, or carries a newline
    (
        "31 February",
        lambda c: c.create_schedule("s", cron="0 0 0 31 2 ?"),
        AEPValidationError,
        "can never fire",
    ),
    (
        "a year in the past",
        lambda c: c.create_schedule("s", cron="0 0 1 * * ? 2020"),
        AEPValidationError,
        "is in the past",
    ),
    (
        "cron with a trailing newline",
        lambda c: c.create_schedule("s", cron="0 0 1 * * ?\n"),
        AEPValidationError,
        "a newline",
    ),
    # PQL
    (
        "PQL syntax error",
        lambda c: pql.parse('loyalty.tier = = "gold"'),
        pql.PQLSyntaxError,
        "line 1, column 16",
    ),
    ("PQL nested 300 deep", lambda c: pql.parse("not " * 300 + "a = 1"), pql.PQLTooComplexError, "200"),
    (
        "PQL invalid regex",
        lambda c: pql.parse('x.matches("(a")'),
        pql.PQLSyntaxError,
        "invalid regular expression",
    ),
    ("PQL number that overflows", lambda c: pql.parse("x = 1e999"), pql.PQLSyntaxError, "out of range"),
    (
        "PQL regexGroup without that group",
        lambda c: pql.parse('x.regexGroup("@(\\w+)", 5) = "a"'),
        pql.PQLSyntaxError,
        "the pattern has 1 group",
    ),
    (
        "PQL outside the supported set",
        lambda c: pql.parse("a.union(b)"),
        pql.PQLUnsupportedError,
        "union",
    ),
    ("malformed pql/json", lambda c: pql.from_json('{"nodeType": "fnApply"'), pql.PQLError, "not valid JSON"),
    (
        "unknown pql/json node",
        lambda c: pql.from_json('{"nodeType": "lambda"}'),
        pql.PQLError,
        "unknown pql/json",
    ),
]

# Answers a misbehaving server (or IMS) can give: served over real HTTP, each request sent once.
GATEWAY_502 = b"<html><title>502 Bad Gateway</title></html>"
BAD_ANSWERS: list[tuple[str, str, Answer, type[Exception], str]] = [
    (
        "HTML gateway page",
        "platform",
        Answer(502, GATEWAY_502, {"Content-Type": "text/html"}),
        AEPServerError,
        "an HTML page (502 Bad Gateway) instead of JSON",
    ),
    (
        "truncated JSON error",
        "platform",
        Answer(500, b'{"errors": {"500": [{"code": "UPAPI'),
        AEPServerError,
        "a body this package cannot read: it is not JSON",
    ),
    ("empty 503", "platform", Answer(503, b""), AEPServerError, "no details"),
    (
        "truncated JSON on a 200",
        "platform",
        Answer(200, b'{"id": "x", "sta'),
        AEPServerError,
        "cannot read: it is not JSON",
    ),
    (
        "job without id",
        "platform",
        Answer(200, b'{"status": "SUCCEEDED"}'),
        AEPServerError,
        "SegmentJob this package cannot read",
    ),
    (
        "problem body with a placeholder type",
        "platform",
        Answer(503, b'{"type": "/placeholder/type/uri", "title": "x", "detail": "Emulated fault"}'),
        AEPServerError,
        "AEP answered HTTP 503: Emulated fault (HTTP 503, x-request-id",
    ),
    (
        "IMS token that expires at once",
        "ims",
        Answer(200, b'{"access_token": "eyJabc", "expires_in": 0}'),
        AEPServerError,
        "expires_in=0, which is not a positive number",
    ),
    (
        "IMS token with a negative lifetime",
        "ims",
        Answer(200, b'{"access_token": "eyJabc", "expires_in": -5}'),
        AEPServerError,
        "expires_in=-5",
    ),
    (
        "IMS empty token",
        "ims",
        Answer(200, b'{"access_token": "", "expires_in": 3600}'),
        AEPServerError,
        "IMS sent an unusable access_token",
    ),
    (
        "IMS non-ASCII token",
        "ims",
        Answer(200, '{"access_token": "eyJ€abc", "expires_in": 3600}'.encode()),
        AEPServerError,
        "IMS sent an unusable access_token (empty, or not visible ASCII)",
    ),
    (
        "IMS token with a space",
        "ims",
        Answer(200, b'{"access_token": "eyJ abc", "expires_in": 3600}'),
        AEPServerError,
        "IMS sent an unusable access_token",
    ),
    (
        "IMS lifetime true",
        "ims",
        Answer(200, b'{"access_token": "eyJabc", "expires_in": true}'),
        AEPServerError,
        "expires_in=True, which is not a positive number of seconds",
    ),
    (
        "IMS 503",
        "ims",
        Answer(503, b'{"error": "temporarily_unavailable"}'),
        AEPServerError,
        "IMS answered HTTP 503",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "words"), CATALOGUE, ids=[row[0] for row in CATALOGUE])
def test_bad_input_fails_clearly_before_any_request(
    aep_conn,
    emulator,
    emulator_admin,
    case: str,
    call: Callable[[Any], Any],
    error: type[Exception],
    words: str,
) -> None:
    client = SegmentationClient(make_config(emulator))
    with pytest.raises(error) as excinfo:
        call(client)
    assert words in str(excinfo.value), f"{case}: {excinfo.value}"
    assert emulator_admin.requests() == [], f"{case}: a request left although the input was bad"


@pytest.mark.parametrize(
    ("case", "side", "answer", "error", "words"), BAD_ANSWERS, ids=[row[0] for row in BAD_ANSWERS]
)
def test_a_bad_answer_fails_clearly(
    emulator, emulator_admin, case: str, side: str, answer: Answer, error: type[Exception], words: str
) -> None:
    with ScriptedServer(lambda _seen: answer) as server:
        hosts = {"ims_host": server.url} if side == "ims" else {"platform_host": server.url}
        client = SegmentationClient(make_config(emulator, retry=RetrySettings(max_attempts=1), **hosts))
        with pytest.raises(error) as excinfo:
            client.get_segment_job("job-1")
    assert words in str(excinfo.value), f"{case}: {excinfo.value}"
    assert len(server.seen) == 1


def test_a_retry_after_beyond_the_budget_says_why_it_gave_up(emulator, emulator_admin) -> None:
    answer = Answer(
        429, b'{"error_code": "429050", "message": "Too many requests"}', {"Retry-After": "100000"}
    )
    with ScriptedServer(lambda _seen: answer) as server:
        client = SegmentationClient(make_config(emulator, platform_host=server.url), sleep=lambda _s: None)
        with pytest.raises(
            AEPRateLimitError, match=r"retry after 100000 s \(Retry-After\), beyond the retry budget"
        ):
            client.get_segment_job("job-1")
    assert len(server.seen) == 1
