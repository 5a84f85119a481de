"""The two transports: one pooled ``requests.Session`` (sync) and one ``httpx.AsyncClient`` (async).

They only move bytes. Building requests, deciding on retries, mapping errors and parsing bodies are
shared pure functions elsewhere, so the sync and async paths cannot drift apart.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import requests
import urllib3.exceptions


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    @property
    def request_id(self) -> str:
        return self.headers.get("x-request-id", "")

    def __repr__(self) -> str:
        """Never the bearer token nor the body (the IMS form body holds the client secret)."""
        headers = {k: "***" if k.lower() == "authorization" else v for k, v in self.headers.items()}
        body = f"<{len(self.body)} bytes>" if self.body is not None else None
        return (
            f"HttpRequest({self.method} {self.url}, params={self.params!r}, headers={headers}, body={body})"
        )


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def __repr__(self) -> str:
        """Without the body, which may hold an access token (IMS) or personal data (previews)."""
        return (
            f"HttpResponse({self.status}, content-type={self.content_type!r}, body=<{len(self.body)} bytes>)"
        )


class TransportError(Exception):
    """The call produced no HTTP answer. ``sent`` is False only when the server cannot have seen it."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


def _never_connected(exc: BaseException) -> bool:
    """True when a ``requests`` error happened before a connection existed (nothing was sent)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(
            current, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        ):
            return True
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


class SyncTransport:
    """Sends ``HttpRequest`` objects over one pooled ``requests.Session`` with TLS verification on."""

    def __init__(self, timeout: tuple[float, float], session: requests.Session | None = None) -> None:
        self._timeout = timeout
        self._session = session or requests.Session()

    def send(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self._session.request(
                request.method,
                request.url,
                params=list(request.params),
                headers=dict(request.headers),
                data=request.body,
                timeout=self._timeout,
                allow_redirects=False,
                verify=True,
            )
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"{type(exc).__name__} on {request.method} {request.url}", sent=not _never_connected(exc)
            ) from None
        return HttpResponse(
            response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
        )

    def close(self) -> None:
        self._session.close()


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: each costs about a megabyte, and a triggerer runs
    hundreds of trigger clients at once."""
    return httpx.create_ssl_context()


class AsyncTransport:
    """Sends ``HttpRequest`` objects over one ``httpx.AsyncClient`` (close it with ``aclose``)."""

    def __init__(self, timeout: tuple[float, float], client: httpx.AsyncClient | None = None) -> None:
        connect, read = timeout
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(read, connect=connect),
            verify=_shared_ssl_context(),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def send(self, request: HttpRequest) -> HttpResponse:
        try:
            response = await self._client.request(
                request.method,
                request.url,
                params=list(request.params),
                headers=dict(request.headers),
                content=request.body,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransportError(
                f"{type(exc).__name__} on {request.method} {request.url}", sent=False
            ) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                f"{type(exc).__name__} on {request.method} {request.url}", sent=True
            ) from None
        return HttpResponse(
            response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content
        )

    async def aclose(self) -> None:
        await self._client.aclose()
