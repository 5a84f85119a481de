"""AEP's on-demand evaluation guardrails on the create path of segment jobs, over HTTP to the emulator.

The refusal tests switch the emulator's own rules off, so that its request log proves the client
refused before the wire (no ``POST /segment/jobs``); one test keeps them on, end to end.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import rules
from airflow_provider_segmentation.client import SegmentationClient
from airflow_provider_segmentation.client.config import rules_settings
from airflow_provider_segmentation.client.errors import AEPConfigurationError, AEPGuardrailError
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook, config_from_connection
from airflow_provider_segmentation.models import SegmentJob
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from tests.client.conftest import make_config
from tests.operators.conftest import MemoryTaskStateStore, make_context

JOBS = "/data/core/ups/segment/jobs"
RULES_OFF = {
    "enforce_on_demand_ids": False,
    "enforce_on_demand_quota": False,
    "on_demand_origin_checks": "off",
}
US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}


@pytest.fixture
def client(emulator, emulator_admin) -> SegmentationClient:
    emulator_admin.configure(rules=RULES_OFF)  # the client alone must refuse
    return SegmentationClient(make_config(emulator), sleep=lambda _s: None, rng=random.Random(1))


def definition(client: SegmentationClient, name: str = "US", **extra: object) -> str:
    made = client.create_segment_definition({**US, "name": name, **extra})
    assert made.id
    return made.id


def posts(emulator_admin) -> int:
    return len(emulator_admin.requests("POST", JOBS))


def seconds_to_midnight(emulator_admin) -> float:
    now = datetime.fromtimestamp(emulator_admin._call("GET", "/clock")["now"], tz=timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds() + 1


def test_21_ids_are_refused_before_any_request(client, emulator_admin) -> None:
    ids = [f"seg-{i}" for i in range(21)]
    emulator_admin.clear_requests()
    with pytest.raises(AEPGuardrailError, match=r"on-demand\.max-ids") as caught:
        client.create_segment_job(ids)
    assert "21 segment definition ids" in str(caught.value) and "aep_rules" in str(caught.value)
    assert [f.rule_id for f in caught.value.findings] == ["on-demand.max-ids"]
    assert caught.value.findings[0].url.startswith("https://experienceleague.adobe.com/")
    assert emulator_admin.requests() == []  # not even a token: the ids alone break the rule


def test_duplicate_ids_are_refused_when_the_request_is_built(client, emulator_admin) -> None:
    with pytest.raises(ValueError, match="more than once"):
        client.create_segment_job(["a", "b", "a"])
    assert posts(emulator_admin) == 0


def test_streaming_and_custom_upload_definitions_are_refused_naming_them(client, emulator_admin) -> None:
    batch = definition(client, "batch")
    streaming = definition(client, "streaming", evaluationInfo={"continuous": {"enabled": True}})
    upload = definition(client, "upload", originName="CUSTOM_UPLOAD")
    emulator_admin.clear_requests()
    with pytest.raises(AEPGuardrailError) as caught:
        client.create_segment_job([batch, streaming, upload])
    found = {f.rule_id: f.message for f in caught.value.findings}
    assert streaming in found["on-demand.batch-only"] and upload in found["on-demand.origin"]
    assert batch not in str(found)
    assert posts(emulator_admin) == 0
    assert len(emulator_admin.requests()) <= 2  # a token and one bulk-get of the definitions


def test_a_third_run_in_a_utc_day_is_refused_until_midnight(client, emulator_admin) -> None:
    seg = definition(client)
    first, second = client.create_segment_job([seg]), client.create_segment_job([seg])
    emulator_admin.clear_requests()
    with pytest.raises(AEPGuardrailError, match=r"on-demand\.daily-runs") as caught:
        client.create_segment_job([seg])
    message = str(caught.value)
    assert first.id in message and second.id in message and "resets at" in message and "00:00 UTC" in message
    assert posts(emulator_admin) == 0
    costs = [(e["method"], e["path"]) for e in emulator_admin.requests() if "/ims/" not in e["path"]]
    assert costs == [("POST", "/data/core/ups/segment/definitions/bulk-get"), ("GET", JOBS)]  # 2 requests
    emulator_admin.advance_clock(seconds_to_midnight(emulator_admin))  # a new UTC day
    assert client.create_segment_job([seg]).id
    assert posts(emulator_admin) == 1


def test_the_yearly_allowance_is_counted_from_aeps_job_listing(emulator, emulator_admin, client) -> None:
    seg = definition(client)
    client.create_segment_job([seg])
    emulator_admin.advance_clock(seconds_to_midnight(emulator_admin))
    client.create_segment_job([seg])
    # a fresh client (another task) with a yearly allowance of 2: it counts from AEP, not local state
    lowered = make_config(emulator, on_demand=rules.OnDemandAllowance(yearly=2))
    with pytest.raises(AEPGuardrailError, match=r"on-demand\.yearly-runs.*contract anniversary"):
        SegmentationClient(lowered).create_segment_job([seg])
    assert posts(emulator_admin) == 2


def test_a_create_whose_answer_was_lost_counts_once(client, emulator_admin) -> None:
    seg = definition(client)
    emulator_admin.inject_fault(method="POST", path=JOBS, kind="status", status=503, after=True, count=1)
    adopted = client.create_segment_job([seg])  # AEP made it; the answer was lost; the job is adopted
    second = client.create_segment_job([seg])
    assert adopted.id != second.id and posts(emulator_admin) == 2
    with pytest.raises(AEPGuardrailError, match="used 2 of its 2"):
        client.create_segment_job([seg])


def test_a_retried_task_reattaches_without_checking_or_counting_again(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(rules=RULES_OFF)
    seg = SegmentationHook().client.create_segment_definition(US).id
    store = MemoryTaskStateStore()
    task = AEPRunSegmentJobOperator(task_id="t", segment_ids=[seg], wait_for_completion=False)
    task.execute(make_context(store))
    SegmentationHook().client.create_segment_job([seg])  # the day's second run, by someone else
    emulator_admin.clear_requests()
    retried = AEPRunSegmentJobOperator(task_id="t", segment_ids=[seg], wait_for_completion=False)
    retried.execute(make_context(store, try_number=2))  # re-attaches: no check, no create
    assert retried.job_id == task.job_id and posts(emulator_admin) == 0


@pytest.mark.parametrize("relaxed", [{"aep_rules": "warn"}, {"aep_rules": "off"}, {"daily": 3}])
def test_the_check_relaxes_through_the_connection(emulator, emulator_admin, client, relaxed, caplog) -> None:
    seg = definition(client)
    client.create_segment_job([seg])
    client.create_segment_job([seg])
    daily = relaxed.pop("daily", None)
    config = make_config(emulator, **relaxed)
    if daily is not None:
        config = replace(config, on_demand=rules.OnDemandAllowance(daily=daily))
    assert SegmentationClient(config).create_segment_job([seg]).id
    assert posts(emulator_admin) == 3
    assert ("on-demand.daily-runs" in caplog.text) == (relaxed.get("aep_rules") == "warn")


def test_run_all_warns_with_the_fix_and_costs_no_request(client, emulator_admin, caplog) -> None:
    emulator_admin.clear_requests()
    warned = client.check_on_demand(["*"])  # what the create path runs first
    assert [f.rule_id for f in warned] == ["on-demand.run-all"]
    assert "on-demand.run-all" in caplog.text and "list the segment definition ids" in caplog.text
    assert emulator_admin.requests() == []  # a run-all job is no on-demand run: no quota to read


def test_the_emulator_refuses_what_the_client_would_when_the_client_is_relaxed(
    emulator, emulator_admin
) -> None:
    """End to end with the emulator's rules on: the client (enforcing) refuses the third run before
    the wire; a relaxed client sends it and AEP's stand-in refuses it under the same rule."""
    strict = SegmentationClient(make_config(emulator))
    seg = definition(strict)
    strict.create_segment_job([seg])
    strict.create_segment_job([seg])
    with pytest.raises(AEPGuardrailError, match=r"on-demand\.daily-runs"):
        strict.create_segment_job([seg])
    assert posts(emulator_admin) == 2
    with pytest.raises(Exception, match=r"on-demand\.daily-runs"):
        SegmentationClient(make_config(emulator, aep_rules="off")).create_segment_job([seg])


