"""Sandbox guardrails (soft warn, hard refuse), the once-a-day schedule rule and the catalogue."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.cron import QuartzCron, QuartzCronError
from airflow_provider_segmentation.models import Audience, SegmentDefinition
from airflow_provider_segmentation.rules import (
    RULES,
    SOURCES,
    SandboxCounts,
    check_sandbox,
    check_schedule_frequency,
    sandbox_counts,
    schedule_fires_more_than_once_a_day,
)
from airflow_provider_segmentation.rules.catalogue import Rule

LIMITS = {  # rule id -> (SandboxCounts field, limit, severity)
    "sandbox.batch": ("batch", 4000, "warning"),
    "sandbox.edge": ("edge", 150, "warning"),
    "sandbox.compositions": ("compositions", 10, "warning"),
    "sandbox.account-audiences": ("account", 50, "error"),
}


@settings(max_examples=150, deadline=None)
@given(
    batch=st.integers(0, 10_005),
    streaming=st.integers(0, 505),
    edge=st.integers(0, 155),
    account=st.integers(0, 55),
    compositions=st.integers(0, 12),
    fbs=st.booleans(),
)
def test_generated_counts_around_every_limit(batch, streaming, edge, account, compositions, fbs) -> None:
    counts = SandboxCounts(batch, streaming, edge, account, compositions)
    found = {f.rule_id: f for f in check_sandbox(counts, flexible_batch_schedules=fbs)}
    expected = {
        "sandbox.audiences": batch + streaming + edge > 4000,
        "sandbox.batch": batch > (10_000 if fbs else 4000),
        "sandbox.streaming": streaming + edge > 500,
        "sandbox.edge": edge > 150,
        "sandbox.compositions": compositions > 10,
        "sandbox.account-audiences": account > 50,
    }
    assert set(found) == {rule_id for rule_id, past in expected.items() if past}
    for rule_id, finding in found.items():
        assert finding.severity == ("error" if rule_id == "sandbox.account-audiences" else "warning")


@pytest.mark.parametrize("rule_id", sorted(LIMITS))
def test_each_limit_is_allowed_and_one_more_is_past_it(rule_id: str) -> None:
    field, limit, severity = LIMITS[rule_id]
    assert rule_id not in [f.rule_id for f in check_sandbox(SandboxCounts(**{field: limit}))]
    [found] = [f for f in check_sandbox(SandboxCounts(**{field: limit + 1})) if f.rule_id == rule_id]
    assert found.severity == severity and f"{limit + 1:,}" in found.message and f"{limit:,}" in found.message


def test_counts_come_from_definitions_and_audiences_by_kind_and_lifecycle() -> None:
    items = [
        SegmentDefinition(id="b", name="b"),
        SegmentDefinition(id="s", name="s", evaluationInfo={"continuous": {"enabled": True}}),
        SegmentDefinition(id="e", name="e", evaluationInfo={"synchronous": {"enabled": True}}),
        Audience(id="a", name="a", schema={"name": "_xdm.context.account"}, lifecycleState="draft"),
        Audience(id="c", name="c", originName="AUDIENCE_ORCHESTRATION", lifecycleState="published"),
        Audience(id="c2", name="c2", originName="AUDIENCE_ORCHESTRATION", lifecycleState="draft"),
        Audience(id="gone", name="g", lifecycleState="inactive"),
        Audience(id="up", name="u", originName="CUSTOM_UPLOAD"),
    ]
    counts = sandbox_counts(items)
    assert counts == SandboxCounts(batch=2, streaming=1, edge=1, account=1, compositions=1)
    assert (counts.total, counts.streaming_including_edge) == (4, 2)


@pytest.mark.parametrize(
    ("cron", "more_than_once"),
    [
        ("0 0 1 * * ?", False),
        ("0 30 23 ? * MON-FRI", False),
        ("0 0 1 1 * ? 2099", False),
        ("0 0 1,13 * * ?", True),
        ("0 0/30 1 * * ?", True),
        ("* 0 1 * * ?", True),
        ("0 0 * * * ?", True),
    ],
)
def test_schedules_run_at_most_once_a_day(cron: str, more_than_once: bool) -> None:
    assert schedule_fires_more_than_once_a_day(cron) is more_than_once
    found = check_schedule_frequency(cron)
    assert (found is not None) is more_than_once
    if found:
        assert cron in found.message and found.rule_id == "schedule.once-a-day"


def test_a_bad_cron_raises_the_cron_error() -> None:
    with pytest.raises(QuartzCronError):
        schedule_fires_more_than_once_a_day("0 0 1 * *")


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True),
    minutes=st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True),
    hours=st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True),
)
def test_generated_crons_fire_twice_within_24_hours_exactly_when_flagged(seconds, minutes, hours) -> None:
    from datetime import datetime, timedelta, timezone

    cron = f"{','.join(map(str, seconds))} {','.join(map(str, minutes))} {','.join(map(str, hours))} * * ?"
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    fires = list(QuartzCron.parse(cron).fire_times(start, start + timedelta(days=3)))
    twice = any(later - earlier < timedelta(hours=24) for earlier, later in itertools.pairwise(fires))
    assert schedule_fires_more_than_once_a_day(cron) is twice


def test_the_catalogue_names_a_source_url_a_limit_and_a_fix_for_every_rule() -> None:
    for rule_id, rule in RULES.items():
        assert isinstance(rule, Rule) and rule.id == rule_id
        assert rule.source in SOURCES and rule.url.startswith("https://experienceleague.adobe.com/")
        assert rule.what and rule.limit and rule.fix
        assert rule.severity in ("error", "warning") and rule.aep in (
            "hard",
            "soft",
            "silent",
            "undocumented",
        )
