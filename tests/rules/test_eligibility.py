"""Streaming/edge/batch eligibility from the PQL (the 2025-05-20 rules and the legacy table)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.pql import PQLError, parse
from airflow_provider_segmentation.rules import (
    declared_method_problem,
    evaluation_method,
    resolved_method,
    uses_legacy_rules,
)


def chain(*whens: str, what: str = 'eventType.equals("commerce.checkouts", false)') -> str:
    steps = ", ".join(f"C{i}: WHAT({what}) {f'WHEN({w})' if w else ''}" for i, w in enumerate(whens))
    return f"CHAIN(xEvent, timestamp, [{steps}])"


PROFILE = 'homeAddress.country.equals("Canada", false)'


@pytest.mark.parametrize(
    "expression",
    [
        PROFILE,  # profile only
        chain("today"),  # single event within a day
        f"{PROFILE} and {chain('<= 12 hours before now')}",  # single event with a profile attribute
        'inSegment("a") and inSegment("b")',  # segment of segments
    ],
)
def test_adobes_eligible_examples_are_edge_and_streaming(expression: str) -> None:
    result = evaluation_method(expression, merge_policy_active_on_edge=True)
    assert (result.method, result.streaming, result.edge, result.reasons) == ("edge", True, True, ())


def test_multiple_events_in_one_chain_within_a_day_are_streaming_not_edge() -> None:
    result = evaluation_method(f'workAddress.country.equals("US", false) and {chain("today", "today")}')
    assert (result.method, result.streaming, result.edge) == ("streaming", True, False)
    problem = declared_method_problem("edge", result)
    assert problem is not None and "as streaming" in problem.message and problem.severity == "error"
    assert declared_method_problem("streaming", result) is None


@pytest.mark.parametrize(
    ("expression", "rule_id", "named"),
    [
        (chain("<= 3 days before now"), "eligibility.event-window", "<= 3 days before now"),
        (chain("<= 24 hours before now"), "eligibility.event-window", "<= 24 hours"),
        (chain("yesterday"), "eligibility.event-window", "yesterday"),
        (chain(""), "eligibility.event-no-window", "no time window"),
        ('xEvent[eventType = "a"].count() > 2', "eligibility.event-no-window", "no time window"),
        (f'inSegment("seg1") and {chain("today")}', "eligibility.event-and-insegment", "seg1"),
        ("person.birthDate.getMonth() = currentMonth()", "eligibility.ignore-year", "getMonth"),
        ('segmentMembership.get("AAMTraits").get("1").status = "realized"', "eligibility.aam", "AAMTraits"),
        (f"not({chain('< 2 hours before now')})", "eligibility.negated-event", "negated"),
        (
            "xEvent[timestamp occurs < 2 hours before now].count() > 0 and "
            "xEvent[timestamp occurs < 2 hours before now].count() > 1",
            "eligibility.unordered-events",
            "2 event conditions",
        ),
    ],
)
def test_each_ineligible_construct_is_batch_with_its_reason_and_fix(expression, rule_id, named) -> None:
    result = evaluation_method(expression)
    assert (result.method, result.streaming, result.edge) == ("batch", False, False)
    assert rule_id in [p.rule_id for p in result.problems]
    problem = declared_method_problem("streaming", result)
    assert problem is not None and problem.rule_id == "eligibility.declared-method"
    assert named in problem.message and "as batch" in problem.message and problem.fix
    assert declared_method_problem("batch", result) is None


def test_mixing_a_streaming_event_with_a_batch_one_says_to_split() -> None:
    result = evaluation_method(f"{chain('today')} and {chain('<= 7 days before now')}")
    assert "eligibility.mixed-sources" in [p.rule_id for p in result.problems]
    problem = declared_method_problem("streaming", result)
    assert problem is not None and "inSegment" in problem.fix


def test_single_event_with_a_profile_only_insegment_is_edge_but_never_streaming() -> None:
    expression = f'inSegment("profile-only") and {chain("today")}'
    current = evaluation_method(expression, profile_only_segments={"profile-only"})
    assert (current.method, current.streaming, current.edge) == ("edge", False, True)
    legacy = evaluation_method(expression, profile_only_segments={"profile-only"}, legacy=True)
    assert (legacy.streaming, legacy.edge) == (True, True)


def test_merge_policy_not_active_on_edge() -> None:
    current = evaluation_method(PROFILE, merge_policy_active_on_edge=False)
    assert current.method == "batch" and "eligibility.merge-policy" in [p.rule_id for p in current.problems]
    legacy = evaluation_method(PROFILE, merge_policy_active_on_edge=False, legacy=True)
    assert (legacy.method, resolved_method("edge", legacy)) == ("streaming", "streaming")


def test_legacy_definitions_keep_single_events_of_any_window() -> None:
    for when in ("<= 30 days before now", ""):
        assert evaluation_method(chain(when), legacy=True).method == "edge"
        assert evaluation_method(chain(when)).method == "batch"
    assert evaluation_method(chain("today", "<= 3 days before now"), legacy=True).method == "batch"
    assert evaluation_method("person.birthDate.getMonth() = 6", legacy=True).method == "batch"


def test_legacy_rules_apply_to_definitions_last_modified_before_2025_05_20() -> None:
    from datetime import datetime, timezone

    assert uses_legacy_rules(datetime(2025, 5, 19, 23, 59, tzinfo=timezone.utc))
    assert not uses_legacy_rules(datetime(2025, 5, 20, tzinfo=timezone.utc))
    assert not uses_legacy_rules(None)


def test_a_tree_is_accepted_and_text_that_is_not_pql_raises_the_parsers_error() -> None:
    assert evaluation_method(parse(chain("today"))).method == "edge"
    with pytest.raises(PQLError):
        evaluation_method("CHAIN(")


def test_a_very_long_chain_of_conditions_is_analysed() -> None:
    expression = " and ".join([f'a{i} = "x"' for i in range(20_000)] + [chain("<= 2 days before now")])
    assert evaluation_method(expression).method == "batch"


UNIT_HOURS = {"minute": 1 / 60, "hour": 1, "day": 24, "week": 168}


@settings(max_examples=120, deadline=None)
@given(
    amount=st.one_of(st.sampled_from([1, 23, 24, 25, 1440]), st.integers(min_value=0, max_value=60)),
    unit=st.sampled_from(sorted(UNIT_HOURS)),
    comparator=st.sampled_from(["<", "<=", "=", ">", ">="]),
    style=st.sampled_from(["chain", "filter", "exists"]),
    with_profile=st.booleans(),
)
def test_generated_windows_around_24_hours(amount, unit, comparator, style, with_profile) -> None:
    """A single event is streaming exactly when its lookback is under 24 hours (``< 24 hours`` is, ``<=
    24 hours`` and ``1 day`` are not; ``>`` is unbounded), whatever the way the event is written."""
    when = f"{comparator} {amount} {unit}s before now"
    event = {
        "chain": chain(when),
        "filter": f'xEvent[eventType = "a" and timestamp occurs {when}].count() > 0',
        "exists": f'exists E from xEvent where (E.eventType = "a" and E.timestamp occurs {when})',
    }[style]
    expression = f"{PROFILE} and {event}" if with_profile else event
    hours = amount * UNIT_HOURS[unit]
    eligible = comparator in ("<", "<=", "=") and (hours < 24 or (hours == 24 and comparator == "<"))
    result = evaluation_method(expression)
    assert result.streaming is eligible and result.method == ("edge" if eligible else "batch")
    assert (declared_method_problem("streaming", result) is None) is eligible
    assert evaluation_method(expression, legacy=True).streaming  # a single event: any window, legacy
