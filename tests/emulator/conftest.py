"""``platform``: a plain-HTTP caller of the emulator's platform routes, as a stranger would call them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import mint_token

BASE = "/data/core/ups"
REQUEST_ID = "req-1"
TOKEN_LIFETIME_SECONDS = 3 * 366 * 86400  # tests step the clock by days, months or years


@pytest.fixture
def platform(emulator, emulator_admin):
    """``platform(method, path, body=None, raw=None, **query)`` under ``/data/core/ups``, with the
    gateway's headers (``x-request-id: req-1``) and a token that outlives the tests' clock steps."""
    emulator_admin.configure(token_lifetime_seconds=TOKEN_LIFETIME_SECONDS)
    return platform_caller(emulator)


def platform_caller(emulator, sandbox: str = "prod"):
    """The ``platform`` fixture's caller, with a fresh token (for tests that reset the emulator)."""
    settings = emulator.settings
    token = mint_token(emulator.url, settings.client_id, settings.client_secret)
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "x-api-key": settings.client_id,
            "x-gw-ims-org-id": settings.org_id,
            "x-sandbox-name": sandbox,
            "x-ups-search-version": "1.0",
            "x-request-id": REQUEST_ID,
        }
    )

    def call(
        method: str, path: str, body: Any = None, *, raw: str | None = None, **query: Any
    ) -> requests.Response:
        """``body`` is sent as JSON; ``raw`` is sent as it is, as JSON (for text ``json.dumps`` refuses)."""
        url = f"{emulator.url}{BASE}{path}"
        if raw is not None:
            headers = {"Content-Type": "application/json"}
            return session.request(method, url, data=raw.encode(), headers=headers, params=query, timeout=10)
        return session.request(method, url, json=body, params=query, timeout=10)

    return call


def assert_aep_400(response: requests.Response, *words: str) -> None:
    """An UPAPI 400 body (status, request id, one error whose code ends the type) saying ``words``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and body["requestId"] == REQUEST_ID
    [error] = body["errors"]["400"]
    assert body["type"].endswith(error["code"]) and error["code"].startswith(("UPAPI-", "UPLIB-"))
    for word in words:
        assert word in error["message"], error["message"]
