"""The client's requests and the emulator's answers, held to Adobe's ``segmentation.yaml``.

The scenario (``scenario.py``) drives the real ``SegmentationClient`` through all 35 operations against
the emulator, which captures each exchange as it crossed the wire. Every request is validated against
the operation's parameters and request body schema (and sends no query parameter the operation does
not declare); every answer against the response schema of its status code. The only departures from the
spec are the reviewed ones in ``spec_exceptions.py``, and each of them must still be needed.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.contract.spec import (
    SPEC_SHA256,
    Exchange,
    contract,
    operation_object,
    operations,
    raw_spec,
    require_spec,
    spec_digest,
)
from tests.contract.spec_exceptions import SPEC_EXCEPTIONS

pytestmark = pytest.mark.contract
require_spec()

OPERATIONS = sorted(operations())


def of(captured: list[Exchange], operation_id: str) -> list[Exchange]:
    return [e for e in captured if e.operation_id == operation_id]


def test_the_spec_is_the_reviewed_one() -> None:
    assert len(OPERATIONS) == 35
    assert spec_digest() == SPEC_SHA256, (
        "segmentation.yaml changed: review spec_exceptions.py against the new spec, then update SPEC_SHA256"
    )


def test_every_operation_is_called_by_the_client(captured: list[Exchange]) -> None:
    called = Counter(e.operation_id for e in captured if sent_by_the_client(e))
    assert set(OPERATIONS) - set(called) == set()


def sent_by_the_client(exchange: Exchange) -> bool:
    return exchange.request_headers.get("user-agent", "").startswith("airflow-provider-segmentation/")


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_client_requests_follow_the_spec(captured: list[Exchange], operation_id: str) -> None:
    exchanges = [e for e in of(captured, operation_id) if sent_by_the_client(e)]
    assert exchanges, f"the client never called {operation_id}"
    errors = {e.label: contract().request_errors(e) for e in exchanges}
    assert {label: errs for label, errs in errors.items() if errs} == {}


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_emulator_answers_follow_the_spec(captured: list[Exchange], operation_id: str) -> None:
    exchanges = of(captured, operation_id)
    assert exchanges, f"the scenario never called {operation_id}"
    errors = {e.label: contract().response_errors(e) for e in exchanges}
    assert {label: errs for label, errs in errors.items() if errs} == {}


def test_documented_error_answers_are_covered(captured: list[Exchange]) -> None:
    """Besides the successes, the scenario provokes error answers that the spec documents."""
    errors = {(e.operation_id, e.status) for e in captured if e.status >= 400}
    declared = {
        (operation_id, int(status))
        for operation_id in OPERATIONS
        for status in operation_object(raw_spec(), operation_id)["responses"]
        if int(status) >= 400
    }
    assert errors <= declared, sorted(errors - declared)
    assert len(errors) >= 25


@pytest.mark.parametrize(
    ("operation_id", "side"),
    [
        (operation_id, side)
        for operation_id, exception in sorted(SPEC_EXCEPTIONS.items())
        for side, patch in (("request", exception.request), ("response", exception.response))
        if patch is not None
    ],
)
def test_spec_exceptions_are_all_still_needed(captured: list[Exchange], operation_id: str, side: str) -> None:
    """Without this one patch, some exchange of the operation fails: else the exception is stale."""
    strict = contract(without=(operation_id, side))
    check = strict.request_errors if side == "request" else strict.response_errors
    failing = [e.label for e in of(captured, operation_id) if check(e)]
    assert failing, f"{operation_id} ({side}) passes without its exception: remove it from spec_exceptions.py"


@pytest.mark.parametrize(
    "operation_id", sorted(k for k, v in SPEC_EXCEPTIONS.items() if v.spec_says is not None)
)
def test_prose_exceptions_still_quote_the_spec(operation_id: str) -> None:
    text = " ".join(json.dumps(operation_object(raw_spec(), operation_id)).split())
    quoted = SPEC_EXCEPTIONS[operation_id].spec_says
    assert quoted and quoted in text, (
        f"the spec no longer says {quoted!r} for {operation_id}: remove the exception from spec_exceptions.py"
    )


def test_exceptions_name_real_operations_and_give_reasons() -> None:
    for operation_id, exception in SPEC_EXCEPTIONS.items():
        assert operation_id in OPERATIONS
        assert len(exception.reason) > 40
        assert exception.request or exception.response or exception.spec_says
