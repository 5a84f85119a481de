"""Calendar and time maths of PQL: ``date(...)``, points in time, relative periods and ``occurs``.

Dates and times are ``datetime``s with a time zone, ``date``s (midnight UTC) or ISO 8601 strings as XDM
writes them (``"1990-05-17"``, ``"2026-11-24T12:00:00Z"``; without an offset, UTC); a ``datetime``
without a time zone is no time. Durations in ``occurs`` count months, years, decades, centuries and
millennia on the calendar (``CALENDAR_MONTHS``), the other units as fixed lengths.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_segmentation.pql.ast import COMPARATORS

UNIT_SECONDS = {
    "millisecond": 0.001,
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 604800,
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


def shift_months(when: datetime, months: int) -> datetime:
    """``when`` ``months`` calendar months later (earlier when negative), the day kept or clamped to
    the end of the month; ``ValueError`` past the years a ``datetime`` can hold."""
    year, month = divmod(when.year * 12 + when.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is out of range")
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def period(which: str, unit: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of this/last/next millisecond... hour, day, week (Monday first), month, year, decade
    (2020-2029), century (2000-2099) or millennium (2000-2999)."""
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
        return start + shift * step, start + (shift + 1) * step
    today = start_of_day(now)
    if unit == "day":
        start, step = today, timedelta(days=1)
        return start + shift * step, start + (shift + 1) * step
    if unit == "week":
        start = today - timedelta(days=today.weekday())
        return start + timedelta(weeks=shift), start + timedelta(weeks=shift + 1)
    if unit == "month":
        start = shift_months(today.replace(day=1), shift)
        return start, shift_months(start, 1)
    span = PERIOD_YEARS[unit]  # checks.call_problem refused anything else
    first = today.year - today.year % span + shift * span
    return today.replace(year=first, month=1, day=1), today.replace(year=first + span, month=1, day=1)


def occurs(fn: str, subject_value: Any, args: Sequence[Any]) -> bool:
    """One of the ``occurs`` forms (``ast.OCCURS_FORMS``) for a subject and its evaluated arguments;
    ``ValueError`` for a duration past the years a ``datetime`` can hold."""
    subject = moment(subject_value)
    if subject is None:
        return False
    if fn == "occurs":
        comparator, amount, unit, direction, anchor_value = args
        anchor = moment(anchor_value)
        if anchor is None:
            return False
        before = direction == "before"
        seconds = ((anchor - subject) if before else (subject - anchor)).total_seconds()
        if unit in CALENDAR_MONTHS:
            shifted = shift_months(anchor, (-1 if before else 1) * amount * CALENDAR_MONTHS[unit])
            span = abs((shifted - anchor).total_seconds())
        else:
            span = amount * UNIT_SECONDS[unit]
        return seconds >= 0 and COMPARATORS[comparator](seconds, span)
    if fn == "occursBetween":
        start, end = moment(args[0]), moment(args[1])
        return start is not None and end is not None and start <= subject <= end
    anchor = args[0]
    if isinstance(anchor, tuple):  # a relative period
        start, end = anchor
    else:
        day = moment(anchor)
        if day is None:
            return False
        start, end = start_of_day(day), start_of_day(day) + timedelta(days=1)
    if fn == "occursBefore":
        return bool(subject < start)
    if fn == "occursAfter":
        return bool(subject >= end)
    return bool(start <= subject < end)
