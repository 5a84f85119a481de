"""Calendar and time maths of PQL: ``date(...)``, points in time, relative periods and ``occurs``.

Dates and times are ``datetime``s with a time zone, ``date``s (midnight UTC) or ISO 8601 strings as XDM
writes them (``"1990-05-17"``, ``"2026-11-24T12:00:00Z"``; without an offset, UTC); a ``datetime``
without a time zone is no time. Durations in ``occurs`` count months, years, decades, centuries and
millennia on the calendar (``CALENDAR_MONTHS``), the other units as fixed lengths; they are compared in
whole microseconds, exactly, however long. A window or a period that reaches past the years a
``datetime`` holds (1 to 9999) reaches past every time a profile can carry, as an infinite bound; only a
point in time past them (``tomorrow`` on 9999-12-31) is a ``PQLOutOfRangeError``.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_segmentation.pql.ast import COMPARATORS, PQLOutOfRangeError

MICROSECOND = timedelta(microseconds=1)
UNIT_MICROSECONDS = {
    "millisecond": 1000,
    "second": 10**6,
    "minute": 60 * 10**6,
    "hour": 3600 * 10**6,
    "day": 86400 * 10**6,
    "week": 604800 * 10**6,
}
CALENDAR_MONTHS = {"month": 1, "year": 12, "decade": 120, "century": 1200, "millennium": 12000}
"""Units counted on the calendar: ``occurs <= 1 month before now`` reaches back to the same day of the
previous month (the 30th of January from the 2nd of March, the 28th of February from the 31st of
March), ``1 year`` to the same day of the previous year, whatever their number of days."""
PERIOD_YEARS = {"year": 1, "decade": 10, "century": 100, "millennium": 1000}
SHORT_PERIODS = {
    "millisecond": timedelta(milliseconds=1),
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
}
DAY_OFFSETS = {"yesterday": -1, "today": 0, "tomorrow": 1}


def date_of(parts: Sequence[object]) -> datetime:
    """``date(year[, month[, day]])`` at midnight UTC; ``ValueError`` saying why when it is no date."""
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
        raise ValueError("date() takes whole numbers: year, month, day")
    try:
        return datetime(*parts, *[1] * (3 - len(parts))).replace(tzinfo=timezone.utc)  # type: ignore[arg-type]
    except (ValueError, OverflowError, TypeError) as exc:
        raise ValueError(f"date({', '.join(map(str, parts))}) is not a date: {exc}") from None


def moment(value: Any) -> datetime | None:
    """``value`` as a point in time: an aware ``datetime``, a ``date`` (midnight UTC) or an ISO 8601
    string (UTC when it has no offset); None for anything else, a naive ``datetime`` included."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, str) and 10 <= len(value) <= 40:
        text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    return None


def start_of_day(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def day_start(word: str, now: datetime) -> datetime:
    """Midnight of ``yesterday``, ``today`` or ``tomorrow`` (``DAY_OFFSETS``)."""
    try:
        return start_of_day(now) + timedelta(days=DAY_OFFSETS[word])
    except OverflowError:
        raise PQLOutOfRangeError(
            f"{word} is past the last day PQL can compute (9999-12-31) or before the first (0001-01-01)"
        ) from None


Bound = datetime | float
"""One end of a period: a time, or ``-math.inf``/``math.inf`` past the first or last time there is."""


def _later(when: datetime, delta: timedelta) -> Bound:
    """``when + delta``, or the infinite bound on that side when it is past the range."""
    try:
        return when + delta
    except OverflowError:
        return -math.inf if delta < timedelta(0) else math.inf


def _month_start(today: datetime, months: int) -> Bound:
    """The first of the month ``months`` months after January of year 0, in ``today``'s time zone."""
    year, month = divmod(months, 12)
    if year < 1:
        return -math.inf
    return math.inf if year > 9999 else today.replace(year=year, month=month + 1, day=1)


def _position(bound: Bound) -> float:
    """Where a bound lies, in microseconds since 0001-01-01 UTC (exact: a Python int for a time)."""
    if isinstance(bound, float):
        return bound
    return (bound - datetime.min.replace(tzinfo=timezone.utc)) // MICROSECOND


def shift_months(when: datetime, months: int) -> datetime:
    """``when`` ``months`` calendar months later (earlier when negative), the day kept or clamped to
    the end of the month; ``ValueError`` past the years a ``datetime`` can hold."""
    year, month = divmod(when.year * 12 + when.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is out of range")
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def period(which: str, unit: str, now: datetime) -> tuple[Bound, Bound]:
    """[start, end) of this/last/next millisecond... hour, day, week (Monday first), month, year, decade
    (2020-2029), century (2000-2099) or millennium (2000-2999); an end past the range is infinite."""
    shift = {"last": -1, "this": 0, "next": 1}[which]
    if unit in SHORT_PERIODS:
        step = SHORT_PERIODS[unit]
        start = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if unit != "millisecond":
            start = start.replace(microsecond=0)
        if unit in ("minute", "hour"):
            start = start.replace(second=0)
        if unit == "hour":
            start = start.replace(minute=0)
        return _later(start, shift * step), _later(start, (shift + 1) * step)
    today = start_of_day(now)
    if unit in ("day", "week"):
        step = timedelta(days=7 if unit == "week" else 1)
        start = today - timedelta(days=today.weekday()) if unit == "week" else today
        return _later(start, shift * step), _later(start, (shift + 1) * step)
    if unit == "month":
        first = today.year * 12 + today.month - 1 + shift
        return _month_start(today, first), _month_start(today, first + 1)
    span = PERIOD_YEARS[unit]  # checks.call_problem refused anything else
    first = today.year - today.year % span + shift * span
    return _month_start(today, first * 12), _month_start(today, (first + span) * 12)


def _months_span(anchor: datetime, months: int) -> float:
    """Microseconds from ``anchor`` to ``months`` calendar months later (earlier when negative); infinite
    past the years a ``datetime`` holds, as no time a profile carries is that far."""
    try:
        return (shift_months(anchor, months) - anchor) // MICROSECOND
    except (ValueError, OverflowError):
        return -math.inf if months < 0 else math.inf


def occurs(fn: str, subject_value: Any, args: Sequence[Any]) -> bool:
    """One of the ``occurs`` forms (``ast.OCCURS_FORMS``) for a subject and its evaluated arguments."""
    subject = moment(subject_value)
    if subject is None:
        return False
    if fn == "occurs":
        comparator, amount, unit, direction, anchor_value = args
        anchor = moment(anchor_value)
        if anchor is None:
            return False
        sign = -1 if direction == "before" else 1  # "after" and "from" count forward
        elapsed = sign * ((subject - anchor) // MICROSECOND)
        if unit in CALENDAR_MONTHS:
            span = sign * _months_span(anchor, sign * amount * CALENDAR_MONTHS[unit])
        else:
            span = amount * UNIT_MICROSECONDS[unit]
        return elapsed >= 0 and COMPARATORS[comparator](elapsed, span)
    if fn == "occursBetween":
        first, last = moment(args[0]), moment(args[1])
        return first is not None and last is not None and first <= subject <= last
    anchor = args[0]
    start: Bound
    end: Bound
    if isinstance(anchor, tuple):  # a relative period
        start, end = anchor
    else:
        day = moment(anchor)
        if day is None:
            return False
        start = start_of_day(day)
        end = _later(start, timedelta(days=1))
    at = _position(subject)
    if fn == "occursBefore":
        return at < _position(start)
    if fn == "occursAfter":
        return at >= _position(end)
    return _position(start) <= at < _position(end)
