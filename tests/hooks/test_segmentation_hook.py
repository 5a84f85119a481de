"""SegmentationHook: connection handling, masking, test_connection, waiting, async twins."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_segmentation.client import (
    AEPConfigurationError,
    AEPJobFailedError,
    AEPNotFoundError,
    AEPTimeoutError,
    AEPValidationError,
)
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import SegmentJobStatus
from tests.compat import BaseHook, get_connection_off_the_loop
from tests.conftest import mint_token

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}


def set_conn(monkeypatch: pytest.MonkeyPatch, emulator, **changes) -> None:
    conn = json.loads(emulator.connection_json())
    extra = conn["extra"]
    for key, value in changes.items():
        if key in ("login", "password"):
            conn[key] = value
        elif key == "sandbox":
            conn["schema"] = value
        elif value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", json.dumps(conn))


def test_hook_runs_operations_from_the_connection(aep_conn: str, emulator_admin) -> None:
    hook = SegmentationHook()
    created = hook.client.create_segment_definition(US)
    assert [d.id for d in hook.client.list_segment_definitions()] == [created.id]
    headers_seen = emulator_admin.requests("POST", "/data/core/ups/segment/definitions")[0]
    assert headers_seen["sandbox"] == "prod" and headers_seen["request_id"]


def test_task_sandbox_overrides_the_connection(aep_conn: str, emulator_admin) -> None:
    SegmentationHook(sandbox="dev").client.create_segment_definition(US)
    assert list(SegmentationHook().client.list_segment_definitions()) == []
    assert emulator_admin.requests("POST")[-1]["sandbox"] == "dev"


def test_uppercase_task_sandbox_is_rejected_locally(aep_conn: str, emulator_admin) -> None:
    with pytest.raises(AEPConfigurationError, match="use 'dev'"):
        SegmentationHook(sandbox="DEV").client.get_schedule("x")
    assert emulator_admin.requests() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"login": ""}, "client_id"),
        ({"password": ""}, "client_secret"),
        ({"ims_org_id": None}, "org_id"),
        ({"sandbox": None}, "sandbox"),
        ({"sandbox": "Prod"}, "sandbox"),
    ],
)
def test_incomplete_connection_fails_before_http(
    monkeypatch, emulator, emulator_admin, change, field
) -> None:
    set_conn(monkeypatch, emulator, **change)
    with pytest.raises(AEPConfigurationError) as excinfo:
        SegmentationHook().client.get_schedule("x")
    assert excinfo.value.field == field
    assert emulator_admin.requests() == []


def test_a_connection_sandbox_and_a_task_sandbox_obey_the_same_rule(
    monkeypatch, emulator, emulator_admin
) -> None:
    """One rule says what a sandbox name is (the config's), for the connection's and a task's alike; the
    message names where the bad name came from."""
    set_conn(monkeypatch, emulator, sandbox="Prod")
    with pytest.raises(AEPConfigurationError) as from_connection:
        SegmentationHook().client.get_schedule("x")
    set_conn(monkeypatch, emulator, sandbox="prod")
    with pytest.raises(AEPConfigurationError) as from_task:
        SegmentationHook(sandbox="Prod").client.get_schedule("x")
    rule = "sandbox 'Prod' is not a sandbox name"
    assert from_connection.value.message.startswith(f"connection 'aep_default': {rule}")
    assert from_task.value.message.startswith(f"the task's sandbox argument: {rule}")
    assert from_connection.value.message.split(": ", 1)[1] == from_task.value.message.split(": ", 1)[1]
    assert "use 'prod'" in from_connection.value.message
    assert emulator_admin.requests() == []


def test_secret_and_token_are_masked(aep_conn: str, emulator, monkeypatch) -> None:
    masked: list[str] = []
    monkeypatch.setattr("airflow_provider_segmentation.hooks.segmentation.mask_secret", masked.append)
    hook = SegmentationHook()
    token = hook.client.access_token()
    assert emulator.settings.client_secret in masked and token in masked


def test_test_connection_succeeds(aep_conn: str) -> None:
    ok, message = SegmentationHook().test_connection()
    assert ok and "sandbox 'prod'" in message


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"password": "wrong"}, "rejected the credential"),
        ({"sandbox": "nosuch"}, "Sandbox name 'nosuch' is unknown"),
        ({"ims_org_id": "OTHER@AdobeOrg"}, "not entitled to Organization ID OTHER@AdobeOrg"),
        ({"ims_host": "http://127.0.0.1:9"}, "Could not reach the IMS host http://127.0.0.1:9"),
    ],
)
def test_test_connection_says_what_went_wrong(monkeypatch, emulator, emulator_admin, change, words) -> None:
    set_conn(monkeypatch, emulator, **change)
    ok, message = SegmentationHook().test_connection()
    assert not ok and words in message


def test_wait_for_segment_job_returns_the_finished_job(aep_conn: str) -> None:
    hook = SegmentationHook()
    seg = hook.client.create_segment_definition(US)
    job = hook.client.create_segment_job([seg.id])
    done = hook.wait_for_segment_job(job.id, poll_interval=0.02, timeout=30)
    assert done.status == SegmentJobStatus.SUCCEEDED


def test_wait_raises_with_the_jobs_own_errors(aep_conn: str, emulator_admin) -> None:
    emulator_admin.configure(fail_segment_jobs=True)
    hook = SegmentationHook()
    job = hook.client.create_segment_job([hook.client.create_segment_definition(US).id])
    with pytest.raises(AEPJobFailedError) as excinfo:
        hook.wait_for_segment_job(job.id, poll_interval=0.02, timeout=30)
    assert excinfo.value.errors[0]["code"] == "0100000003"
    assert "Emulated segmentation failure" in str(excinfo.value)


def test_wait_times_out_clearly(aep_conn: str, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    hook = SegmentationHook()
    job = hook.client.create_segment_job([hook.client.create_segment_definition(US).id])
    with pytest.raises(AEPTimeoutError, match=f"segment job {job.id} is still NEW after 0 s"):
        hook.wait_for_segment_job(job.id, poll_interval=0.005, timeout=0.01)
    with pytest.raises(AEPValidationError, match="is longer than timeout"):
        hook.wait_for_segment_job(job.id, poll_interval=0.05, timeout=0.01)


def test_wait_for_estimate(aep_conn: str) -> None:
    hook = SegmentationHook()
    preview = hook.client.create_preview('loyalty.tier = "gold"')
    estimate = hook.wait_for_estimate(preview.preview_id, poll_interval=0.02, timeout=30)
    assert estimate.estimated_size and estimate.estimated_size > 0


@pytest.fixture
def no_sync_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        BaseHook,
        "get_connection",
        get_connection_off_the_loop("synchronous get_connection called from async code"),
    )


async def test_the_async_client_reads_the_connection_with_aget_connection(
    aep_conn: str, emulator_admin, no_sync_connection
) -> None:
    seg_id = _create_job_inputs(emulator_admin)
    emulator_admin.configure(job_step_seconds=60)
    async with SegmentationHook() as hook:
        client = await hook.aclient()
        job = await client.get_segment_job(seg_id)
        assert job.id == seg_id
        listed = [j.id async for j in client.list_segment_jobs()]
        assert listed == [seg_id]
        await client.cancel_segment_job(seg_id)
        assert (await client.get_segment_job(seg_id)).status == "CANCELLING"


def _create_job_inputs(emulator_admin) -> str:
    """Create a job over plain HTTP so that no sync hook path runs inside the async test."""
    import requests

    from airflow_provider_segmentation.emulator.settings import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_ORG_ID,
    )

    base = emulator_admin.url
    token = mint_token(base, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": DEFAULT_CLIENT_ID,
        "x-gw-ims-org-id": DEFAULT_ORG_ID,
        "x-sandbox-name": "prod",
    }
    body = {**US, "schema": {"name": "_xdm.context.profile"}}
    seg = requests.post(
        f"{base}/data/core/ups/segment/definitions", json=body, headers=headers, timeout=5
    ).json()
    job = requests.post(
        f"{base}/data/core/ups/segment/jobs", json=[{"segmentId": seg["id"]}], headers=headers, timeout=5
    ).json()
    return str(job["id"])


async def test_the_async_path_masks_secret_and_token_with_the_async_masker(
    aep_conn: str, emulator, emulator_admin, no_sync_connection, monkeypatch
) -> None:
    """In a trigger the secret and every minted token go through ``amask_secret``; the synchronous
    masker (a blocking call to the supervisor from the event loop) is never called."""
    masked: list[str] = []

    async def amask(secret: str, name: str | None = None) -> None:
        masked.append(secret)

    def sync_mask(secret: str, name: str | None = None) -> None:
        raise AssertionError("the synchronous mask_secret was called on the async path")

    monkeypatch.setattr("airflow_provider_segmentation.hooks.segmentation.amask_secret", amask)
    monkeypatch.setattr("airflow_provider_segmentation.hooks.segmentation.mask_secret", sync_mask)
    async with SegmentationHook() as hook:
        client = await hook.aclient()
        assert [s async for s in client.list_schedules()] == []
    [token] = list(emulator.app.state.emulator.tokens)
    assert emulator.settings.client_secret in masked and token in masked


async def test_async_estimate_export_and_preview(aep_conn: str, emulator_admin, no_sync_connection) -> None:
    async with SegmentationHook() as hook:
        client = await hook.aclient()
        with pytest.raises(AEPNotFoundError) as excinfo:
            await client.get_estimate("missing")
        assert excinfo.value.status == 404
        with pytest.raises(AEPNotFoundError):
            await client.get_export_job(12345)
        schedules = [s async for s in client.list_schedules()]  # every operation exists awaited
        assert schedules == []


async def test_async_token_refresh_and_logs_clean(
    aep_conn: str,
    emulator,
    emulator_admin,
    no_sync_connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    job_id = _create_job_inputs(emulator_admin)
    async with SegmentationHook() as hook:
        client = await hook.aclient()
        await client.get_segment_job(job_id)
        emulator_admin.expire_tokens()
        await client.get_segment_job(job_id)
    statuses = [r["status"] for r in emulator_admin.requests("GET", "/data/core/ups/segment/jobs/")]
    assert statuses == [200, 401, 200]
    # the search below covers the client's real log lines (the request ids, the refresh), not nothing
    assert "refreshing it once" in caplog.text and "retrieveSegmentJob GET" in caplog.text
    tokens = list(emulator.app.state.emulator.tokens)
    for secret in [emulator.settings.client_secret, *tokens]:
        assert secret not in caplog.text


def test_validate_pql_asks_aep(aep_conn: str, emulator_admin) -> None:
    from airflow_provider_segmentation.client import AEPValidationError

    hook = SegmentationHook()
    assert '"fnName":"="' in hook.validate_pql('homeAddress.countryCode = "US"')
    with pytest.raises(AEPValidationError, match="line 1, column"):
        hook.validate_pql("homeAddress.countryCode = ")
    assert len(emulator_admin.requests("POST", "/data/core/ups/segment/conversion")) == 2


def test_reading_the_connection_logs_no_masking_warning(aep_conn: str, monkeypatch, caplog) -> None:
    """Airflow masks every value of a connection's extra; a short one ('prod') made it warn in every
    task. The sandbox now lives in the schema field, which is not masked, and stays readable in logs."""
    from tests.compat import SecretsMasker

    monkeypatch.setattr(SecretsMasker, "_has_warned_short_secret", False)
    with caplog.at_level(logging.WARNING):
        hook = SegmentationHook()
        list(hook.client.list_schedules())
    assert hook.config.sandbox == "prod"
    assert "too short" not in caplog.text


def test_legacy_extra_sandbox_is_still_read(emulator, emulator_admin, monkeypatch) -> None:
    conn = json.loads(emulator.connection_json())
    conn["extra"]["sandbox"] = conn.pop("schema")
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", json.dumps(conn))
    assert SegmentationHook().config.sandbox == "prod"


def test_no_flask_stack_means_no_custom_widgets(monkeypatch) -> None:
    """Airflow 3.2+ installs no flask-appbuilder; the 3.0/3.1 widget call then gets {}, not ImportError."""
    import sys

    for module in ("flask_appbuilder", "flask_appbuilder.fieldwidgets", "flask_babel", "wtforms"):
        monkeypatch.setitem(sys.modules, module, None)  # an import of it raises ImportError
    assert SegmentationHook.get_connection_form_widgets() == {}
