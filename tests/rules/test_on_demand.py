"""On-demand (flexible) evaluation rules: ids per job, the daily and yearly allowance, who counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.models import Audience, SegmentDefinition, SegmentJob
from airflow_provider_segmentation.rules import (
    MAX_ON_DEMAND_IDS,
    OnDemandAllowance,
    check_on_demand_ids,
    check_quota,
    is_on_demand_run,
    on_demand_usage,
)

UTC = timezone.utc


def job(job_id: str, created: datetime, *, source: str | None = "api", ids=("s1",), **extra) -> SegmentJob:
    return SegmentJob(
        id=job_id,
        status="SUCCEEDED",
        source=source,
        segments=[{"segmentId": i} for i in ids],
        creationTime=int(created.timestamp() * 1000),
        **extra,
    )


def rule_ids(findings) -> list[str]:
    return [f.rule_id for f in findings]


# -- ids of one job -------------------------------------------------------------------------------------
def test_twenty_ids_pass_and_twenty_one_are_refused_naming_the_count() -> None:
    assert check_on_demand_ids([f"s{i}" for i in range(20)]) == []
    [found] = check_on_demand_ids([f"s{i}" for i in range(21)])
    assert found.rule_id == "on-demand.max-ids" and found.severity == "error" and found.documented
    assert "21" in found.message and "20" in found.message and "split" in found.fix


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 40).flatmap(
        lambda n: st.lists(st.sampled_from([f"s{i}" for i in range(24)]), min_size=n, max_size=n)
    )
)
def test_generated_id_lists_get_exactly_the_findings_they_earn(ids: list[str]) -> None:
    found = check_on_demand_ids(ids)
    expected = []
    if len(ids) > MAX_ON_DEMAND_IDS:
        expected.append("on-demand.max-ids")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        expected.append("on-demand.duplicate-ids")
    assert rule_ids(found) == expected
    for finding in found:
        if finding.rule_id == "on-demand.duplicate-ids":
            assert all(i in finding.message for i in repeated)


def test_run_all_warns_and_run_all_with_ids_is_refused() -> None:
    [alone] = check_on_demand_ids(["*"])
    assert (alone.rule_id, alone.severity) == ("on-demand.run-all", "warning")
    assert rule_ids(check_on_demand_ids(["*", "s1"])) == ["on-demand.run-all-mixed"]


def test_ids_of_streaming_edge_account_or_composition_audiences_are_named() -> None:
    definitions = [
        SegmentDefinition(id="batch", name="b"),
        SegmentDefinition(id="stream", name="s", evaluationInfo={"continuous": {"enabled": True}}),
        SegmentDefinition(id="edge", name="e", evaluationInfo={"synchronous": {"enabled": True}}),
        SegmentDefinition(id="acct", name="a", schema={"name": "_xdm.context.account"}),
        Audience(id="comp", name="c", originName="AUDIENCE_ORCHESTRATION"),
        Audience(id="upload", name="u", type="ExternalSegment"),
    ]
    found = {
        f.rule_id: f.message
        for f in check_on_demand_ids(
            ["batch", "stream", "edge", "acct", "comp", "upload", "unknown"], definitions
        )
    }
    assert set(found) == {"on-demand.batch-only", "on-demand.people-based", "on-demand.origin"}
    assert (
        "stream (streaming)" in found["on-demand.batch-only"]
        and "edge (edge)" in found["on-demand.batch-only"]
    )
    assert "acct" in found["on-demand.people-based"]
    assert "comp" in found["on-demand.origin"] and "upload" in found["on-demand.origin"]
    assert "batch" not in found["on-demand.origin"] and "unknown" not in str(found)


# -- which jobs are runs ------------------------------------------------------------------------------
def test_only_api_jobs_with_explicit_ids_are_runs() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert is_on_demand_run(job("a", now))
    assert not is_on_demand_run(job("n", now, source="scheduler"))
    assert not is_on_demand_run(job("p", now, properties={"scheduleId": "x"}))
    assert not is_on_demand_run(job("r", now, ids=("*",)))


# -- the allowance ----------------------------------------------------------------------------------------
def test_the_third_run_of_a_utc_day_is_refused_naming_the_runs_and_the_reset() -> None:
    now = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    jobs = [
        job("j1", now - timedelta(hours=20)),
        job("j2", now - timedelta(hours=1)),
        job("old", now - timedelta(days=1)),
    ]
    allowance = OnDemandAllowance()
    usage = on_demand_usage(jobs, now, allowance)
    found = check_quota(usage, allowance)
    assert found is not None and found.rule_id == "on-demand.daily-runs"
    assert "j1" in found.message and "j2" in found.message and "old" not in found.message
    assert "2026-03-02 00:00 UTC" in found.message
    assert check_quota(on_demand_usage(jobs, now + timedelta(minutes=31), allowance), allowance) is None


def test_the_yearly_allowance_depends_on_the_sandbox_type_and_resets_on_the_anniversary() -> None:
    allowance = OnDemandAllowance(sandbox_type="development", contract_start_month=7, contract_start_day=15)
    start = datetime(2025, 7, 15, tzinfo=UTC)
    jobs = [job(f"j{i}", start + timedelta(days=3 * i)) for i in range(100)]
    now = start + timedelta(days=320)
    found = check_quota(on_demand_usage(jobs, now, allowance), allowance)
    assert found is not None and found.rule_id == "on-demand.yearly-runs"
    assert "100 of its 100" in found.message and "2026-07-15 00:00 UTC" in found.message
    production = OnDemandAllowance(contract_start_month=7, contract_start_day=15)
    assert on_demand_usage(jobs, now, production).this_year and production.yearly_limit == 50
    assert check_quota(on_demand_usage(jobs, datetime(2026, 7, 15, tzinfo=UTC), allowance), allowance) is None


def test_bad_allowances_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="contract_start_day"):
        OnDemandAllowance(contract_start_month=2, contract_start_day=30)
    with pytest.raises(ValueError, match="daily"):
        OnDemandAllowance(daily=-1)
    with pytest.raises(ValueError, match="timezone"):
        on_demand_usage([], datetime(2026, 1, 1), OnDemandAllowance())


def test_a_disabled_allowance_never_refuses() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    allowance = OnDemandAllowance(enabled=False)
    assert (
        check_quota(on_demand_usage([job(str(i), now) for i in range(9)], now, allowance), allowance) is None
    )


ZONES = st.sampled_from([timezone(timedelta(hours=h)) for h in (-11, -5, 0, 1, 5, 9, 14)])
INSTANTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31))


@settings(max_examples=80, deadline=None)
@given(
    now=INSTANTS,
    zone=ZONES,
    offsets=st.lists(st.integers(min_value=-800, max_value=30), max_size=12),
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    leap=st.booleans(),
    repeat=st.booleans(),
    exclude=st.booleans(),
)
def test_generated_listings_count_each_run_once_in_its_utc_day_and_contract_year(
    now, zone, offsets, month, day, leap, repeat, exclude
) -> None:
    """Jobs spread across UTC midnights and contract anniversaries, with ``now`` in any timezone, a job
    listed twice, scheduled and run-all jobs, and the re-attached job left out: each counts once, in
    the UTC day and the contract year that hold it."""
    now_utc = now.replace(tzinfo=UTC)
    allowance = OnDemandAllowance(
        contract_start_month=2 if leap else month, contract_start_day=29 if leap else day
    )
    runs = [job(f"j{i}", now_utc + timedelta(hours=hours)) for i, hours in enumerate(offsets)]
    listing = [
        *runs,
        *(runs[:1] if repeat else []),
        job("night", now_utc, source="scheduler"),
        job("all", now_utc, ids=("*",)),
    ]
    excluded = runs[0].id if exclude and runs else None
    usage = on_demand_usage(listing, now_utc.astimezone(zone), allowance, exclude_job_id=excluded)

    counted = [r for r in runs if r.id != excluded]
    midnight = now_utc.replace(hour=0, minute=0, second=0, microsecond=0)
    assert sorted(r.job_id for r in usage.today) == sorted(r.id for r in counted if r.created_at >= midnight)

    def anniversary(year: int) -> datetime:
        day = allowance.contract_start_day
        return datetime(year, allowance.contract_start_month, 28 if leap and year % 4 else day, tzinfo=UTC)

    year_start = (
        anniversary(now_utc.year) if anniversary(now_utc.year) <= now_utc else anniversary(now_utc.year - 1)
    )
    assert sorted(r.job_id for r in usage.this_year) == sorted(
        r.id for r in counted if r.created_at >= year_start
    )
    assert usage.daily_reset == midnight + timedelta(days=1) and usage.daily_reset.tzinfo == UTC
    assert usage.yearly_reset == anniversary(
        year_start.year + 1
    ) and usage.yearly_reset > now_utc - timedelta(seconds=1)
    found = check_quota(usage, allowance)
    over_year = len(usage.this_year) + 1 > allowance.yearly_limit
    over_day = len(usage.today) + 1 > allowance.daily
    assert (found.rule_id if found else None) == (
        "on-demand.yearly-runs" if over_year else "on-demand.daily-runs" if over_day else None
    )


def test_usage_on_the_calendars_last_day_resets_at_its_end() -> None:
    now = datetime(9999, 12, 31, 12, tzinfo=timezone.utc)
    usage = on_demand_usage([], now, OnDemandAllowance())
    assert usage.daily_reset == usage.yearly_reset == datetime.max.replace(tzinfo=timezone.utc)
