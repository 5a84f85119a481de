"""The profile store changes from one emulator day to the next (growth, churn, broken ingestion days), so
size histories are a real series with a real anomaly; over HTTP, stepping the emulator's clock a day at
a time (one on-demand run a day: AEP's quota of 2 stays on)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.emulator.server import EmulatorServer
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID, EmulatorSettings
from tests.conftest import EmulatorAdmin
from tests.emulator.conftest import TOKEN_LIFETIME_SECONDS, platform_caller

EVERYONE = "loyalty.points >= 0"
PROFILES = 2_000  # the session emulator's
DAY = 86400
EXPORT_ALL = {
    "destination": {"datasetId": PROFILE_DATASET_ID},
    "schema": {"name": "_xdm.context.profile"},
    "fields": "_id",
}
TOMORROW = "exists X from xEvent where (X.timestamp occurs on tomorrow)"


def start_tomorrow(emulator_admin, **history: Any) -> date:
    """Freeze the clock at 01:00 UTC of the next day, make that the history's start day, configure it."""
    now = emulator_admin.advance_clock(0, frozen=True)["now"]
    emulator_admin.advance_clock(DAY - now % DAY + 3600)
    start = datetime.fromtimestamp(emulator_admin.advance_clock(0)["now"], tz=timezone.utc).date()
    emulator_admin.configure(history={"start_day": str(start), **history})
    return start


def finish(emulator_admin) -> None:
    emulator_admin.advance_clock(1)  # past every step of a job or a preview (0.05 s each)


def run_job(platform, emulator_admin, segment_id: str) -> dict[str, Any]:
    answer = platform("POST", "/segment/jobs", [{"segmentId": segment_id}])
    assert answer.status_code == 200, answer.text
    finish(emulator_admin)
    return dict(platform("GET", f"/segment/jobs/{answer.json()['id']}").json())


