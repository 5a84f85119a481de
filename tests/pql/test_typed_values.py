"""PQL values keep their types: ``true`` is not ``1`` (numbers compare as numbers, booleans only equal
booleans, strings only strings) in every comparison, ``in`` list, set lookup and collection function, and
in the emulator's counts; ``occurs`` windows are exact and those that run past the calendar's range
evaluate as the same window in days does."""

from __future__ import annotations

import operator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.pql.ast import PQLOutOfRangeError, literal

UTC = timezone.utc
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.0, 1.0, -1.0, 1.5]),
    st.sampled_from(["1", "0", "1.0", "true", "false", "a", ""]),
)
ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


def same(first: Any, second: Any) -> bool:
    """The reference: typed equality."""
    return kind(first) == kind(second) and first == second


def text(value: Any) -> str:
    return pql.to_text(literal(value))


def items(values: list[Any]) -> str:
    return "[" + ", ".join(text(v) for v in values) + "]"


EQUALITY_FORMS = {
    "=": (lambda ls: f"a = {text(ls[0])}", lambda a, ls: same(a, ls[0])),
    "!=": (lambda ls: f"a != {text(ls[0])}", lambda a, ls: not same(a, ls[0])),
    "in": (lambda ls: f"a in {items(ls)}", lambda a, ls: any(same(a, v) for v in ls)),
    "notIn": (lambda ls: f"a notIn {items(ls)}", lambda a, ls: not any(same(a, v) for v in ls)),
    "or run (one set lookup)": (
        lambda ls: " or ".join(f"a = {text(v)}" for v in ls),
        lambda a, ls: any(same(a, v) for v in ls),
    ),
    "and run (one set lookup)": (
        lambda ls: " and ".join(f"a != {text(v)}" for v in ls),
        lambda a, ls: not any(same(a, v) for v in ls),
    ),
    "mixed or": (
        lambda ls: f"a = {text(ls[0])} or b = 0 or a in {items(ls[1:])}",
        lambda a, ls: any(same(a, v) for v in ls),
    ),
    "array equality": (lambda ls: f"xs = {items(ls)}", lambda a, ls: len(ls) == 1 and same(a, ls[0])),
    "includes": (lambda ls: f"xs.includes({text(ls[0])})", lambda a, ls: same(a, ls[0])),
    "intersects": (lambda ls: f"xs.intersects({items(ls)})", lambda a, ls: any(same(a, v) for v in ls)),
    "subsetOf": (lambda ls: f"xs.subsetOf({items(ls)})", lambda a, ls: any(same(a, v) for v in ls)),
    "supersetOf": (lambda ls: f"xs.supersetOf({items(ls[:1])})", lambda a, ls: same(a, ls[0])),
    "intersection": (
        lambda ls: f"xs.intersection({items(ls)}).count() = 1",
        lambda a, ls: any(same(a, v) for v in ls),
    ),
}


@settings(max_examples=400, deadline=None)
@given(
    field=SCALARS,
    literals=st.lists(SCALARS, min_size=2, max_size=4),
    form=st.sampled_from(list(EQUALITY_FORMS)),
)
def test_equality_and_membership_keep_types(field: Any, literals: list[Any], form: str) -> None:
    build, reference = EQUALITY_FORMS[form]
    expression = build(literals)
    got = pql.evaluate(expression, {"a": field, "xs": [field]}, now=NOW)
    assert got == reference(field, literals), (expression, field)


@settings(max_examples=200, deadline=None)
@given(field=SCALARS, other=SCALARS, op=st.sampled_from(list(ORDERINGS)))
def test_orderings_compare_only_values_of_one_kind(field: Any, other: Any, op: str) -> None:
    expected = kind(field) == kind(other) and ORDERINGS[op](field, other)
    assert pql.evaluate(f"a {op} {text(other)}", {"a": field}, now=NOW) == expected


@settings(max_examples=100, deadline=None)
@given(values=st.lists(SCALARS, max_size=6))
def test_distinct_counts_values_of_each_kind_apart(values: list[Any]) -> None:
    typed = {(kind(v), v) for v in values}
    assert pql.compile("xs.distinct().count()")(pql.Context({"xs": values}, NOW)) == len(typed)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(SCALARS, min_size=1, max_size=4))
