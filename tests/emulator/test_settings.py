"""``PATCH /_emulator/settings``: runtime settings change what the emulator answers; bad values are a 400."""

from __future__ import annotations

import pytest
import requests


def ids(count: int) -> dict[str, list[dict[str, str]]]:
    return {"ids": [{"id": f"job-{i}"} for i in range(count)]}


def test_segment_job_bulk_get_answers_up_to_1500_ids_by_default(platform) -> None:
    answer = platform("POST", "/segment/jobs/bulk-get", ids(1500))
    assert answer.status_code == 207 and len(answer.json()["results"]) == 1500
    refused = platform("POST", "/segment/jobs/bulk-get", ids(1501))
    assert refused.status_code == 400
    assert refused.json()["errors"]["400"][0]["code"] == "UPAPI-113015-400"


def test_max_job_bulk_get_ids_lowers_the_segment_job_bulk_get_limit(emulator_admin, platform) -> None:
    assert emulator_admin.configure(max_job_bulk_get_ids=3)["max_job_bulk_get_ids"] == 3
    assert platform("POST", "/segment/jobs/bulk-get", ids(3)).status_code == 207
    refused = platform("POST", "/segment/jobs/bulk-get", ids(4))
    assert refused.status_code == 400
    body = refused.json()
    [error] = body["errors"]["400"]
    assert error["code"] == "UPAPI-113015-400" and body["type"].endswith("UPAPI-113015-400")
    assert error["message"] == "The number of requested IDs is invalid. Cannot be 0 or exceed 3."
    # definitions keep AEP's own limit
    assert platform("POST", "/segment/definitions/bulk-get", ids(4)).status_code == 207


@pytest.mark.parametrize(
    "change",
    [
        {"fail_segment_jobs": "false"},
        {"capture_bodies": 1},
        {"job_step_seconds": None},
        {"job_step_seconds": "fast"},
        {"job_step_seconds": -1},
        {"job_step_seconds": 1e300},
        {"token_lifetime_seconds": 1.5},
        {"token_lifetime_seconds": True},
        {"max_processing_segment_jobs": [3]},
        {"max_job_bulk_get_ids": 0},
        {"max_job_bulk_get_ids": "3"},
        {"max_job_bulk_get_ids": 10**30},
    ],
)
def test_a_bad_setting_value_is_a_400_and_changes_nothing(emulator, emulator_admin, change) -> None:
    before = emulator_admin.configure()
    answer = requests.patch(
        f"{emulator.url}/_emulator/settings", json={"max_processing_segment_jobs": 5, **change}, timeout=10
    )
    assert answer.status_code == 400 and next(iter(change)) in answer.json()["error"]
    assert emulator_admin.configure() == before


def test_a_settings_body_that_is_not_json_is_a_400(emulator, emulator_admin) -> None:
    answer = requests.patch(f"{emulator.url}/_emulator/settings", data="{", timeout=10)
    assert answer.status_code == 400 and "object" in answer.json()["error"]


def test_a_tiny_job_step_finishes_jobs_instead_of_failing_every_read(emulator_admin, platform) -> None:
    emulator_admin.configure(job_step_seconds=1e-320)
    definition = platform(
        "POST",
        "/segment/definitions",
        {
            "name": "tiny-step",
            "schema": {"name": "_xdm.context.profile"},
            "expression": {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "US"'},
        },
    ).json()
    job = platform("POST", "/segment/jobs", [{"segmentId": definition["id"]}]).json()
    emulator_admin.advance_clock(1)
    answer = platform("GET", f"/segment/jobs/{job['id']}")
    assert answer.status_code == 200 and answer.json()["status"] == "SUCCEEDED"