def define(platform, name: str, pql: str = EVERYONE) -> str:
    body = {"name": name, "schema": {"name": "_xdm.context.profile"}, "expression": {"value": pql}}
    answer = platform("POST", "/segment/definitions", body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def estimate(platform, emulator_admin, pql: str = EVERYONE) -> dict[str, Any]:
    preview = platform(
        "POST", "/preview", {"predicateExpression": pql, "predicateModel": "_xdm.context.profile"}
    )
    assert preview.status_code == 201, preview.text
    finish(emulator_admin)
    return dict(platform("GET", f"/estimate/{preview.json()['previewId']}").json())


def expected_size(profiles: int, growth: float, churn: float, drop: float, day_number: int) -> int:
    """The documented formula (``emulator.history``), written out independently of the emulator."""
    joined = min(profiles + int(profiles * growth * day_number), 1_000_000)
    return round((joined - min(profiles, int(profiles * churn * day_number))) * (1 - drop))


def test_counts_grow_and_shrink_day_by_day_as_configured(platform, emulator_admin) -> None:
    start_tomorrow(emulator_admin, growth_per_day=0.05, churn_per_day=0.02)
    everyone, gold = define(platform, "everyone"), define(platform, "gold", 'loyalty.tier = "gold"')
    sizes, golds = [], []
    for _ in range(4):
        job = run_job(platform, emulator_admin, everyone)
        sizes.append((job["metrics"]["totalProfiles"], job["metrics"]["segmentedProfileCounter"][everyone]))
        golds.append(run_job(platform, emulator_admin, gold)["metrics"]["segmentedProfileCounter"][gold])
        emulator_admin.advance_clock(DAY)
    assert sizes == [(2000 + 60 * n, 2000 + 60 * n) for n in range(4)]  # +100 joined, -40 left a day
    assert golds[0] < golds[-1] and all(g / s > 0.08 for g, (s, _) in zip(golds, sizes, strict=True))


def test_a_broken_ingestion_day_shows_a_fraction_of_the_profiles_in_jobs_and_exports(
    platform, emulator_admin
) -> None:
    start = start_tomorrow(emulator_admin)
    emulator_admin.configure(
        history={"ingestion_drop": {"day": str(start + timedelta(days=1)), "fraction": 0.9}}
    )
    everyone = define(platform, "everyone")
    counts, exported = [], []
    for _ in range(3):
        counts.append(
            run_job(platform, emulator_admin, everyone)["metrics"]["segmentedProfileCounter"][everyone]
        )
        export = platform("POST", "/export/jobs", EXPORT_ALL)
        finish(emulator_admin)
        done = platform("GET", f"/export/jobs/{export.json()['id']}").json()
        exported.append(done["metrics"]["totalExportedProfileCounter"])
        emulator_admin.advance_clock(DAY)
    assert counts == exported == [PROFILES, PROFILES // 10, PROFILES]


def test_history_is_deterministic_across_restarts(platform, emulator_admin) -> None:
    """A freshly started emulator with the same seed and settings holds the same profiles on that day."""
    history = {"growth_per_day": 0.01, "churn_per_day": 0.03, "ingestion_drop": None}

    def members_on_day_3(admin, caller) -> list[str]:
        start_tomorrow(admin, **history)
        admin.advance_clock(3 * DAY)
        export = caller("POST", "/export/jobs", EXPORT_ALL)
        finish(admin)
        batch = caller("GET", f"/export/jobs/{export.json()['id']}").json()["destination"]["batchId"]
        return [r["_id"] for r in admin.batch(PROFILE_DATASET_ID, batch)]

    first = members_on_day_3(emulator_admin, platform)
    settings_ = EmulatorSettings(port=0, profiles=PROFILES, seed=7, job_step_seconds=0.05)
    settings_.token_lifetime_seconds = TOKEN_LIFETIME_SECONDS
    with EmulatorServer(settings_) as fresh:
        second = members_on_day_3(EmulatorAdmin(fresh.url), platform_caller(fresh))
    assert first == second and len(first) == expected_size(PROFILES, 0.01, 0.03, 0, 3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    growth=st.floats(0, 0.2),
    churn=st.floats(0, 0.5),
    drop=st.one_of(st.just(0.0), st.floats(0, 1)),
    days=st.integers(0, 9),
)
def test_the_day_n_size_follows_the_formula(emulator, emulator_admin, growth, churn, drop, days) -> None:
    """For generated growth, churn, a drop on the day and a number of days, the estimate and its
    population are the formula's size (within rounding)."""
    emulator_admin.reset()
    emulator_admin.configure(job_step_seconds=0.05, token_lifetime_seconds=TOKEN_LIFETIME_SECONDS)
    caller = platform_caller(emulator)
    start = start_tomorrow(emulator_admin, growth_per_day=growth, churn_per_day=churn)
    day = start + timedelta(days=days)
    emulator_admin.configure(history={"ingestion_drop": [{"day": str(day), "fraction": drop}]})
    emulator_admin.advance_clock(days * DAY)
    answer = estimate(caller, emulator_admin)
    expected = expected_size(PROFILES, growth, churn, drop, days)
    assert abs(answer["estimatedSize"] - expected) <= 1
    assert abs(answer["totalRows"] - expected) <= 1


def test_a_bad_history_setting_is_refused_naming_it(emulator_admin) -> None:
    for change, word in [
        ({"growth_per_day": 2}, "history.growth_per_day"),
        ({"churn_per_day": "0.1"}, "history.churn_per_day"),
        ({"ingestion_drop": {"day": "10 Dec", "fraction": 0.9}}, "ingestion_drop.day"),
        ({"ingestion_drop": {"fraction": 0.9}}, "history.ingestion_drop"),
        ({"start": "2026-01-01"}, "unknown history settings"),
    ]:
        answer = requests.patch(
            f"{emulator_admin.url}/_emulator/settings", json={"history": change}, timeout=10
        )
        assert answer.status_code == 400 and word in answer.json()["error"], answer.text


def test_a_job_whose_definition_cannot_be_evaluated_fails_with_errors() -> None:
    """``tomorrow`` on 9999-12-31 is past PQL's calendar: the job goes FAILED with an ``errors[]`` entry
    (and the preview FAILED), never a 500."""
    last_day = datetime(9999, 12, 31, 12, tzinfo=timezone.utc).timestamp()
    offset = last_day - time.time()
    settings_ = EmulatorSettings(port=0, profiles=200, seed=7, job_step_seconds=0.05)
    settings_.clock = lambda: time.time() + offset
    settings_.rules = type(settings_.rules)(
        enforce_on_demand_quota=False
    )  # the yearly allowance ends in 10000
    with EmulatorServer(settings_) as server:
        caller = platform_caller(server)
        segment = define(caller, "tomorrow", TOMORROW)
        created = caller("POST", "/segment/jobs", [{"segmentId": segment}])
        assert created.status_code == 200, created.text
        time.sleep(0.3)
        job = caller("GET", f"/segment/jobs/{created.json()['id']}").json()
        assert job["status"] == "FAILED" and "9999-12-31" in job["errors"][0]["msg"]
        listed = caller("GET", "/segment/jobs").json()["children"]
        assert [j["status"] for j in listed] == ["FAILED"]
        body = {"predicateExpression": TOMORROW, "predicateModel": "_xdm.context.profile"}
        preview = caller("POST", "/preview", body)
        time.sleep(0.3)
        answer = caller("GET", f"/estimate/{preview.json()['previewId']}")
        assert answer.status_code == 200 and answer.json()["state"] == "FAILED"


def test_a_run_all_job_keeps_star_and_evaluates_every_definition(platform, emulator_admin) -> None:
    ids = [define(platform, "a"), define(platform, "b", 'loyalty.tier = "gold"')]
    created = platform("POST", "/segment/jobs", {"segments": [{"segmentId": "*"}]}).json()
    emulator_admin.advance_clock(1)
    job = platform("GET", f"/segment/jobs/{created['id']}").json()
    assert job["segments"] == [{"segmentId": "*"}] and set(job["metrics"]["segmentedProfileCounter"]) == set(
        ids
    )
    [listed] = platform("GET", "/segment/jobs").json()["children"]
    assert listed["segments"] == [{"segmentId": "*"}]
