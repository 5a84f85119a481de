"""Schedules: a cron AEP would refuse is a 400 and nothing is stored (so listings keep working), and a
stored schedule fires at the times its Quartz cron names, on the emulator's clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.emulator.conftest import assert_aep_400

SCHEDULE = {"name": "nightly", "type": "batch_segmentation", "properties": {"segments": ["*"]}}
NEXT_YEAR = datetime.now(timezone.utc).year + 1

REFUSED = [
    ("0 0 1 31 2 ?", "can never fire"),
    ("0 0 1 30 FEB ?", "can never fire"),
    ("0 0 1 1 1 ? 2020", "in the past"),
    ("0 0 1 1 1 ? 99999", "the year field '99999'"),
    ("0 0 1 * * ?\n", "newline"),
    ("0 0 1 * * *", "'?' in exactly one"),
    ("0 0 1 ? * 8", "the day-of-week field '8'"),
    ("0 0 1 * * ? ∞", "the year field '∞'"),
    ("9" * 400 + " 0 1 * * ?", "the second field"),
]


def fire_times(platform, schedule_id: str) -> list[datetime]:
    jobs = platform("GET", "/segment/jobs").json()["children"]
    return sorted(
        datetime.fromtimestamp(job["creationTime"] / 1000, tz=timezone.utc)
        for job in jobs
        if job["properties"].get("scheduleId") == schedule_id
    )


def active_schedule(platform, cron: str) -> str:
    answer = platform("POST", "/config/schedules", {**SCHEDULE, "schedule": cron, "state": "active"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


@pytest.mark.parametrize(("cron", "problem"), REFUSED)
def test_a_cron_aep_refuses_is_a_400_and_nothing_is_stored(emulator_admin, platform, cron, problem) -> None:
    assert_aep_400(platform("POST", "/config/schedules", {**SCHEDULE, "schedule": cron}), "schedule", problem)
    assert platform("GET", "/config/schedules").json()["children"] == []
    emulator_admin.advance_clock(2 * 86400)
    assert platform("GET", "/segment/jobs").status_code == 200


@pytest.mark.parametrize(("cron", "problem"), REFUSED)
def test_a_patch_to_a_cron_aep_refuses_is_a_400_and_changes_nothing(
    emulator_admin, platform, cron, problem
) -> None:
    schedule_id = active_schedule(platform, "0 0 1 * * ?")
    patch = [{"op": "add", "path": "/schedule", "value": cron}]
    assert_aep_400(platform("PATCH", f"/config/schedules/{schedule_id}", patch), "schedule", problem)
    assert platform("GET", f"/config/schedules/{schedule_id}").json()["schedule"] == "0 0 1 * * ?"
    emulator_admin.advance_clock(2 * 86400)
    assert platform("GET", "/segment/jobs").status_code == 200


def test_a_schedule_whose_last_fire_has_passed_stops_firing_and_listings_keep_working(
    emulator_admin, platform
) -> None:
    emulator_admin.advance_clock(0, frozen=True)
    schedule_id = active_schedule(platform, f"0 0 12 1 1 ? {NEXT_YEAR}")
    emulator_admin.advance_clock(400 * 86400)  # past its only fire time
    [fired] = fire_times(platform, schedule_id)
    assert fired == datetime(NEXT_YEAR, 1, 1, 12, tzinfo=timezone.utc)
    emulator_admin.advance_clock(100 * 86400)
    answer = platform("GET", "/segment/jobs")
    assert answer.status_code == 200 and len(fire_times(platform, schedule_id)) == 1


def test_day_of_week_numbers_are_quartz_ones_sunday_is_1(emulator_admin, platform) -> None:
    emulator_admin.advance_clock(0, frozen=True)
    schedule_id = active_schedule(platform, "0 0 12 ? * 2")  # Mondays at noon UTC
    emulator_admin.advance_clock(14 * 86400)
    fired = fire_times(platform, schedule_id)
    assert len(fired) == 2 and all(f.strftime("%A %H:%M:%S") == "Monday 12:00:00" for f in fired)


def test_quartz_only_day_rules_are_accepted_and_fire(emulator_admin, platform) -> None:
    emulator_admin.advance_clock(0, frozen=True)
    nearest_weekday = active_schedule(platform, "0 0 12 15W * ?")
    last_friday = active_schedule(platform, "0 0 12 ? * 6L")
    emulator_admin.advance_clock(62 * 86400)  # two months: each fires at least twice
    weekdays, fridays = fire_times(platform, nearest_weekday), fire_times(platform, last_friday)
    assert len(weekdays) >= 2 and all(f.weekday() < 5 and abs(f.day - 15) <= 2 for f in weekdays)
    assert len(fridays) >= 2 and all(f.strftime("%A") == "Friday" and f.day + 7 > 28 for f in fridays)
