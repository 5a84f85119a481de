"""Retries, Retry-After, create safety, token refresh, errors: what happens when AEP misbehaves."""

from __future__ import annotations

import logging
import random

import pytest

from airflow_provider_segmentation.client import (
    AEPAuthError,
    AEPConnectionError,
    AEPPermissionError,
    AEPRateLimitError,
    AEPServerError,
    AEPValidationError,
    ClientConfig,
    RetrySettings,
    SegmentationClient,
)
from airflow_provider_segmentation.client.auth import TokenCache
from tests.client.conftest import SleepRecorder, make_config
from tests.scripted_server import Answer, ScriptedServer

DEFINITIONS = "/data/core/ups/segment/definitions"
JOBS = "/data/core/ups/segment/jobs"


def seg_def(name: str) -> dict[str, object]:
    return {
        "name": name,
        "expression": {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "US"'},
    }


def test_429_honours_retry_after(client: SegmentationClient, sleeps: SleepRecorder, emulator_admin) -> None:
    emulator_admin.inject_fault(
        method="GET", path=DEFINITIONS, kind="status", status=429, retry_after=7, count=2
    )
    assert list(client.list_segment_definitions()) == []
    assert sleeps.delays == [7.0, 7.0]
    assert [r["status"] for r in emulator_admin.requests("GET", DEFINITIONS)] == [429, 429, 200]


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "-inf", "soon"])
def test_a_retry_after_that_is_no_delay_falls_back_to_the_backoff(emulator, emulator_admin, value) -> None:
    """Read as 0 s, such a value sent the retries out back to back; it is treated as absent instead."""
    answers = iter(
        [Answer(503, b"", {"Retry-After": value}), Answer(200, b'{"id": "job-1", "status": "NEW"}')]
    )
    sleeps = SleepRecorder()
    with ScriptedServer(lambda _seen: next(answers)) as server:
        config = make_config(emulator, platform_host=server.url)
        assert (
            SegmentationClient(config, sleep=sleeps, rng=random.Random(1)).get_segment_job("job-1").id
            == "job-1"
        )
    assert len(server.seen) == 2 and len(sleeps.delays) == 1
    assert 0.5 <= sleeps.delays[0] <= 1  # the first backoff step (base 1 s, jittered), not 0 s


