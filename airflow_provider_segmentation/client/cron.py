"""Quartz cron validation for schedules, so a malformed expression fails before it reaches AEP.

AEP schedules use Quartz cron: 6 or 7 fields (second, minute, hour, day of month, month, day of week,
optional year) separated by single spaces, in UTC, with ``* ? - , / L W #`` and month/day names. Exactly
one of day-of-month and day-of-week must be ``?``. Every field is parsed to its values (ranges, steps and
lists, Quartz's wrap-around ranges such as ``22-2`` or ``FRI-MON`` included), and an expression that can
never fire from now on (31 February, a year in the past) is refused as well.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_segmentation.client.errors import AEPValidationError

_EXAMPLE = "'0 0 1 * * ?' (every day at 01:00 UTC)"
_NUMBER = re.compile(r"[0-9]{1,4}")
_YEARS_TO_SEARCH = 29  # weekdays and leap days repeat within 28 years


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    max_step: int
    names: tuple[str, ...] = ()  # names for low, low + 1, ...

    @property
    def hint(self) -> str:
        named = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.name} values are {self.low}-{self.high}{named}"


_SECOND = _Field("second", 0, 59, 59)
_MINUTE = _Field("minute", 0, 59, 59)
_HOUR = _Field("hour", 0, 23, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, 31)
_MONTH = _Field(
    "month", 1, 12, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
_YEAR = _Field("year", 1970, 2199, 229)
_FIELDS = (_SECOND, _MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK, _YEAR)

DayRule = Callable[[int, int], set[int]]  # (year, month) -> the days of that month it fires on


class _Invalid(Exception):
    """A field's text is not Quartz cron (the caller names the field)."""


def _number(token: str, spec: _Field) -> int:
    if _NUMBER.fullmatch(token):
        value = int(token)
    elif spec.names and token.upper() in spec.names:
        value = spec.low + spec.names.index(token.upper())
    else:
        raise _Invalid
    if not spec.low <= value <= spec.high:
        raise _Invalid
    return value


def _sequence(start: int, end: int, step: int, spec: _Field) -> Iterable[int]:
    if start <= end:
        return range(start, end + 1, step)
    if spec is _YEAR:
        raise _Invalid  # Quartz wraps ranges such as 22-2 or NOV-FEB, but not years
    span = spec.high - spec.low + 1
    return [spec.low + (start - spec.low + k) % span for k in range(0, (end - start) % span + 1, step)]


def _values(text: str, spec: _Field) -> set[int]:
    """A plain field: a comma list of ``*``, ``n``, ``a-b``, each optionally with ``/step``."""
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _NUMBER.fullmatch(step_text) or not 1 <= int(step_text) <= spec.max_step:
                raise _Invalid
            step = int(step_text)
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, spec), _number(last, spec)
        else:
            start = _number(base, spec)
            end = spec.high if slash else start
        values.update(_sequence(start, end, step, spec))
    return values


