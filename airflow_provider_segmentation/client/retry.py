"""What to do after each attempt: done, refresh the token and replay, wait and retry, or fail.

Pure functions: both executors (sync and async) call ``next_step`` and only differ in how they sleep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

from airflow_provider_segmentation.client.config import RetrySettings
from airflow_provider_segmentation.client.errors import (
    AEPConnectionError,
    AEPError,
    error_from_response,
    is_token_rejection,
    parse_error_body,
)
from airflow_provider_segmentation.client.http import HttpRequest, HttpResponse, TransportError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class Action(Enum):
    DONE = "done"
    REFRESH_TOKEN = "refresh_token"
    RETRY = "retry"
    RECONCILE = "reconcile"  # a create that AEP may have performed: look for what it made
    FAIL = "fail"


@dataclass(frozen=True)
class Step:
    action: Action
    delay: float = 0.0
    error: AEPError | None = None


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def backoff_delay(settings: RetrySettings, attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(settings.max_delay_seconds, settings.base_delay_seconds * 2 ** (attempt - 1))
    return rng.uniform(min(ceiling, settings.base_delay_seconds / 2), ceiling)


def next_step(
    request: HttpRequest,
    outcome: HttpResponse | TransportError,
    *,
    creates: bool,
    attempt: int,
    elapsed: float,
    token_refreshed: bool,
    settings: RetrySettings,
    rng: random.Random,
    now: float,
    operation: str,
    handled_statuses: frozenset[int] = frozenset(),
    service: str = "AEP",
) -> Step:
    """Decide what follows one attempt of ``request``.

    ``handled_statuses`` are answers the caller reads itself (IMS refusals become ``AEPAuthError`` there).
    A call that creates something is retried only when the server certainly did not create it: a 429,
    or a connection that never opened. After a 5xx or a connection broken once the request was sent,
    the step is ``RECONCILE`` (look for what the create made; see ``reconcile``) with the error to raise
    if that cannot be done: a blind retry would risk a duplicate job.
    """
    if isinstance(outcome, TransportError):
        if creates and outcome.sent:
            return Step(
                Action.RECONCILE,
                error=AEPConnectionError(
                    f"{operation}: the connection broke after the request was sent, so AEP may have created "
                    "the object; list the resource before trying again to avoid a duplicate",
                    request_id=request.request_id,
                ),
            )
        error: AEPError = AEPConnectionError(
            f"{operation}: could not reach {request.url.split('/data/')[0]} ({outcome})",
            request_id=request.request_id,
        )
        return _retry_or_fail(settings, attempt, elapsed, None, rng, error)

    status = outcome.status
    if 200 <= status < 300 or status in handled_statuses:
        return Step(Action.DONE)
    retry_after = parse_retry_after(outcome.headers.get("retry-after"), now=now)
    error = error_from_response(
        status,
        outcome.body,
        content_type=outcome.content_type,
        request_id=request.request_id,
        operation=operation,
        retry_after=retry_after,
        service=service,
        location=outcome.headers.get("location"),
    )
    code, _ = parse_error_body(outcome.body)
    if is_token_rejection(status, code) and "authorization" in {k.lower() for k in request.headers}:
        return Step(Action.FAIL, error=error) if token_refreshed else Step(Action.REFRESH_TOKEN)
    if status not in RETRYABLE_STATUSES:
        return Step(Action.FAIL, error=error)
    if creates and status != 429:
        return Step(Action.RECONCILE, error=error)
    return _retry_or_fail(settings, attempt, elapsed, retry_after, rng, error)


def _retry_or_fail(
    settings: RetrySettings,
    attempt: int,
    elapsed: float,
    retry_after: float | None,
    rng: random.Random,
    error: AEPError,
) -> Step:
    if attempt >= settings.max_attempts:
        return Step(Action.FAIL, error=error)
    delay = retry_after if retry_after is not None else backoff_delay(settings, attempt, rng)
    if elapsed + delay > settings.max_elapsed_seconds:
        if retry_after is not None:
            error = error.with_message(
                f"{error.message}; the server asked to retry after {retry_after:.0f} s (Retry-After), "
                f"beyond the retry budget of {settings.max_elapsed_seconds:.0f} s, so the call was given up"
            )
        return Step(Action.FAIL, error=error)
    return Step(Action.RETRY, delay=delay)
