"""Bad input fails before any HTTP call, with a typed error that names the field and the fix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from airflow_provider_segmentation.client import (
    AEPConfigurationError,
    AEPValidationError,
    ClientConfig,
    SegmentationClient,
)
from airflow_provider_segmentation.client.cron import validate_quartz_cron
from tests.client.conftest import make_config


@pytest.mark.parametrize(
    ("overrides", "field", "fix"),
    [
        ({"client_id": ""}, "client_id", "Client ID"),
        ({"client_secret": " "}, "client_secret", "Client secret is missing"),
        ({"org_id": ""}, "org_id", "@AdobeOrg"),
        ({"sandbox": ""}, "sandbox", "lowercase name"),
        ({"sandbox": "Prod"}, "sandbox", "use 'prod'"),
        ({"sandbox": "my sandbox"}, "sandbox", "lowercase"),
        ({"platform_host": "platform.adobe.io"}, "platform_host", "https://platform.adobe.io"),
        ({"scopes": " "}, "scopes", "openid"),
    ],
)
def test_bad_config_names_the_field(emulator, overrides: dict[str, Any], field: str, fix: str) -> None:
    with pytest.raises(AEPConfigurationError) as excinfo:
        make_config(emulator, **overrides)
    assert excinfo.value.field == field and fix in str(excinfo.value) and excinfo.value.status is None


CALLS = [
    (lambda c: c.create_segment_job([]), "segment_ids", "at least one"),
    (lambda c: c.create_segment_job([f"id{i}" for i in range(1501)]), "segment_ids", "at most 1500"),
    (lambda c: c.create_segment_job("abc"), "segment_ids", "list of ids"),
    (lambda c: list(c.list_segment_jobs(status="RUNNING")), "status", "NEW, QUEUED"),
    (lambda c: list(c.list_export_jobs(status="SUCEEDED")), "status", "SUCCEEDED"),
    (lambda c: c.create_schedule("s", cron="0 0 * * *"), "cron", "6 or 7 fields"),
    (lambda c: c.create_schedule("s", cron="0 0 25 * * ?"), "cron", "hour"),
    (lambda c: c.create_schedule("s", cron="0 0 1 * * *"), "cron", "'?'"),
    (lambda c: c.update_schedule("id"), "state", "state and/or cron"),
    (lambda c: c.update_schedule("id", state="paused"), "state", "active, inactive"),
    (
        lambda c: c.create_segment_definition({"name": "x", "expression": {"value": datetime.now()}}),
        "definition",
        "not JSON-serializable",
    ),
    (lambda c: c.create_export_job({"destination": {}}), "destination.datasetId", "datasetId"),
    (lambda c: c.bulk_get_audiences([f"a{i}" for i in range(101)]), "audience_ids", "at most 100"),
    (lambda c: c.get_segment_job(""), "job_id", "empty"),
    (lambda c: c.create_preview(" "), "expression", "empty"),
    (lambda c: list(c.search_entities(namespace="AAM", limit=51)), "limit", "1 to 50"),
]


@pytest.mark.parametrize(("call", "field", "fix"), CALLS)
def test_bad_arguments_fail_before_any_http_call(
    client: SegmentationClient,
    emulator_admin,
    call,
    field: str,
    fix: str,
) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        call(client)
    assert excinfo.value.field == field and fix in str(excinfo.value)
    assert emulator_admin.requests() == []


@pytest.mark.parametrize(
    "cron",
    [
        "0 0 1 * * ?",
        "0 30 12 ? * 6L",
        "0 30 12 ? * 4#3",
        "0 15 3 * * ? 2027",
        "0 0 8 ? * MON-FRI",
        "0 0 0 L * ?",
        "0 0 0 15W JAN,JUL ?",
    ],
)
def test_valid_quartz_cron_is_accepted(cron: str) -> None:
    assert validate_quartz_cron(cron) == cron


def test_secret_is_not_in_the_config_repr(config: ClientConfig) -> None:
    assert config.secret.reveal() not in repr(config)