def _weekday(year: int, month: int, day: int) -> int:
    """Quartz numbering: 1 is Sunday, 7 is Saturday."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> set[int]:
    """Quartz ``nW``: the weekday nearest ``day`` without leaving the month."""
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return set()
    weekday = _weekday(year, month, day)
    if weekday == 7:  # Saturday: Friday, or Monday when the 1st
        return {day + 2 if day == 1 else day - 1}
    if weekday == 1:  # Sunday: Monday, or Friday when the last day
        return {day - 2 if day == last else day + 1}
    return {day}


def _day_of_month_rule(text: str) -> DayRule:
    if text == "L":
        return lambda y, m: {calendar.monthrange(y, m)[1]}
    if text == "LW":
        return lambda y, m: _nearest_weekday(y, m, calendar.monthrange(y, m)[1])
    offset = re.fullmatch(r"L-([0-9]{1,2})", text)
    if offset:
        back = int(offset.group(1))
        if back > 30:
            raise _Invalid
        return lambda y, m: {d for d in [calendar.monthrange(y, m)[1] - back] if d >= 1}
    nearest = re.fullmatch(r"([0-9]{1,2})W", text)
    if nearest:
        day = int(nearest.group(1))
        if not 1 <= day <= 31:
            raise _Invalid
        return lambda y, m: _nearest_weekday(y, m, day)
    days = _values(text, _DAY_OF_MONTH)
    return lambda y, m: {d for d in days if d <= calendar.monthrange(y, m)[1]}


def _day_of_week_rule(text: str) -> DayRule:
    upper = text.upper()
    last = re.fullmatch(r"([0-9]|[A-Z]{3})L", upper)
    if last:
        weekday = _number(last.group(1), _DAY_OF_WEEK)
        return lambda y, m: {max(_days_on(y, m, weekday))}
    nth = re.fullmatch(r"([0-9]|[A-Z]{3})#([0-9])", upper)
    if nth:
        weekday, which = _number(nth.group(1), _DAY_OF_WEEK), int(nth.group(2))
        if not 1 <= which <= 5:
            raise _Invalid
        return lambda y, m: set(_days_on(y, m, weekday)[which - 1 : which])
    weekdays = {7} if upper == "L" else _values(text, _DAY_OF_WEEK)
    return lambda y, m: {
        d for d in range(1, calendar.monthrange(y, m)[1] + 1) if _weekday(y, m, d) in weekdays
    }


def _days_on(year: int, month: int, weekday: int) -> list[int]:
    return [
        d for d in range(1, calendar.monthrange(year, month)[1] + 1) if _weekday(year, month, d) == weekday
    ]


def _refuse(field_name: str, expression: Any, problem: str) -> AEPValidationError:
    return AEPValidationError(f"{field_name} {expression!r}{problem}", field=field_name)


def validate_quartz_cron(expression: str, *, field_name: str = "cron", now: datetime | None = None) -> str:
    """Return ``expression`` if it is a Quartz cron AEP accepts and that fires at least once after ``now``
    (default: the current UTC time), else raise ``AEPValidationError`` on ``field_name``."""
    if not isinstance(expression, str):
        raise _refuse(field_name, expression, f" is not a string: pass a Quartz cron such as {_EXAMPLE}")
    if expression != expression.strip() or re.search(r"[^\S ]", expression):
        raise _refuse(
            field_name,
            expression,
            " has leading or trailing whitespace, a newline or a tab: remove it and separate the fields "
            f"with single spaces, e.g. {_EXAMPLE}",
        )
    if "  " in expression:
        raise _refuse(field_name, expression, f": separate the fields with single spaces, e.g. {_EXAMPLE}")
    parts = expression.split()
    if len(parts) not in (6, 7):
        raise _refuse(
            field_name,
            expression,
            f" has {len(parts)} fields; AEP schedules use Quartz cron with 6 or 7 fields (second minute "
            f"hour day-of-month month day-of-week [year]), e.g. {_EXAMPLE}",
        )
    day_of_month, months, day_of_week = parts[3:6]
    year_text = parts[6] if len(parts) == 7 else "*"
    parsed: list[Any] = []
    for spec, text in zip(_FIELDS, (*parts[:6], year_text), strict=True):
        try:
            if spec is _DAY_OF_MONTH:
                parsed.append(None if text == "?" else _day_of_month_rule(text))
            elif spec is _DAY_OF_WEEK:
                parsed.append(None if text == "?" else _day_of_week_rule(text))
            else:
                parsed.append(_values(text, spec))
        except _Invalid:
            raise _refuse(
                field_name,
                expression,
                f": the {spec.name} field {text!r} is not valid Quartz cron ({spec.hint}; write *, n, a-b, "
                f"a/step or a list a,b), e.g. {_EXAMPLE}",
            ) from None
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _refuse(
            field_name,
            expression,
            f": Quartz needs '?' in exactly one of day-of-month and day-of-week, e.g. {_EXAMPLE}",
        )
    now = now or datetime.now(timezone.utc)
    second_set, minute_set, hour_set, dom_rule, month_set, dow_rule, year_set = parsed
    if year_text != "*" and max(year_set) < now.year:
        raise _refuse(
            field_name,
            expression,
            f": the year field {year_text!r} is in the past (it is {now.year} in UTC), so the schedule "
            "would never run; drop the year field or use a year to come",
        )
    day_rule: DayRule = dom_rule or dow_rule
    latest = (max(hour_set), max(minute_set), max(second_set))
    years = (
        sorted(y for y in year_set if y >= now.year)
        if year_text != "*"
        else range(now.year, min(now.year + _YEARS_TO_SEARCH, _YEAR.high) + 1)
    )
    if not _fires(
        years, sorted(month_set), day_rule, now, later_today=latest > (now.hour, now.minute, now.second)
    ):
        which = f"day-of-month {day_of_month!r}" if dom_rule else f"day-of-week {day_of_week!r}"
        in_year = f" and year {year_text!r}" if year_text != "*" else ""
        raise _refuse(
            field_name,
            expression,
            f" can never fire: no date from now on (UTC) matches {which} in month {months!r}{in_year} "
            "(a day the month does not have, such as 31 April or 30 February, or a date already past); "
            f"fix the date, e.g. {_EXAMPLE}",
        )
    return expression


def _fires(
    years: Iterable[int], months: list[int], day_rule: DayRule, now: datetime, *, later_today: bool
) -> bool:
    today = now.date()
    for year in years:
        for month in months:
            if (year, month) < (today.year, today.month):
                continue
            for day in day_rule(year, month):
                when = date(year, month, day)
                if when > today or (when == today and later_today):
                    return True
    return False
