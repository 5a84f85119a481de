"""Quartz cron checked before a schedule reaches AEP, as the client's ``AEPValidationError``.

The validator itself is ``airflow_provider_segmentation.cron`` (pure, shared with the emulator); this
module gives its refusal the client's error type and the caller's field name.
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_segmentation.client.errors import AEPValidationError
from airflow_provider_segmentation.cron import QuartzCronError, check_quartz_cron


def validate_quartz_cron(expression: str, *, field_name: str = "cron", now: datetime | None = None) -> str:
    """Return ``expression`` if it is a Quartz cron AEP accepts and that fires at least once after ``now``
    (default: the current UTC time), else raise ``AEPValidationError`` on ``field_name``."""
    try:
        check_quartz_cron(expression, now=now)
    except QuartzCronError as exc:
        raise AEPValidationError(f"{field_name} {exc}", field=field_name) from None
    return expression
