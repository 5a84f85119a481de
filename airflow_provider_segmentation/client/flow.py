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
import random
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_segmentation.client.config import ClientConfig, RetrySettings, Secret
from airflow_provider_segmentation.client.errors import (
    AEPConnectionError,
    AEPError,
    AEPServerError,
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
from airflow_provider_segmentation.client.redaction import Hider
from airflow_provider_segmentation.client.wire import UnreadableBody, hidden_json, read_json, seconds_value

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

    stale: Secret | None = None


@dataclass(frozen=True)
class Send:
    """Send ``request``; give up on its answer after ``timeout`` seconds."""

    request: HttpRequest
    timeout: float


@dataclass(frozen=True)
class Sleep:
    seconds: float


Command = NeedToken | Send | Sleep
Reply = Secret | HttpResponse | TransportError | None
CallFlow = Generator[Command, Reply, HttpResponse]
# Given "created since" (epoch seconds): the object an ambiguous create made, or None if it made none.
Reconcile = Callable[[float], Generator[Command, Reply, HttpResponse | None]]
OnAnswer = Callable[[HttpResponse, float], None]  # told each answer and the time it arrived


def hidden_answer(response: HttpResponse, hider: Hider) -> HttpResponse:
    """``response`` with every credential masked in each decoded string of its body (JSON keys and values,
    or the text of a body that is not JSON); the very same answer when it carries none."""
    if not hider.finds(response.body.decode("utf-8", "replace")):
        return response
    try:
        body = json.dumps(hidden_json(read_json(response.body), hider), ensure_ascii=False).encode()
    except UnreadableBody:
        body = hider.hide(response.body.decode("utf-8", "replace")).encode()
    return replace(response, body=body)


def platform_request(
    config: ClientConfig, op: Operation[Any], token: Secret | None, user_agent: str
) -> HttpRequest:
    """The request AEP expects: auth and org headers, sandbox, JSON content type, a fresh request id; the
    token stays a ``Secret`` until the transport writes the ``Authorization`` header."""
    headers = {
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
    return HttpRequest(op.method, config.base_url + op.path, op.params, headers, op.body, bearer=token)


def call_flow(
    build: Callable[[Secret | None], HttpRequest],
    *,
    name: str,
    creates: bool,
    config: ClientConfig,
    clock: Callable[[], float],
    rng: random.Random,
    needs_token: bool = True,
    handled_statuses: frozenset[int] = frozenset(),
    service: str = "AEP",
    secrets: tuple[Secret, ...] = (),
    reconcile: Reconcile | None = None,
    on_answer: OnAnswer | None = None,
) -> CallFlow:
    """Send ``build(token)`` until the service answers 2xx, retrying and refreshing as ``next_step`` says.

    Each attempt gets ``call_timeout`` or what is left of the retry budget (``max_elapsed_seconds``),
    whichever is less, so that no call outlives its budget. In each answer, every decoded string (read
    by the one strict reader, ``wire``) is cleared of ``secrets`` (the client secret) and of the bearer
    token sent, in any spelling a server may echo (``redaction``), before anything reads it: no error,
    log line or returned model can carry them. The token is a ``Secret`` throughout.
    ``service`` names the answering side in errors; ``on_answer`` is told each (cleared) answer;
    ``reconcile`` looks for what an ambiguous create made: adopted if found, else the create is retried.
    """
    started = clock()
    budget = config.retry.max_elapsed_seconds
    failure: AEPError | None = None  # why the last attempt is being retried
    attempt = 0
    refreshed = False
    stale: Secret | None = None
    while True:
        attempt += 1
        token: Secret | None = None
        if needs_token:
            reply = yield NeedToken(stale)
            assert isinstance(reply, Secret)
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
            outcome = hidden_answer(outcome, Hider((*secrets, token)))
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
            made_nothing = step.error
            step = decide(False)  # AEP made nothing: retrying cannot duplicate it
            if step.action is Action.DONE and made_nothing is not None:  # an unreadable 2xx: try again
                step = _retry_or_fail(config.retry, attempt, clock() - started, None, rng, made_nothing)
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

    ``None`` (then the backoff decides) for a value that is neither: delta-seconds are ASCII digits of
    bounded length (``-5``, ``nan``, ``inf``, ``²`` or 5,000 digits are not; read as 0 s, some would send
    the retries out back to back).
    """
    if not value:
        return None
    value = value.strip()
    seconds = seconds_value(value)
    if seconds is not None:
        return seconds
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
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
    if 200 <= status < 300 and creates and not _readable_object(outcome):
        return Step(
            Action.RECONCILE,
            error=AEPServerError(
                f"{operation}: {service} answered HTTP {status} with a body that is not the object it "
                "creates, so whether it created one is unknown: list the resource before trying again to "
                "avoid a duplicate",
                status=status,
                request_id=request.request_id,
            ),
        )
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
    if is_token_rejection(status, code) and request.bearer is not None:
        return Step(Action.FAIL, error=error) if token_refreshed else Step(Action.REFRESH_TOKEN)
    if status not in RETRYABLE_STATUSES:
        return Step(Action.FAIL, error=error)
    if creates and status != 429:
        return Step(Action.RECONCILE, error=error)
    return _retry_or_fail(settings, attempt, elapsed, retry_after, rng, error)


_ERROR_KEYS = frozenset({"error_code", "error", "title", "detail"})  # gateway, OAuth, problem+json


def _readable_object(response: HttpResponse) -> bool:
    """The answer to a create holds a JSON object (what every create of AEP returns) that is not an
    error body."""
    try:
        data = read_json(response.body)
    except UnreadableBody:
        return False
    return isinstance(data, dict) and not _ERROR_KEYS & data.keys()


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
