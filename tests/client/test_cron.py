"""Quartz cron: every valid schedule is accepted, and one that is malformed or can never fire is refused
before any HTTP call, with an error that names the ``cron`` field and the problem."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_segmentation.client import AEPValidationError, SegmentationClient
from airflow_provider_segmentation.client.cron import validate_quartz_cron
from airflow_provider_segmentation.client.errors import AEPGuardrailError
from airflow_provider_segmentation.cron import check_quartz_cron
from airflow_provider_segmentation.rules import schedule_fires_more_than_once_a_day

SCHEDULES = "/data/core/ups/config/schedules"

VALID = [
    "0 0 1 * * ?",
    "0 */5 * * * ?",
    "0 0 12 ? * MON-FRI",
    "0 15 10 L * ?",
    "0 0 0 1 1 ? 2099",
    "0 30 12 ? * 6L",
    "0 30 12 ? * FRIL",
    "0 30 12 ? * 4#3",
    "0 30 12 ? * fri#2",
    "0 0/15 * * * ? 2027",
    "0 0 8 ? * MON-FRI",
    "0 0 0 L * ?",
    "0 0 0 L-3 * ?",
    "0 0 0 LW * ?",
    "0 0 0 15W JAN,JUL ?",
    "0 0 0 ? * L",
    "0 0 0 29 2 ?",  # leap years
    "0 0 0 29 2 ? 2028",
    "0 0 0 31 1-12 ?",  # the months that have a 31st
    "0 0 0 30 * ?",
    "0 0 22-2 * * ?",  # wraps past midnight, as Quartz allows
    "0 0 0 ? * FRI-MON",
    "0 0 0 ? NOV-FEB *",
    "0 0 0 1-15/2 * ?",
    "5,10,15 0 0 * * ?",
    "0 0 0 ? JAN-DEC/3 1,4,7",
    "0 0 0 * * ? *",
    "0 0 0 1 1 ? 2026-2099",
    "0 0 0 1 1 ? 2020-2099/4",
    "0 0 12 l * ?",  # Quartz reads its special characters in either case
    "0 0 12 15w * ?",
    "0 0 12 lw * ?",
    "0 0 12 ? * 6l",
]


@pytest.mark.parametrize("cron", VALID)
def test_valid_quartz_cron_is_accepted(cron: str) -> None:
    """Valid Quartz; one that fires more than once a day is then refused by AEP's once-a-day rule."""
    if schedule_fires_more_than_once_a_day(check_quartz_cron(cron)):
        with pytest.raises(AEPGuardrailError, match=r"schedule\.once-a-day"):
            validate_quartz_cron(cron)
    else:
        assert validate_quartz_cron(cron) == cron


