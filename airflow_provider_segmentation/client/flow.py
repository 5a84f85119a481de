"""One call to AEP as a sans-I/O flow: the whole retry / token-refresh logic, written once.

``call_flow`` is a generator that yields commands (need a token, send this request, sleep) and receives
their results; ``next_step`` decides what follows each attempt (done, refresh the token and replay, wait
and retry, look for what an ambiguous create made, or fail). The sync client drives the flow with
``requests`` and ``time.sleep``, the async client with ``httpx`` and ``asyncio.sleep``. Nothing here does
I/O, so both paths behave identically by construction.
"""

from __future__ import annotations

import json
import logging
import math
import random
import uuid
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from airflow_provider_segmentation.client.config import ClientConfig, RetrySettings
from airflow_provider_segmentation.client.errors import (
    AEPConnectionError,
    AEPError,
    error_from_response,
    is_token_rejection,
    parse_error_body,
)
from airflow_provider_segmentation.client.http import (
    DeadlineExceeded,
    HttpRequest,
    HttpResponse,
    TransportError,
)
from airflow_provider_segmentation.client.operations import Operation

log = logging.getLogger("airflow_provider_segmentation.client")
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class Action(Enum):
    DONE = "done"
    REFRESH_TOKEN = "refresh_token"
    RETRY = "retry"
    RECONCILE = "reconcile"  # a create that AEP may have performed: look for what it made
    FAIL = "fail"


@dataclass(frozen=True)
class Step:
    """What follows an attempt; ``error`` is what went wrong (raised on ``FAIL``, or when a retry or a
    reconcile cannot happen)."""

    action: Action
    delay: float = 0.0
    error: AEPError | None = None


@dataclass(frozen=True)
class NeedToken:
    """Ask the driver for a valid access token; ``stale`` was rejected by the gateway and must go."""

    stale: str | None = None


@dataclass(frozen=True)
class Send:
    """Send ``request``; give up on its answer after ``timeout`` seconds."""

    request: HttpRequest
    timeout: float


@dataclass(frozen=True)
class Sleep:
    seconds: float


Command = NeedToken | Send | Sleep
Reply = str | HttpResponse | TransportError | None
CallFlow = Generator[Command, Reply, HttpResponse]
# Given "created since" (epoch seconds): the object an ambiguous create made, or None if it made none.
Reconcile = Callable[[float], Generator[Command, Reply, HttpResponse | None]]
OnAnswer = Callable[[HttpResponse, float], None]  # told each answer and the time it arrived


def spellings(secret: str) -> set[str]:
    """``secret`` as a server may echo it: plain, form- or URL-encoded, or escaped in a JSON string."""
    if not secret:
        return set()
    in_json = json.dumps(secret)[1:-1]
    return {
        secret,
        quote_plus(secret),
        quote_plus(secret, safe=""),
        quote(secret, safe=""),
        in_json,
        in_json.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def scrub(body: bytes, secrets: Iterable[str]) -> bytes:
    """``body`` with every spelling of each of ``secrets`` replaced by ``***`` (longest first)."""
    for spelling in sorted({s for secret in secrets for s in spellings(secret)}, key=len, reverse=True):
        body = body.replace(spelling.encode(), b"***")
    return body


def platform_request(config: ClientConfig, op: Operation[Any], token: str, user_agent: str) -> HttpRequest:
    """The request AEP expects: auth and org headers, sandbox, JSON content type, a fresh request id."""
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": config.client_id,
        "x-gw-ims-org-id": config.org_id,
        "x-sandbox-name": config.sandbox,
        "x-request-id": str(uuid.uuid4()),
        "Accept": "application/json",
        "User-Agent": user_agent,
        **op.headers,
    }
    if op.body is not None:
        headers["Content-Type"] = "application/json"
    return HttpRequest(op.method, config.base_url + op.path, op.params, headers, op.body)