@pytest.mark.parametrize(
    ("extras", "field"),
    [
        ({"aep_rules": "strict"}, "aep_rules"),
        ({"on_demand_daily_runs": "two"}, "on_demand_daily_runs"),
        ({"on_demand_yearly_runs": "-1"}, "on_demand_yearly_runs"),
        ({"sandbox_type": "staging"}, "sandbox_type"),
        ({"contract_start": "13-01"}, "contract_start"),
        ({"contract_start": "02-30"}, "contract_start"),
    ],
)
def test_a_bad_extra_is_a_typed_error_naming_it(extras, field) -> None:
    with pytest.raises(AEPConfigurationError) as caught:
        rules_settings(extras.get)
    assert caught.value.field == field and field in str(caught.value)


def test_the_connection_extras_reach_the_client_config(emulator) -> None:
    class Conn:
        login, password, schema = "id", "secret", "prod"
        extra = (
            '{"ims_org_id": "O@AdobeOrg", "aep_rules": "warn", "on_demand_daily_runs": "4", '
            '"on_demand_yearly_runs": "120", "sandbox_type": "development", "contract_start": "03-15"}'
        )

    config = config_from_connection(Conn())
    assert config.aep_rules == "warn"
    assert config.on_demand == rules.OnDemandAllowance("development", 4, 120, 3, 15)
    assert config_from_connection(
        type("C", (Conn,), {"extra": '{"ims_org_id": "O@AdobeOrg"}'})()
    ).on_demand == (rules.OnDemandAllowance())