INVALID = [
    # impossible dates
    ("0 0 0 31 2 ?", "can never fire"),
    ("0 0 0 30 FEB ?", "can never fire"),
    ("0 0 0 31 4 ?", "can never fire"),
    ("0 0 0 31 APR,JUN,SEP,NOV ?", "can never fire"),
    ("0 0 0 30,31 2 ?", "can never fire"),
    ("0 0 0 29 2 ? 2027", "can never fire"),
    ("0 0 0 31W 4 ?", "can never fire"),
    # a year in the past or out of range
    ("0 0 0 1 1 ? 2020", "year field '2020' is in the past"),
    ("0 0 0 ? * MON-FRI 1999-2001", "in the past"),
    ("0 0 0 1 1 ? 1969", "the year field '1969'"),
    ("0 0 0 1 1 ? 2200", "the year field '2200'"),
    ("0 0 0 1 1 ? 2030-2027", "the year field"),
    # out-of-range values
    ("60 * * * * ?", "the second field '60'"),
    ("0 60 * * * ?", "the minute field '60'"),
    ("0 0 24 * * ?", "the hour field '24'"),
    ("0 0 0 32 * ?", "the day-of-month field '32'"),
    ("0 0 0 0 * ?", "the day-of-month field '0'"),
    ("0 0 0 1 13 ?", "the month field '13'"),
    ("0 0 0 1 0 ?", "the month field '0'"),
    ("0 0 0 ? * 8", "the day-of-week field '8'"),
    ("0 0 0 ? * 0", "the day-of-week field '0'"),
    ("0 0 0 ? * FOO", "the day-of-week field 'FOO'"),
    ("0 0 0 1 JANUARY ?", "the month field 'JANUARY'"),
    ("0 0 0 ? * 2#6", "the day-of-week field '2#6'"),
    ("0 0 0 ? * 8L", "the day-of-week field '8L'"),
    ("0 0 0 L-31 * ?", "the day-of-month field 'L-31'"),
    ("0 0 0 32W * ?", "the day-of-month field '32W'"),
    # step and list syntax
    ("0 */0 * * * ?", "the minute field '*/0'"),
    ("0 0/61 * * * ?", "the minute field '0/61'"),
    ("0 0 0/24 * * ?", "the hour field '0/24'"),
    ("0 5/ * * * ?", "the minute field '5/'"),
    ("0 /5 * * * ?", "the minute field '/5'"),
    ("0 1-2-3 * * * ?", "the minute field '1-2-3'"),
    ("0 ,5 * * * ?", "the minute field ',5'"),
    ("0 5, * * * ?", "the minute field '5,'"),
    ("0 5,,6 * * * ?", "the minute field '5,,6'"),
    ("0 -5 * * * ?", "the minute field '-5'"),
    ("0 +5 * * * ?", "the minute field '+5'"),
    ("0 ? * * * ?", "the minute field '?'"),
    ("0 0 0 1W,15 * ?", "the day-of-month field '1W,15'"),
    ("0 0 0 L,15 * ?", "the day-of-month field 'L,15'"),
    ("0 0 0 ? * 6L,2", "the day-of-week field '6L,2'"),
    ("0 0 0 1 * ? 20x6", "the year field '20x6'"),
    # structure
    ("0 0 1 * * *", "'?' in exactly one"),
    ("0 0 1 ? * ?", "'?' in exactly one"),
    ("0 1 * * *", "6 or 7 fields"),
    ("0 0 0 1 * ? 2030 x", "6 or 7 fields"),
    ("", "6 or 7 fields"),
    # whitespace
    ("0 0 1 * * ?\n", "whitespace"),
    ("0 0 1 * * ? ", "whitespace"),
    (" 0 0 1 * * ?", "whitespace"),
    ("0 0 1\t* * ?", "whitespace"),
    ("0 0  1 * * ?", "single spaces"),
    ("0 0 1 * *\n?", "whitespace"),
]


@pytest.mark.parametrize(("cron", "words"), INVALID)
def test_invalid_quartz_cron_is_refused(cron: str, words: str) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        validate_quartz_cron(cron)
    assert excinfo.value.field == "cron" and words in str(excinfo.value), str(excinfo.value)


@pytest.mark.parametrize("value", [None, 123, ["0 0 1 * * ?"], b"0 0 1 * * ?"])
def test_a_cron_that_is_not_a_string_is_refused(value: object) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        validate_quartz_cron(value)  # type: ignore[arg-type]
    assert excinfo.value.field == "cron"


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        validate_quartz_cron("0 0 0 31 2 ?", field_name="schedule")
    assert excinfo.value.field == "schedule" and "schedule '0 0 0 31 2 ?'" in str(excinfo.value)


def test_never_firing_is_judged_from_now_utc() -> None:
    now = datetime(2030, 6, 15, 12, 0, 0, tzinfo=timezone.utc)
    assert validate_quartz_cron("0 0 13 15 6 ? 2030", now=now)  # later today
    assert validate_quartz_cron("0 0 0 16 6 ? 2030", now=now)  # tomorrow
    for gone in ("0 0 11 15 6 ? 2030", "0 0 12 15 6 ? 2030", "0 0 0 14 6 ? 2030", "0 0 0 1 1-5 ? 2030"):
        with pytest.raises(AEPValidationError, match="can never fire"):
            validate_quartz_cron(gone, now=now)
    with pytest.raises(AEPValidationError, match="in the past"):
        validate_quartz_cron("0 0 0 1 1 ? 2029", now=now)


@pytest.mark.parametrize("cron", ["0 0 0 31 2 ?", "0 0 0 1 1 ? 2020", "0 0 0 1 * ?\n", "0 0 0 32 * ?"])
def test_a_bad_cron_sends_nothing(client: SegmentationClient, emulator_admin, cron: str) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        client.create_schedule("nightly", cron=cron)
    assert excinfo.value.field == "cron"
    with pytest.raises(AEPValidationError):
        client.update_schedule("some-schedule", cron=cron)
    assert emulator_admin.requests() == []


@pytest.mark.parametrize("cron", ["0 0 12 ? * MON-FRI", "0 15 10 L * ?", "0 0 0 1 1 ? 2099"])
def test_a_valid_cron_reaches_aep(client: SegmentationClient, emulator_admin, cron: str) -> None:
    schedule = client.create_schedule("nightly", cron=cron)
    assert client.get_schedule(schedule.id).schedule == cron
    assert len(emulator_admin.requests("POST", SCHEDULES)) == 1
