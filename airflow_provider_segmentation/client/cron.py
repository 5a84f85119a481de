"""Quartz cron checked before a schedule reaches AEP, as the client's ``AEPValidationError``.

The validator itself is ``airflow_provider_segmentation.cron`` (pure, shared with the emulator), and AEP's
once-a-day rule for segmentation schedules is ``rules.check_schedule_frequency``; this module gives their
refusals the client's error types and the caller's field name.
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_segmentation.client.errors import AEPGuardrailError, AEPValidationError
from airflow_provider_segmentation.cron import QuartzCronError, check_quartz_cron


def validate_quartz_cron(expression: str, *, field_name: str = "cron", now: datetime | None = None) -> str:
    """Return ``expression`` if it is a Quartz cron AEP accepts, that fires at least once after ``now``
    (default: the current UTC time) and at most once a day, else raise ``AEPValidationError`` (or its
    ``AEPGuardrailError`` for the once-a-day rule) on ``field_name``."""
    from airflow_provider_segmentation.rules import check_schedule_frequency

    try:
        parsed = check_quartz_cron(expression, now=now)
    except QuartzCronError as exc:
        raise AEPValidationError(f"{field_name} {exc}", field=field_name) from None
    broken = check_schedule_frequency(parsed)
    if broken is not None:
        raise AEPGuardrailError(
            f"{field_name}: {broken.message} ({broken.rule_id}; {broken.url}); {broken.fix}",
            field=field_name,
            findings=[broken],
        )
    return expression