def test_a_retry_after_of_0_or_a_past_date_means_now(emulator, emulator_admin) -> None:
    answers = iter(
        [
            Answer(429, b"", {"Retry-After": "0"}),
            Answer(429, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            Answer(200, b'{"id": "job-1", "status": "NEW"}'),
        ]
    )
    sleeps = SleepRecorder()
    with ScriptedServer(lambda _seen: next(answers)) as server:
        SegmentationClient(make_config(emulator, platform_host=server.url), sleep=sleeps).get_segment_job(
            "job-1"
        )
    assert sleeps.delays == [0.0, 0.0]


def test_5xx_backs_off_exponentially_with_jitter(
    client: SegmentationClient, sleeps: SleepRecorder, emulator_admin
) -> None:
    emulator_admin.inject_fault(method="GET", path=DEFINITIONS, kind="status", status=503, count=3)
    list(client.list_segment_definitions())
    assert len(sleeps.delays) == 3
    assert 0.5 <= sleeps.delays[0] <= 1 and 1 <= sleeps.delays[1] <= 2 and 2 <= sleeps.delays[2] <= 4


def test_retry_budget_is_bounded_by_attempts(emulator, emulator_admin, sleeps: SleepRecorder) -> None:
    config = make_config(emulator, retry=RetrySettings(max_attempts=3))
    client = SegmentationClient(config, sleep=sleeps, rng=random.Random(0))
    emulator_admin.inject_fault(method="GET", path=DEFINITIONS, kind="status", status=502, count=10)
    with pytest.raises(AEPServerError) as excinfo:
        list(client.list_segment_definitions())
    assert excinfo.value.status == 502 and len(sleeps.delays) == 2


def test_retry_budget_is_bounded_by_elapsed_time(emulator, emulator_admin, sleeps: SleepRecorder) -> None:
    config = make_config(emulator, retry=RetrySettings(max_attempts=10, max_elapsed_seconds=20))
    client = SegmentationClient(config, sleep=sleeps)
    emulator_admin.inject_fault(
        method="GET", path=DEFINITIONS, kind="status", status=429, retry_after=30, count=1
    )
    with pytest.raises(AEPRateLimitError) as excinfo:
        list(client.list_segment_definitions())
    assert excinfo.value.retry_after == 30 and sleeps.delays == []


def test_create_is_retried_after_429_and_created_once(client: SegmentationClient, emulator_admin) -> None:
    emulator_admin.inject_fault(
        method="POST", path=DEFINITIONS, kind="status", status=429, retry_after=1, count=1
    )
    client.create_segment_definition(seg_def("once"))
    posts = emulator_admin.requests("POST", DEFINITIONS)
    assert [r["status"] for r in posts] == [429, 200]
    assert [d.name for d in client.list_segment_definitions()] == ["once"]


def test_a_create_without_a_reconciler_is_not_retried_after_503(
    client: SegmentationClient, sleeps: SleepRecorder, emulator_admin
) -> None:
    """Definitions have no reconciler (see client/reconcile.py): an ambiguous create is reported."""
    emulator_admin.inject_fault(method="POST", path=DEFINITIONS, kind="status", status=503, count=1)
    with pytest.raises(AEPServerError):
        client.create_segment_definition(seg_def("US"))
    assert len(emulator_admin.requests("POST", DEFINITIONS)) == 1 and sleeps.delays == []


def test_dropped_connection_on_a_create_without_a_reconciler_is_reported_not_retried(
    client: SegmentationClient, emulator_admin
) -> None:
    emulator_admin.inject_fault(method="POST", path=DEFINITIONS, kind="drop", count=1)
    with pytest.raises(AEPConnectionError, match="may have created"):
        client.create_segment_definition(seg_def("US"))
    assert len(emulator_admin.requests("POST", DEFINITIONS)) == 1


def test_a_dropped_job_create_that_made_nothing_is_retried_once_known(
    client: SegmentationClient, sleeps: SleepRecorder, emulator_admin
) -> None:
    seg = client.create_segment_definition(seg_def("US"))
    emulator_admin.inject_fault(method="POST", path=JOBS, kind="drop", count=1)
    job = client.create_segment_job([seg.id])
    assert [j.id for j in client.list_segment_jobs()] == [job.id]
    assert len(emulator_admin.requests("POST", JOBS)) == 2 and len(sleeps.delays) == 1


def test_dropped_connection_on_read_is_retried(
    client: SegmentationClient, sleeps: SleepRecorder, emulator_admin
) -> None:
    emulator_admin.inject_fault(method="GET", path=DEFINITIONS, kind="drop", count=1)
    assert list(client.list_segment_definitions()) == []
    assert len(sleeps.delays) == 1


def test_unreachable_host_is_a_connection_error(emulator, sleeps: SleepRecorder) -> None:
    config = make_config(emulator, ims_host="http://127.0.0.1:9", retry=RetrySettings(max_attempts=2))
    with pytest.raises(AEPConnectionError, match=r"could not reach http://127\.0\.0\.1:9"):
        SegmentationClient(config, sleep=sleeps, token_cache=TokenCache()).access_token()


def test_a_connection_broken_mid_answer_is_not_called_unreachable(
    client: SegmentationClient, emulator, emulator_admin
) -> None:
    emulator_admin.inject_fault(method="GET", path=DEFINITIONS, kind="drop", count=10)
    with pytest.raises(AEPConnectionError) as excinfo:
        list(client.list_segment_definitions())
    assert f"the connection to {emulator.url} broke before the answer was complete" in str(excinfo.value)


def test_html_gateway_page_becomes_a_clear_server_error(client: SegmentationClient, emulator_admin) -> None:
    emulator_admin.inject_fault(
        method="GET", path=DEFINITIONS, kind="status", status=502, html=True, count=10
    )
    with pytest.raises(AEPServerError) as excinfo:
        list(client.list_segment_definitions())
    assert "an HTML page (502 Bad Gateway) instead of JSON" in str(excinfo.value)
    assert "<html>" not in str(excinfo.value)


def test_token_is_minted_once_and_shared(emulator, emulator_admin) -> None:
    cache = TokenCache()
    first = SegmentationClient(make_config(emulator), token_cache=cache)
    second = SegmentationClient(make_config(emulator, sandbox="dev"), token_cache=cache)
    list(first.list_segment_definitions())
    list(second.list_schedules())
    assert len(emulator_admin.requests("POST", "/ims/token/v3")) == 1


def test_a_token_that_lives_under_a_minute_serves_one_request_only(
    client: SegmentationClient, emulator_admin, caplog: pytest.LogCaptureFixture
) -> None:
    """IMS tokens of 30 s are not cached (they could expire on the way): each request mints its own, and
    a warning says why."""
    emulator_admin.configure(token_lifetime_seconds=30)
    caplog.set_level(logging.WARNING)
    list(client.list_schedules())
    list(client.list_schedules())
    statuses = [(r["path"], r["status"]) for r in emulator_admin.requests()]
    assert statuses == [("/ims/token/v3", 200), ("/data/core/ups/config/schedules", 200)] * 2
    warnings = [r.getMessage() for r in caplog.records if "lives 30 s" in r.getMessage()]
    assert len(warnings) == 2 and "not cached" in warnings[0]


def test_token_refreshes_before_expiry(emulator, emulator_admin) -> None:
    now = [1_000_000.0]
    cache = TokenCache(clock=lambda: now[0])
    client = SegmentationClient(make_config(emulator), token_cache=cache, clock=lambda: now[0])
    first = client.access_token()
    now[0] += 86399 - 301  # just outside the 300 s lead: still valid
    assert client.access_token() == first
    now[0] += 2  # inside the lead: refresh
    assert client.access_token() != first
    assert len(emulator_admin.requests("POST", "/ims/token/v3")) == 2


def test_rejected_token_is_refreshed_once_and_the_call_replayed(
    client: SegmentationClient, emulator_admin
) -> None:
    list(client.list_schedules())
    emulator_admin.expire_tokens()
    assert list(client.list_schedules()) == []
    statuses = [(r["path"], r["status"]) for r in emulator_admin.requests()]
    assert statuses[-3:] == [
        ("/data/core/ups/config/schedules", 401),
        ("/ims/token/v3", 200),
        ("/data/core/ups/config/schedules", 200),
    ]


def test_a_bad_secret_is_an_auth_error_that_names_the_fix(emulator, emulator_admin) -> None:
    """(That an IMS echoing the secret cannot carry it into the error: test_credential_isolation.)"""
    config = make_config(emulator, client_secret="wrong-secret-123")
    with pytest.raises(AEPAuthError) as excinfo:
        SegmentationClient(config, token_cache=TokenCache()).access_token()
    assert excinfo.value.status == 401 and excinfo.value.error_code == "invalid_client"
    assert "Client ID, Client secret" in str(excinfo.value)


def test_unknown_sandbox_is_a_permission_error(emulator, emulator_admin) -> None:
    client = SegmentationClient(make_config(emulator, sandbox="nosuch"))
    with pytest.raises(AEPPermissionError) as excinfo:
        list(client.list_schedules())
    assert excinfo.value.error_code == "UPAPI-113752-403" and "nosuch" in str(excinfo.value)


def test_server_validation_error_carries_adobe_code(client: SegmentationClient) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        client.create_segment_definition(
            {"name": "bad", "expression": {"value": "homeAddress.countryCode = = 1"}}
        )
    assert excinfo.value.status == 400 and excinfo.value.error_code == "UPAPI-113040-400"
    assert "line 1, column" in str(excinfo.value)


def test_sandboxes_are_isolated(emulator, emulator_admin) -> None:
    from airflow_provider_segmentation.client import AEPNotFoundError

    dev = SegmentationClient(make_config(emulator, sandbox="dev"))
    prod = SegmentationClient(make_config(emulator, sandbox="prod"))
    created = dev.create_segment_definition(seg_def("dev only"))
    assert [d.name for d in dev.list_segment_definitions()] == ["dev only"]
    assert list(prod.list_segment_definitions()) == []
    with pytest.raises(AEPNotFoundError):
        prod.get_segment_definition(created.id)


def test_secret_and_token_never_reach_the_logs(
    client: SegmentationClient,
    config: ClientConfig,
    emulator_admin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator_admin.inject_fault(method="GET", path=DEFINITIONS, kind="status", status=503, count=1)
    token = client.access_token()
    list(client.list_segment_definitions())
    emulator_admin.expire_tokens()
    list(client.list_segment_definitions())
    text = caplog.text + repr(client) + repr(config)
    assert "x-request-id=" in caplog.text
    assert config.secret.reveal() not in text and token not in text
