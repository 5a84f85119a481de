"""The emulator's clock: tests step it instead of sleeping; demos keep real time."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import pytest
import requests

from airflow_provider_segmentation.emulator.clock import EmulatorClock
from airflow_provider_segmentation.emulator.server import EmulatorServer
from airflow_provider_segmentation.emulator.settings import EmulatorSettings
from airflow_provider_segmentation.models import ExportJobStatus, PreviewState, SegmentJobStatus
from tests.emulator.conftest import TOKEN_LIFETIME_SECONDS

BASE = "/data/core/ups"
PQL = {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "US"'}


def test_a_segment_job_moves_new_queued_processing_succeeded_by_stepping_the_clock(
    emulator_admin, platform
) -> None:
    emulator_admin.configure(job_step_seconds=5)
    emulator_admin.advance_clock(0, frozen=True)
    segment = platform(
        "POST",
        "/segment/definitions",
        {"name": "US", "expression": PQL, "schema": {"name": "_xdm.context.profile"}},
    ).json()
    job = platform("POST", "/segment/jobs", [{"segmentId": segment["id"]}]).json()

    def status() -> str:
        return str(platform("GET", f"/segment/jobs/{job['id']}").json()["status"])

    seen = [status()]
    for _ in range(3):
        emulator_admin.advance_clock(5)
        seen.append(status())
    assert seen == [
        SegmentJobStatus.NEW,
        SegmentJobStatus.QUEUED,
        SegmentJobStatus.PROCESSING,
        SegmentJobStatus.SUCCEEDED,
    ]
    finished = platform("GET", f"/segment/jobs/{job['id']}").json()
    assert finished["metrics"]["segmentedProfileCounter"][segment["id"]] > 0
    assert finished["metrics"]["totalTime"]["endTimeInMs"] - finished["creationTime"] == 15_000


def test_a_frozen_clock_holds_every_status_and_a_step_short_of_the_next_does_nothing(
    emulator_admin, platform
) -> None:
    emulator_admin.configure(job_step_seconds=10)
    emulator_admin.advance_clock(0, frozen=True)
    export = platform(
        "POST",
        "/export/jobs",
        {
            "destination": {"datasetId": "65a1b2c3d4e5f60718293a4b"},
            "schema": {"name": "_xdm.context.profile"},
        },
    ).json()
    preview = platform("POST", "/preview", {"predicateExpression": PQL["value"]}).json()
    emulator_admin.advance_clock(9.9)
    assert platform("GET", f"/export/jobs/{export['id']}").json()["status"] == ExportJobStatus.NEW
    assert platform("GET", f"/estimate/{preview['previewId']}").json()["state"] == PreviewState.RUNNING
    emulator_admin.advance_clock(0.1)
    assert platform("GET", f"/export/jobs/{export['id']}").json()["status"] == ExportJobStatus.PROCESSING
    emulator_admin.advance_clock(10)
    assert platform("GET", f"/export/jobs/{export['id']}").json()["status"] == ExportJobStatus.SUCCEEDED
    assert platform("GET", f"/estimate/{preview['previewId']}").json()["state"] == PreviewState.RESULT_READY


def test_cancelling_lasts_one_step(emulator_admin, platform) -> None:
    emulator_admin.configure(job_step_seconds=30)
    emulator_admin.advance_clock(0, frozen=True)
    segment = platform(
        "POST",
        "/segment/definitions",
        {"name": "US", "expression": PQL, "schema": {"name": "_xdm.context.profile"}},
    ).json()
    job = platform("POST", "/segment/jobs", [{"segmentId": segment["id"]}]).json()
    assert platform("DELETE", f"/segment/jobs/{job['id']}").status_code == 204
    assert platform("GET", f"/segment/jobs/{job['id']}").json()["status"] == SegmentJobStatus.CANCELLING
    emulator_admin.advance_clock(30)
    assert platform("GET", f"/segment/jobs/{job['id']}").json()["status"] == SegmentJobStatus.CANCELLED


def test_an_active_schedule_fires_when_the_clock_passes_its_time(emulator_admin, platform) -> None:
    emulator_admin.configure(job_step_seconds=1)
    emulator_admin.advance_clock(0, frozen=True)
    schedule = platform(
        "POST",
        "/config/schedules",
        {
            "name": "nightly",
            "type": "batch_segmentation",
            "properties": {"segments": ["*"]},
            "schedule": "0 0 1 * * ?",
        },
    ).json()
    platform(
        "PATCH", f"/config/schedules/{schedule['id']}", [{"op": "add", "path": "/state", "value": "active"}]
    )
    assert platform("GET", "/segment/jobs").json()["children"] == []
    emulator_admin.advance_clock(86400)  # one day: the 01:00 UTC fire time has passed once
    [job] = platform("GET", "/segment/jobs").json()["children"]
    assert job["source"] == "scheduler" and job["properties"]["scheduleId"] == schedule["id"]


def test_tokens_expire_on_the_emulator_clock(emulator, emulator_admin, platform) -> None:
    emulator_admin.advance_clock(0, frozen=True)
    assert platform("GET", "/config/schedules").status_code == 200
    emulator_admin.advance_clock(TOKEN_LIFETIME_SECONDS - 1)
    assert platform("GET", "/config/schedules").status_code == 200
    emulator_admin.advance_clock(2)
    refused = platform("GET", "/config/schedules")
    assert refused.status_code == 401 and refused.json()["error_code"] == "401013"


def test_reset_puts_the_clock_back_on_real_time(emulator, emulator_admin) -> None:
    frozen = emulator_admin.advance_clock(3600, frozen=True)
    assert frozen["frozen"] is True and frozen["now"] > time.time() + 3000
    emulator_admin.reset()
    clock = requests.get(f"{emulator.url}/_emulator/clock", timeout=10).json()
    assert clock["frozen"] is False and clock["offset_seconds"] == 0 and abs(clock["now"] - time.time()) < 5


def test_unfreezing_goes_on_from_the_frozen_time(emulator, emulator_admin) -> None:
    frozen = emulator_admin.advance_clock(100, frozen=True)["now"]
    running = emulator_admin.advance_clock(0, frozen=False)
    assert running["frozen"] is False and frozen <= running["now"] < frozen + 5


@pytest.mark.parametrize(
    "change",
    [{"advance_seconds": -1}, {"advance_seconds": "5"}, {"frozen": "yes"}, {"speed": 2}, [1]],
)
def test_bad_clock_changes_are_refused(emulator, emulator_admin, change) -> None:
    response = requests.post(f"{emulator.url}/_emulator/clock", json=change, timeout=10)
    assert response.status_code == 400 and "clock" in response.json()["error"]


def test_an_injected_clock_drives_the_app() -> None:
    now = [1_700_000_000.0]
    with EmulatorServer(EmulatorSettings(port=0, profiles=20, clock=lambda: now[0])) as server:
        assert requests.get(f"{server.url}/_emulator/clock", timeout=10).json()["now"] == now[0]
        now[0] += 42
        assert requests.get(f"{server.url}/_emulator/clock", timeout=10).json()["now"] == now[0]


def test_the_default_clock_is_real_time() -> None:
    clock = EmulatorClock()
    assert abs(clock.now() - time.time()) < 1 and not clock.frozen
    clock.advance(10)
    assert 9 < clock.now() - time.time() < 11


def test_answers_are_dated_on_the_emulators_clock(emulator, emulator_admin) -> None:
    """A client reads AEP's clock from ``Date`` (to compare creation times): it must be the stepped one."""
    before = requests.get(f"{emulator.url}/_emulator/requests", timeout=10)
    emulator_admin.advance_clock(3 * 3600, frozen=True)
    after = requests.get(f"{emulator.url}/_emulator/requests", timeout=10)
    skew = parsedate_to_datetime(after.headers["Date"]) - parsedate_to_datetime(before.headers["Date"])
    assert abs(skew.total_seconds() - 3 * 3600) < 5
    assert len(after.raw.headers.getlist("Date")) == 1  # uvicorn's own (real-time) Date is off
