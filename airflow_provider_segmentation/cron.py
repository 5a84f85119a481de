"""Quartz cron, as AEP schedules use it: validation and fire times (pure: no Airflow, no HTTP).

AEP schedules use Quartz cron: 6 or 7 fields (second, minute, hour, day of month, month, day of week,
optional year) separated by single spaces, in UTC, with ``* ? - , / L W #`` and month/day names. Exactly
one of day-of-month and day-of-week must be ``?``. Every field is parsed to its values (ranges, steps and
lists, Quartz's wrap-around ranges such as ``22-2`` or ``FRI-MON`` included), and an expression that can
never fire from now on (31 February, a year in the past) is refused as well.

The client refuses a bad cron before any HTTP call (``client.cron`` turns ``QuartzCronError`` into its
``AEPValidationError``); the emulator refuses it with AEP's 400 and fires stored schedules with
``QuartzCron.fire_times``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone

_EXAMPLE = "'0 0 1 * * ?' (every day at 01:00 UTC)"
_NUMBER = re.compile(r"[0-9]{1,4}")
_YEARS_TO_SEARCH = 29  # weekdays and leap days repeat within 28 years


class QuartzCronError(ValueError):
    """``expression`` is not a Quartz cron AEP accepts; ``problem`` says why and how to fix it, and
    ``str()`` is the expression followed by the problem."""

    def __init__(self, expression: object, problem: str) -> None:
        self.expression = expression
        self.problem = problem
        super().__init__(f"{expression!r}{problem}")


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
    text = text.upper()  # Quartz reads its special characters in either case (as for day of week)
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


def _field(expression: str, spec: _Field, text: str) -> set[int]:
    try:
        return _values(text, spec)
    except _Invalid:
        raise _bad_field(expression, spec, text) from None


def _rule(expression: str, spec: _Field, text: str, rule: Callable[[str], DayRule]) -> DayRule | None:
    """The day rule of a day-of-month or day-of-week field; None for ``?``."""
    if text == "?":
        return None
    try:
        return rule(text)
    except _Invalid:
        raise _bad_field(expression, spec, text) from None


def _bad_field(expression: str, spec: _Field, text: str) -> QuartzCronError:
    return QuartzCronError(
        expression,
        f": the {spec.name} field {text!r} is not valid Quartz cron ({spec.hint}; write *, n, a-b, "
        f"a/step or a list a,b), e.g. {_EXAMPLE}",
    )


@dataclass(frozen=True)
class QuartzCron:
    """A parsed Quartz cron: the values of each field, and the rule for the days of a month."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...] | None  # None: no year field, or ``*``

    @classmethod
    def parse(cls, expression: str) -> QuartzCron:
        """The fields of ``expression``, or ``QuartzCronError`` when it is not Quartz cron (whether it
        can still fire is ``check_quartz_cron``'s question)."""
        if not isinstance(expression, str):
            raise QuartzCronError(expression, f" is not a string: pass a Quartz cron such as {_EXAMPLE}")
        if expression != expression.strip() or re.search(r"[^\S ]", expression):
            raise QuartzCronError(
                expression,
                " has leading or trailing whitespace, a newline or a tab: remove it and separate the fields "
                f"with single spaces, e.g. {_EXAMPLE}",
            )
        if "  " in expression:
            raise QuartzCronError(expression, f": separate the fields with single spaces, e.g. {_EXAMPLE}")
        parts = expression.split()
        if len(parts) not in (6, 7):
            raise QuartzCronError(
                expression,
                f" has {len(parts)} fields; AEP schedules use Quartz cron with 6 or 7 fields (second minute "
                f"hour day-of-month month day-of-week [year]), e.g. {_EXAMPLE}",
            )
        seconds = _field(expression, _SECOND, parts[0])
        minutes = _field(expression, _MINUTE, parts[1])
        hours = _field(expression, _HOUR, parts[2])
        dom_rule = _rule(expression, _DAY_OF_MONTH, parts[3], _day_of_month_rule)
        months = _field(expression, _MONTH, parts[4])
        dow_rule = _rule(expression, _DAY_OF_WEEK, parts[5], _day_of_week_rule)
        year_text = parts[6] if len(parts) == 7 else "*"
        years = _field(expression, _YEAR, year_text)
        if dom_rule is not None and dow_rule is None:
            day_rule = dom_rule
        elif dom_rule is None and dow_rule is not None:
            day_rule = dow_rule
        else:
            raise QuartzCronError(
                expression,
                f": Quartz needs '?' in exactly one of day-of-month and day-of-week, e.g. {_EXAMPLE}",
            )
        return cls(
            expression,
            tuple(sorted(seconds)),
            tuple(sorted(minutes)),
            tuple(sorted(hours)),
            day_rule,
            tuple(sorted(months)),
            None if year_text == "*" else tuple(sorted(years)),
        )

    def fire_times(self, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
        """The UTC times it fires strictly after ``after`` and up to ``until`` (inclusive), in order;
        without ``until``, up to the last year it names or ``_YEARS_TO_SEARCH`` years ahead."""
        after = after.astimezone(timezone.utc)
        last_year = until.astimezone(timezone.utc).year if until else _YEAR.high
        if self.years is None:
            horizon = last_year if until else min(after.year + _YEARS_TO_SEARCH, _YEAR.high)
            years: Iterable[int] = range(after.year, horizon + 1)
        else:
            years = [y for y in self.years if after.year <= y <= last_year]
        start = after.date()
        for year in years:
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in sorted(self.day_rule(year, month)):
                    if date(year, month, day) < start:
                        continue
                    for when in self._times_of(year, month, day, after):
                        if until is not None and when > until:
                            return
                        yield when

    def _times_of(self, year: int, month: int, day: int, after: datetime) -> Iterator[datetime]:
        """The times of one day, strictly after ``after``: earlier hours and minutes are skipped whole."""
        first_day = (year, month, day) == (after.year, after.month, after.day)
        for hour in self.hours:
            if first_day and hour < after.hour:
                continue
            for minute in self.minutes:
                if first_day and (hour, minute) < (after.hour, after.minute):
                    continue
                for second in self.seconds:
                    when = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
                    if when > after:
                        yield when


def check_quartz_cron(expression: str, *, now: datetime | None = None) -> QuartzCron:
    """``expression`` parsed, if it is a Quartz cron AEP accepts and that fires at least once after
    ``now`` (default: the current UTC time); else ``QuartzCronError`` saying what to fix."""
    cron = QuartzCron.parse(expression)
    now = now or datetime.now(timezone.utc)
    parts = expression.split()
    if cron.years is not None and max(cron.years) < now.year:
        raise QuartzCronError(
            expression,
            f": the year field {parts[6]!r} is in the past (it is {now.year} in UTC), so the schedule "
            "would never run; drop the year field or use a year to come",
        )
    if next(cron.fire_times(now), None) is None:
        day_of_month, months, day_of_week = parts[3:6]
        which = f"day-of-month {day_of_month!r}" if day_of_month != "?" else f"day-of-week {day_of_week!r}"
        in_year = f" and year {parts[6]!r}" if cron.years is not None else ""
        raise QuartzCronError(
            expression,
            f" can never fire: no date from now on (UTC) matches {which} in month {months!r}{in_year} "
            "(a day the month does not have, such as 31 April or 30 February, or a date already past); "
            f"fix the date, e.g. {_EXAMPLE}",
        )
    return cron