# -- generated: run histories against the allowance ---------------------------------------------------

_GAPS = st.lists(st.integers(min_value=0, max_value=30 * 3600), min_size=1, max_size=8)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(gaps=_GAPS, daily=st.integers(0, 3), yearly=st.integers(0, 6))
def test_a_create_is_refused_iff_the_rules_say_the_history_used_the_allowance(
    emulator, gaps, daily, yearly
) -> None:
    """Generated histories of on-demand runs in the last days: the client refuses a new run (before the
    wire) exactly when ``rules.check_quota`` on AEP's own listing says the allowance is used."""
    from airflow_provider_segmentation.client.auth import PROCESS_TOKEN_CACHE
    from tests.conftest import TEST_SETTINGS, EmulatorAdmin

    admin = EmulatorAdmin(emulator.url)
    admin.reset()
    PROCESS_TOKEN_CACHE.clear()  # the reset forgot the tokens this process holds
    admin.configure(**TEST_SETTINGS, rules=RULES_OFF)
    admin.advance_clock(0, frozen=True)
    client = SegmentationClient(make_config(emulator, aep_rules="off"), sleep=lambda _s: None)
    seg = definition(client)
    *runs, last = gaps  # the history: a run after each gap (seconds), then the last gap before the check
    for gap in runs:
        admin.advance_clock(gap)
        client.create_segment_job([seg])
    admin.advance_clock(last)
    allowance = rules.OnDemandAllowance(daily=daily, yearly=yearly)
    listed = [SegmentJob.model_validate(j.model_dump(by_alias=True)) for j in client.list_segment_jobs()]
    now = datetime.fromtimestamp(admin._call("GET", "/clock")["now"], tz=timezone.utc)
    expected = rules.check_quota(rules.on_demand_usage(listed, now, allowance), allowance)
    before = len(admin.requests("POST", JOBS))
    checking = SegmentationClient(make_config(emulator, on_demand=allowance), sleep=lambda _s: None)
    if expected is None:
        checking.create_segment_job([seg])
        assert len(admin.requests("POST", JOBS)) == before + 1
    else:
        with pytest.raises(AEPGuardrailError) as caught:
            checking.create_segment_job([seg])
        assert caught.value.findings[0].rule_id == expected.rule_id
        assert len(admin.requests("POST", JOBS)) == before