def call_flow(
    build: Callable[[str | None], HttpRequest],
    *,
    name: str,
    creates: bool,
    config: ClientConfig,
    clock: Callable[[], float],
    rng: random.Random,
    needs_token: bool = True,
    handled_statuses: frozenset[int] = frozenset(),
    service: str = "AEP",
    secrets: tuple[str, ...] = (),
    reconcile: Reconcile | None = None,
    on_answer: OnAnswer | None = None,
) -> CallFlow:
    """Send ``build(token)`` until the service answers 2xx, retrying and refreshing as ``next_step`` says.

    Each attempt gets ``call_timeout`` or what is left of the retry budget (``max_elapsed_seconds``),
    whichever is less, so that no call outlives its budget. Each answer's body is scrubbed of
    ``secrets`` (the IMS call passes the client secret) and of the bearer token sent, in every spelling
    a server may echo, before anything reads it: no error's message or code can carry them.
    ``service`` names the answering side in errors; ``on_answer`` is told each (scrubbed) answer;
    ``reconcile`` looks for what an ambiguous create made: adopted if found, else the create is retried.
    """
    started = clock()
    budget = config.retry.max_elapsed_seconds
    failure: AEPError | None = None  # why the last attempt is being retried
    attempt = 0
    refreshed = False
    stale: str | None = None
    while True:
        attempt += 1
        token = None
        if needs_token:
            reply = yield NeedToken(stale)
            assert isinstance(reply, str)
            token, stale = reply, None
        request = build(token)
        sent_at = clock()
        left = budget - (sent_at - started)
        if left <= 0:  # a sleep or a token refresh overran it
            spent = (
                f"the retry budget of {budget:.3g} s (max_elapsed_seconds) was spent before attempt {attempt}"
            )
            if failure is None:
                raise AEPConnectionError(f"{name}: {spent}", request_id=request.request_id)
            raise failure.with_message(f"{failure.message}; then {spent}")
        outcome = yield Send(request, min(config.call_timeout, left))
        assert isinstance(outcome, HttpResponse | TransportError)
        if isinstance(outcome, HttpResponse):
            hidden = secrets if token is None else (*secrets, token)
            outcome = replace(outcome, body=scrub(outcome.body, hidden))
            if on_answer is not None:
                on_answer(outcome, clock())
        _log_outcome(name, request, outcome)

        def decide(creates: bool, request: HttpRequest = request, outcome: Reply = outcome) -> Step:
            assert isinstance(outcome, HttpResponse | TransportError)
            return next_step(
                request,
                outcome,
                creates=creates,
                attempt=attempt,  # noqa: B023 - decide is called within this iteration only
                elapsed=clock() - started,
                token_refreshed=refreshed,  # noqa: B023
                settings=config.retry,
                call_timeout=config.call_timeout,
                rng=rng,
                now=clock(),
                operation=name,
                handled_statuses=handled_statuses,
                service=service,
            )

        step = decide(creates)
        if step.action is Action.RECONCILE and reconcile is not None:
            log.warning("%s: %s; looking for what the create may have made", name, _describe(outcome))
            adopted = yield from reconcile(sent_at)
            if adopted is not None:
                log.warning("%s: AEP had made it; adopting it instead of creating another", name)
                return adopted
            step = decide(False)  # AEP made nothing: retrying cannot duplicate it
        if step.action is Action.DONE:
            assert isinstance(outcome, HttpResponse)
            return outcome
        if step.action is Action.REFRESH_TOKEN:
            log.info("%s: the gateway rejected the access token; refreshing it once and replaying", name)
            refreshed, stale, attempt = True, token, attempt - 1
            continue
        if step.action is Action.RETRY:
            log.warning(
                "%s: attempt %d failed (%s); retrying in %.1f s",
                name,
                attempt,
                _describe(outcome),
                step.delay,
            )
            failure = step.error
            yield Sleep(step.delay)
            continue
        assert step.error is not None
        raise step.error


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    ``None`` (then the backoff decides) for a value that is neither, or a negative or non-finite number
    (``-5``, ``nan``, ``inf``): read as 0 s, such values would send the retries out back to back.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError):
            return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


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
    call_timeout: float,
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
        error: AEPError = _transport_error(request, outcome, operation, settings, call_timeout)
        if creates and outcome.sent:
            return Step(
                Action.RECONCILE,
                error=error.with_message(
                    f"{error.message}; the request was sent, so AEP may have created the object: list "
                    "the resource before trying again to avoid a duplicate"
                ),
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


def _transport_error(
    request: HttpRequest,
    outcome: TransportError,
    operation: str,
    settings: RetrySettings,
    call_timeout: float,
) -> AEPConnectionError:
    """What went wrong without an answer: a host out of reach, a broken connection, or a slow answer."""
    parts = urlsplit(request.url)
    host = f"{parts.scheme}://{parts.netloc}"
    if isinstance(outcome, DeadlineExceeded):
        bound = (
            "call_timeout"
            if outcome.seconds >= call_timeout
            else f"what was left of the call's {settings.max_elapsed_seconds:.3g} s retry budget, "
            "max_elapsed_seconds"
        )
        text = (
            f"no complete answer from {host} within {outcome.seconds:.3g} s ({bound}): the server is "
            "too slow or trickles its answer"
        )
    elif outcome.sent:
        text = f"the connection to {host} broke before the answer was complete ({outcome})"
    else:
        text = f"could not reach {host} ({outcome})"
    return AEPConnectionError(f"{operation}: {text}", request_id=request.request_id)


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
    return Step(Action.RETRY, delay=delay, error=error)


def _describe(outcome: HttpResponse | TransportError) -> str:
    return f"HTTP {outcome.status}" if isinstance(outcome, HttpResponse) else str(outcome)


def _log_outcome(name: str, request: HttpRequest, outcome: HttpResponse | TransportError) -> None:
    log.debug(
        "%s %s %s x-request-id=%s -> %s",
        name,
        request.method,
        request.url.split("?")[0],
        request.request_id or "-",
        _describe(outcome),
    )