def test_literals_keep_their_type_through_text_and_json(values: list[Any]) -> None:
    """``[true, 1, 1.0]`` parses, prints and converts as three literals of three types, and a tree with
    ``true`` is not the tree with ``1`` (no cache or diff may take one for the other)."""
    tree = pql.parse(f"a in {items(values)} or a = {text(values[0])}")
    written = tree.params[0].params[1].value
    assert [(type(v), v) for v in written] == [(type(v), v) for v in values]
    assert pql.parse(pql.to_text(tree)) == tree
    assert pql.from_json(pql.to_json(tree)) == tree
    as_numbers = [int(v) if isinstance(v, bool) else v for v in values]
    if any(isinstance(v, bool) for v in values):
        assert pql.parse(f"a in {items(as_numbers)}") != pql.parse(f"a in {items(values)}")


CALENDAR_DAYS_PER_UNIT_AT_MOST = {
    "month": 31,
    "year": 366,
    "decade": 3653,
    "century": 36525,
    "millennium": 365250,
}
CALENDAR_MONTHS = {"month": 1, "year": 12, "decade": 120, "century": 1200, "millennium": 12000}
FIXED_MICROSECONDS = {
    "millisecond": 1000,
    "second": 10**6,
    "minute": 60 * 10**6,
    "hour": 3600 * 10**6,
    "day": 86400 * 10**6,
    "week": 7 * 86400 * 10**6,
}
COMPARATORS = {"=": operator.eq, "!=": operator.ne, **ORDERINGS}
AMOUNTS = st.one_of(
    st.integers(0, 30),
    st.integers(0, 20_000),
    st.integers(0, 10**7),
    st.integers(0, 10**30),
    st.sampled_from([10**400, 9998, 9999, 10_000, 119_988, 119_999, 3_652_059]),
)
HUGE_AMOUNTS = st.one_of(AMOUNTS, st.sampled_from([10**309, 10**400]))
MOMENTS = st.datetimes(timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(
    unit=st.sampled_from(list(CALENDAR_MONTHS)),
    amount=AMOUNTS,
    comparator=st.sampled_from(list(COMPARATORS)),
    direction=st.sampled_from(["before", "after", "from"]),
    subject=MOMENTS,
    now=MOMENTS,
)
def test_calendar_windows_equal_the_same_window_in_days(
    unit: str, amount: int, comparator: str, direction: str, subject: datetime, now: datetime
) -> None:
    """``occurs <= N years before now`` selects what the same span in days selects, even past year 1 or
    9999 (then the window holds every time a profile can carry)."""
    sign = -1 if direction == "before" else 1
    try:
        days = abs((now + relativedelta(months=sign * amount * CALENDAR_MONTHS[unit]) - now).days)
    except (ValueError, OverflowError):
        days = amount * CALENDAR_DAYS_PER_UNIT_AT_MOST[unit]  # past the calendar: longer than any span
    profile = {"t": subject}
    calendar_form = pql.evaluate(f"t occurs {comparator} {amount} {unit}s {direction} now", profile, now=now)
    days_form = pql.evaluate(f"t occurs {comparator} {days} days {direction} now", profile, now=now)
    assert calendar_form == days_form


@settings(max_examples=300, deadline=None)
@given(
    unit=st.sampled_from(list(FIXED_MICROSECONDS)),
    amount=HUGE_AMOUNTS,
    comparator=st.sampled_from(list(COMPARATORS)),
    direction=st.sampled_from(["before", "after"]),
    subject=MOMENTS,
    now=MOMENTS,
)
def test_fixed_windows_are_exact_at_any_size(
    unit: str, amount: int, comparator: str, direction: str, subject: datetime, now: datetime
) -> None:
    """``occurs = N seconds before now`` compares whole microseconds, whatever N (no float rounding,
    no overflow to a silent false)."""
    elapsed = (now - subject) if direction == "before" else (subject - now)
    micros = elapsed // timedelta(microseconds=1)
    expected = micros >= 0 and COMPARATORS[comparator](micros, amount * FIXED_MICROSECONDS[unit])
    text_ = f"t occurs {comparator} {amount} {unit}s {direction} now"
    assert pql.evaluate(text_, {"t": subject}, now=now) == expected


def test_fixed_window_exact_at_the_microsecond() -> None:
    """Eleven digits of seconds and six of microseconds: more than a float holds."""
    now = datetime(9999, 1, 1, tzinfo=UTC)
    subject = datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    seconds = -((now - subject) // -timedelta(seconds=1))  # rounded up: one microsecond short of it
    assert not pql.evaluate(f"t occurs >= {seconds} seconds before now", {"t": subject}, now=now)
    assert pql.evaluate(f"t occurs < {seconds} seconds before now", {"t": subject}, now=now)


PERIOD_YEARS = {"millennium": 1000, "century": 100, "decade": 10, "year": 1}
NEAR_THE_ENDS = st.one_of(
    st.datetimes(max_value=datetime(1100, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(8900, 1, 1), timezones=st.just(UTC)),
)


@settings(max_examples=200, deadline=None)
@given(
    which=st.sampled_from(["last", "this", "next"]),
    unit=st.sampled_from(list(PERIOD_YEARS)),
    form=st.sampled_from(["before", "after", "on"]),
    subject=MOMENTS,
    now=NEAR_THE_ENDS,
)
def test_periods_past_the_calendar_evaluate(
    which: str, unit: str, form: str, subject: datetime, now: datetime
) -> None:
    """``occurs before next millennium`` in 9500 holds for every time (the period starts after any),
    ``occurs after last millennium`` in 500 too: never a silent false."""
    span = PERIOD_YEARS[unit]
    first = now.year - now.year % span + {"last": -1, "this": 0, "next": 1}[which] * span
    expected = {
        "before": subject.year < first,
        "after": subject.year >= first + span,
        "on": first <= subject.year < first + span,
    }[form]
    assert pql.evaluate(f"t occurs {form} {which} {unit}", {"t": subject}, now=now) == expected


@settings(max_examples=200, deadline=None)
@given(
    word=st.sampled_from(["yesterday", "today", "tomorrow"]),
    form=st.sampled_from(["before", "after", "on", "<= 1 day before", ">= 2 days after"]),
    subject=st.one_of(NEAR_THE_ENDS, MOMENTS),
    now=st.one_of(
        NEAR_THE_ENDS, st.sampled_from([datetime.min, datetime.max]).map(lambda d: d.replace(tzinfo=UTC))
    ),
)
def test_days_past_the_calendar_are_a_typed_error(
    word: str, form: str, subject: datetime, now: datetime
) -> None:
    """``tomorrow`` on 9999-12-31 is no time a profile can hold: a typed ``PQLOutOfRangeError`` names it,
    never an ``OverflowError``; a day at the end of the calendar still holds its times."""
    expression = f"t occurs {form} {word}"
    try:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            days={"yesterday": -1, "today": 0, "tomorrow": 1}[word]
        )
    except OverflowError:
        with pytest.raises(PQLOutOfRangeError, match=word):
            pql.evaluate(expression, {"t": subject}, now=now)
        return
    since = (day - subject) // timedelta(microseconds=1)
    expected = {
        "before": subject < day,
        "after": (subject - day) >= timedelta(days=1),
        "on": timedelta(0) <= subject - day < timedelta(days=1),
        "<= 1 day before": 0 <= since <= 86400 * 10**6,
        ">= 2 days after": -since >= 2 * 86400 * 10**6,
    }[form]
    assert pql.evaluate(expression, {"t": subject}, now=now) == expected


# Over the wire: the emulator's store holds whole-number quantities (1 to 3) and boolean "primary" flags.
PRODUCTS = "exists X from xEvent where exists P from X.productListItems where "
EMAILS = "exists I from identityMap.Email where "
TYPED_PAIRS = [  # (values of another type: selects no one, values of the field's type: selects some)
    (PRODUCTS + "P.quantity = true", PRODUCTS + "P.quantity = 1"),
    (PRODUCTS + "P.quantity in [true, false]", PRODUCTS + "P.quantity in [1, 2]"),
    (PRODUCTS + "(P.quantity = true or P.quantity = false)", PRODUCTS + "(P.quantity = 1 or P.quantity = 2)"),
    (EMAILS + "I.primary = 1", EMAILS + "I.primary = true"),
    (EMAILS + "(I.primary = 1.0 or I.primary = 0)", EMAILS + "(I.primary = true or I.primary = false)"),
]


@pytest.mark.parametrize(("other_type", "field_type"), TYPED_PAIRS)
def test_emulator_counts_keep_types(aep_conn, other_type: str, field_type: str) -> None:
    hook = SegmentationHook()
    sizes = []
    for definition in (other_type, field_type):
        preview = hook.client.create_preview(definition)
        sizes.append(
            hook.wait_for_estimate(preview.preview_id, poll_interval=0.02, timeout=30).estimated_size
        )
    assert sizes[0] == 0 < sizes[1]
