"""Quartz cron validation for schedules, so a malformed expression fails before it reaches AEP.

AEP schedules use Quartz cron: 6 or 7 fields (second, minute, hour, day of month, month, day of week,
optional year), in UTC, with ``* ? - , / L W #`` and month/day names. Exactly one of day-of-month and
day-of-week must be ``?``.
"""

from __future__ import annotations

import re

from airflow_provider_segmentation.client.errors import AEPValidationError

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_FIELDS = (
    ("second", 0, 59, ""),
    ("minute", 0, 59, ""),
    ("hour", 0, 23, ""),
    ("day-of-month", 1, 31, ""),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, ""),
)
_EXAMPLE = "'0 0 1 * * ?' (every day at 01:00 UTC)"


def _value_ok(token: str, low: int, high: int, names: str) -> bool:
    if names and re.fullmatch(names, token, re.IGNORECASE):
        return True
    return token.isdigit() and low <= int(token) <= high


def _part_ok(part: str, index: int) -> bool:
    name, low, high, names = _FIELDS[index]
    if part in ("*", "?"):
        return name in ("day-of-month", "day-of-week") or part == "*"
    if name == "day-of-month" and re.fullmatch(r"L(-\d{1,2})?|LW|\d{1,2}W", part):
        return True
    if name == "day-of-week" and (
        re.fullmatch(r"[1-7]L|[1-7]#[1-5]|L", part)
        or re.fullmatch(rf"({_DAYS})(L|#[1-5])", part, re.IGNORECASE)
    ):
        return True
    base, _, step = part.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        return False
    if base == "*":
        return True
    start, _, end = base.partition("-")
    return _value_ok(start, low, high, names) and (not end or _value_ok(end, low, high, names))


def validate_quartz_cron(expression: str, *, field_name: str = "cron") -> str:
    """Return ``expression`` if it is a Quartz cron AEP accepts, else raise ``AEPValidationError``."""
    parts = str(expression or "").split()
    if len(parts) not in (6, 7):
        raise AEPValidationError(
            f"{field_name} {expression!r} has {len(parts)} fields; AEP schedules use Quartz cron with 6 or 7 "
            f"fields (second minute hour day-of-month month day-of-week [year]), e.g. {_EXAMPLE}",
            field=field_name,
        )
    for index, field_text in enumerate(parts):
        if not all(_part_ok(p, index) for p in field_text.split(",")):
            raise AEPValidationError(
                f"{field_name} {expression!r}: the {_FIELDS[index][0]} field {field_text!r} is not valid "
                f"Quartz cron; e.g. {_EXAMPLE}",
                field=field_name,
            )
    if (parts[3] == "?") == (parts[5] == "?"):
        raise AEPValidationError(
            f"{field_name} {expression!r}: Quartz needs '?' in exactly one of day-of-month and day-of-week, "
            f"e.g. {_EXAMPLE}",
            field=field_name,
        )
    return expression
