"""The emulator enforces AEP's documented rules by default, over HTTP, through the package's rules module:
on-demand jobs (20 ids, 2 runs per UTC day, the yearly allowance, batch people-based Segmentation
Service audiences only), eligibility resolution of definitions, once-a-day schedules and the account
audience limit; each switch off restores the old behaviour."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import rules
from airflow_provider_segmentation.models import SegmentJob
from tests.emulator.conftest import TOKEN_LIFETIME_SECONDS, platform_caller

NAMES = itertools.count()
PROFILE_PQL = 'homeAddress.country.equals("Canada", false)'
STREAMING_PQL = 'xEvent[eventType = "a" and timestamp occurs < 8 hours before now].count() > 0'
BATCH_ONLY_PQL = 'xEvent[eventType = "a"].count() > 0'  # a single event without a window
STREAMING = {"continuous": {"enabled": True}}
EDGE = {"synchronous": {"enabled": True}}
HOURLY = "0 0 * * * ?"


def define(platform, name: str, pql: str = PROFILE_PQL, **extra: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "expression": {"type": "PQL", "format": "pql/text", "value": pql},
        "schema": {"name": "_xdm.context.profile"},
        **extra,
    }
    answer = platform("POST", "/segment/definitions", body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def run(platform, *segment_ids: str) -> requests.Response:
    return platform("POST", "/segment/jobs", [{"segmentId": i} for i in segment_ids])


def clock_now(emulator_admin) -> datetime:
    return datetime.fromtimestamp(emulator_admin.advance_clock(0)["now"], tz=timezone.utc)


def to_next_utc_day(emulator_admin, after_seconds: int = 60) -> None:
    now = clock_now(emulator_admin)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    emulator_admin.advance_clock((midnight - now).total_seconds() + after_seconds)


def assert_refused(answer: requests.Response, rule_id: str, status: int = 400) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = dict(answer.json())
    assert body["rule"] == rule_id and body["status"] == status and body["error_code"] == rule_id
    assert body["detail"] == body["message"] and rules.RULES[rule_id].fix in body["detail"]
    return body


def test_a_job_of_21_ids_is_refused_and_stores_nothing(platform) -> None:
    ids = [define(platform, f"a{i}")["id"] for i in range(21)]
    body = assert_refused(run(platform, *ids), "on-demand.max-ids")
    assert "21 segment definition ids" in body["detail"]
    assert platform("GET", "/segment/jobs").json()["children"] == []
    assert run(platform, *ids[:20]).status_code == 200


def test_a_third_run_in_a_utc_day_is_refused_until_midnight(platform, emulator_admin) -> None:
    emulator_admin.advance_clock(0, frozen=True)
    segment = define(platform, "daily")["id"]
    assert [run(platform, segment).status_code for _ in range(2)] == [200, 200]
    body = assert_refused(run(platform, segment), "on-demand.daily-runs")
    midnight = (clock_now(emulator_admin) + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    assert body["resetsAt"] == midnight and midnight.replace("T", " ")[:16] in body["detail"]
    assert len(platform("GET", "/segment/jobs").json()["children"]) == 2
    to_next_utc_day(emulator_admin)
    assert run(platform, segment).status_code == 200


def test_scheduled_and_run_all_jobs_do_not_use_the_allowance(platform, emulator_admin) -> None:
    segment = define(platform, "nightly")["id"]
    schedule = {"name": "n", "type": "batch_segmentation", "properties": {"segments": ["*"]}}
    schedule_id = platform("POST", "/config/schedules", schedule).json()["id"]
    for _ in range(3):
        emulator_admin.trigger_schedule(schedule_id)
        assert platform("POST", "/segment/jobs", {"segments": [{"segmentId": "*"}]}).status_code == 200
    assert [run(platform, segment).status_code for _ in range(3)] == [200, 200, 400]


def test_the_yearly_allowance_resets_on_the_contract_anniversary(platform, emulator_admin) -> None:
    now = clock_now(emulator_admin)
    anniversary = (now + timedelta(days=2)).strftime("%m-%d")
    emulator_admin.configure(rules={"yearly_on_demand_runs": 3, "contract_start": anniversary})
    segment = define(platform, "yearly")["id"]
    assert [run(platform, segment).status_code for _ in range(2)] == [200, 200]
    to_next_utc_day(emulator_admin)
    assert run(platform, segment).status_code == 200
    body = assert_refused(run(platform, segment), "on-demand.yearly-runs")
    assert body["resetsAt"].startswith((now + timedelta(days=2)).strftime("%Y-%m-%dT00:00"))
    to_next_utc_day(emulator_admin)  # the anniversary: a new contract year
    assert run(platform, segment).status_code == 200


@pytest.mark.parametrize(("production_sandboxes", "allowed"), [(["prod"], 50), ([], 100)])
def test_the_documented_yearly_allowance_by_sandbox_type(
    platform, emulator_admin, production_sandboxes, allowed
) -> None:
    """The default numbers, honestly: two runs a day until the 51st (production) or the 101st (prod
    configured as a development sandbox)."""
    start = clock_now(emulator_admin).strftime("%m-%d")
    emulator_admin.configure(rules={"contract_start": start, "production_sandboxes": production_sandboxes})
    to_next_utc_day(emulator_admin)
    segment = define(platform, "yearly")["id"]
    for _ in range(allowed // 2):
        assert [run(platform, segment).status_code for _ in "ab"] == [200, 200]
        to_next_utc_day(emulator_admin)
    body = assert_refused(run(platform, segment), "on-demand.yearly-runs")
    kind = "production" if production_sandboxes else "development"
    assert f"the {kind} sandbox has used {allowed} of its {allowed}" in body["detail"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.one_of(
            st.just("run"),
            st.just("run-all"),
            st.integers(min_value=1, max_value=40).map(lambda hours: hours * 3600),
        ),
        min_size=1,
        max_size=12,
    ),
    daily=st.integers(min_value=1, max_value=3),
    yearly=st.integers(min_value=1, max_value=6),
)
def test_generated_job_sequences_follow_the_rules_module(emulator, emulator_admin, steps, daily, yearly):
    """Across days, a job is accepted exactly when ``rules.on_demand_usage`` over the sandbox's listed
    jobs (as a client reads them) and ``rules.check_quota`` say it fits the allowance."""
    emulator_admin.reset()
    emulator_admin.configure(job_step_seconds=0.05, token_lifetime_seconds=TOKEN_LIFETIME_SECONDS)
    emulator_admin.configure(rules={"daily_on_demand_runs": daily, "yearly_on_demand_runs": yearly})
    platform = platform_caller(emulator)
    allowance = rules.OnDemandAllowance(daily=daily, yearly=yearly)
    segment = define(platform, "generated")["id"]
    emulator_admin.advance_clock(0, frozen=True)
    for step in steps:
        if isinstance(step, int):
            emulator_admin.advance_clock(step)
            continue
        listed = platform("GET", "/segment/jobs").json()["children"]
        jobs = [SegmentJob.model_validate(j) for j in listed]  # run-all jobs listed with "*", as AEP does
        usage = rules.on_demand_usage(jobs, clock_now(emulator_admin), allowance)
        expected = rules.check_quota(usage, allowance)
        if step == "run-all":
            answer = platform("POST", "/segment/jobs", {"segments": [{"segmentId": "*"}]})
            assert answer.status_code == 200 and answer.json()["segments"] == [{"segmentId": "*"}]
        elif expected is None:
            assert run(platform, segment).status_code == 200
        else:
            assert_refused(run(platform, segment), expected.rule_id)


@pytest.mark.parametrize(
    ("pql", "declared", "stored"),
    [
        (BATCH_ONLY_PQL, STREAMING, "batch"),  # an event without a window is batch only
        (BATCH_ONLY_PQL, EDGE, "batch"),
        (STREAMING_PQL, STREAMING, "streaming"),
        (STREAMING_PQL, EDGE, "edge"),
        (PROFILE_PQL, EDGE, "edge"),
        (PROFILE_PQL, None, "batch"),
    ],
)
def test_a_definition_is_stored_with_the_method_aep_evaluates_it_with(platform, pql, declared, stored):
    extra = {"evaluationInfo": declared} if declared else {}
    created = define(platform, "d", pql, **extra)
    read = platform("GET", f"/segment/definitions/{created['id']}").json()
    expected = {
        "batch": {"enabled": stored == "batch"},
        "continuous": {"enabled": stored == "streaming"},
        "synchronous": {"enabled": stored == "edge"},
    }
    assert created["evaluationInfo"] == read["evaluationInfo"] == expected


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.sampled_from([PROFILE_PQL, STREAMING_PQL, BATCH_ONLY_PQL]),
    second=st.sampled_from([PROFILE_PQL, STREAMING_PQL, BATCH_ONLY_PQL]),
    declared=st.sampled_from(["batch", "streaming", "edge"]),
    route=st.sampled_from(["definition", "audience"]),
)
def test_generated_edits_store_the_resolved_method(platform, first, second, declared, route):
    """Created then edited to another expression, a definition or an audience is stored with
    ``rules.resolved_method`` of its declared method and its expression as it stands now."""
    info = {"batch": {"enabled": declared == "batch"}, "continuous": {"enabled": declared == "streaming"}}
    info["synchronous"] = {"enabled": declared == "edge"}
    body = {"name": f"g{next(NAMES)}", "expression": {"type": "PQL", "format": "pql/text", "value": first}}
    body.update({"evaluationInfo": info, "schema": {"name": "_xdm.context.profile"}})
    if route == "definition":
        ident = platform("POST", "/segment/definitions", body).json()["id"]
        edit = {"expression": body["expression"] | {"value": second}, "evaluationInfo": info}
        stored = platform("PATCH", f"/segment/definitions/{ident}", edit).json()["evaluationInfo"]
    else:
        ident = platform("POST", "/audiences", body).json()["id"]
        edit = [{"op": "replace", "path": "/expression/value", "value": second}]
        edit.append({"op": "replace", "path": "/evaluationInfo", "value": info})
        stored = platform("PATCH", f"/audiences/{ident}", edit).json()["evaluationInfo"]
    method = rules.resolved_method(declared, rules.evaluation_method(second))
    assert {k: v["enabled"] for k, v in stored.items()} == {
        "batch": method == "batch",
        "continuous": method == "streaming",
        "synchronous": method == "edge",
    }


def test_a_schedule_firing_more_than_once_a_day_is_refused(platform) -> None:
    schedule = {"name": "s", "type": "batch_segmentation", "properties": {"segments": ["*"]}}
    assert_refused(
        platform("POST", "/config/schedules", {**schedule, "schedule": HOURLY}), "schedule.once-a-day"
    )
    assert platform("GET", "/config/schedules").json()["children"] == []
    ident = platform("POST", "/config/schedules", {**schedule, "schedule": "0 30 2 * * ?"}).json()["id"]
    patch = [{"op": "replace", "path": "/schedule", "value": "0 0,30 2 * * ?"}]
    assert_refused(platform("PATCH", f"/config/schedules/{ident}", patch), "schedule.once-a-day")
    assert platform("GET", f"/config/schedules/{ident}").json()["schedule"] == "0 30 2 * * ?"


def test_ineligible_audiences_in_a_job_are_refused_or_dropped(platform, emulator_admin) -> None:
    batch = define(platform, "batch")["id"]
    streaming = define(platform, "streaming", STREAMING_PQL, evaluationInfo=STREAMING)["id"]
    account = define(platform, "account", schema={"name": "_xdm.context.account"})["id"]
    body = assert_refused(run(platform, batch, streaming, account), "on-demand.batch-only")
    assert streaming in body["detail"]
    emulator_admin.configure(rules={"on_demand_origin_checks": "drop"})
    kept = run(platform, batch, streaming, account).json()["segments"]
    assert [s["segmentId"] for s in kept] == [batch]
    assert_refused(run(platform, streaming), "on-demand.batch-only")  # nothing left to evaluate


def test_the_51st_account_audience_is_refused_and_soft_limits_are_accepted(platform) -> None:
    account = {"schema": {"name": "_xdm.context.account"}}
    for i in range(50):
        define(platform, f"acc{i}", **account)
    body = {"name": "acc50", "expression": {"type": "PQL", "format": "pql/text", "value": PROFILE_PQL}}
    assert_refused(platform("POST", "/segment/definitions", {**body, **account}), "sandbox.account-audiences")
    assert_refused(platform("POST", "/audiences", {**body, **account}), "sandbox.account-audiences")
    define(platform, "a profile audience")  # other kinds are still accepted


def test_each_switch_off_restores_the_old_behaviour(platform, emulator_admin) -> None:
    emulator_admin.configure(
        rules={
            "enforce_on_demand_ids": False,
            "enforce_on_demand_quota": False,
            "on_demand_origin_checks": "off",
            "resolve_evaluation_method": False,
            "schedule_once_a_day": False,
            "account_audience_limit": False,
        }
    )
    ids = [define(platform, f"s{i}")["id"] for i in range(21)]
    streaming = define(platform, "st", BATCH_ONLY_PQL, evaluationInfo=STREAMING)
    assert streaming["evaluationInfo"]["continuous"] == {"enabled": True}  # kept as declared
    assert [run(platform, *ids, streaming["id"]).status_code for _ in range(3)] == [200] * 3
    schedule = {"name": "h", "type": "batch_segmentation", "properties": {"segments": ["*"]}}
    assert platform("POST", "/config/schedules", {**schedule, "schedule": HOURLY}).status_code == 200
    for i in range(51):
        define(platform, f"acc{i}", schema={"name": "_xdm.context.account"})


def test_the_refusal_status_and_code_are_configurable_and_reset_restores_the_rules(
    platform, emulator_admin
) -> None:
    emulator_admin.configure(rules={"rule_refusal_status": 429, "rule_refusal_error_code": "QUOTA"})
    segment = define(platform, "x")["id"]
    run(platform, segment), run(platform, segment)
    refused = run(platform, segment)
    assert refused.status_code == 429 and refused.json()["error_code"] == "QUOTA"
    assert refused.json()["rule"] == "on-demand.daily-runs"
    emulator_admin.reset()
    assert emulator_admin.configure()["rules"] == {
        **emulator_admin.configure()["rules"],
        "rule_refusal_status": 400,
        "rule_refusal_error_code": None,
        "enforce_on_demand_quota": True,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"rule_refusal_status": 200},
        {"daily_on_demand_runs": -1},
        {"contract_start": "02-30"},
        {"on_demand_origin_checks": "ignore"},
        {"enforce_on_demand_ids": "false"},
        {"no_such_rule": True},
    ],
)
def test_a_bad_rule_setting_is_refused_naming_it(emulator_admin, change) -> None:
    answer = requests.patch(f"{emulator_admin.url}/_emulator/settings", json={"rules": change}, timeout=5)
    assert answer.status_code == 400 and next(iter(change)) in answer.json()["error"]
