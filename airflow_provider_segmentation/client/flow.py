"""One call to AEP as a sans-I/O flow: the whole retry / token-refresh logic, written once.

``call_flow`` is a generator that yields commands (need a token, send this request, sleep) and receives
their results; the sync client drives it with ``requests`` and ``time.sleep``, the async client with
``httpx`` and ``asyncio.sleep``. Nothing here does I/O, so both paths behave identically by construction.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from airflow_provider_segmentation.client.config import ClientConfig
from airflow_provider_segmentation.client.http import HttpRequest, HttpResponse, TransportError
from airflow_provider_segmentation.client.operations import Operation
from airflow_provider_segmentation.client.retry import Action, Step, next_step

log = logging.getLogger("airflow_provider_segmentation.client")


@dataclass(frozen=True)
class NeedToken:
    """Ask the driver for a valid access token; ``stale`` was rejected by the gateway and must go."""

    stale: str | None = None


@dataclass(frozen=True)
class Send:
    request: HttpRequest


@dataclass(frozen=True)
class Sleep:
    seconds: float


Command = NeedToken | Send | Sleep
Reply = str | HttpResponse | TransportError | None
CallFlow = Generator[Command, Reply, HttpResponse]
# Given "created since" (epoch seconds): the object an ambiguous create made, or None if it made none.
Reconcile = Callable[[float], Generator[Command, Reply, HttpResponse | None]]


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
    redact: Callable[[str], str] = str,
    reconcile: Reconcile | None = None,
) -> CallFlow:
    """Send ``build(token)`` until the service answers 2xx, retrying and refreshing as ``next_step`` says.

    ``service`` names the answering side in errors; ``redact`` scrubs an error message before it is
    raised (the IMS call passes one that removes the client secret, should IMS echo the request).
    ``reconcile`` looks for what an ambiguous create made: adopted if found, else the create is retried.
    """
    started = clock()
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
        outcome = yield Send(request)
        assert isinstance(outcome, HttpResponse | TransportError)
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
            yield Sleep(step.delay)
            continue
        assert step.error is not None
        raise step.error.with_message(redact(step.error.message))


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
