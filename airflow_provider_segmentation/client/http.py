"""The two transports: one pooled ``requests.Session`` (sync) and one ``httpx.AsyncClient`` (async).

They only move bytes. Building requests, deciding on retries, mapping errors and parsing bodies are
shared pure functions elsewhere, so the sync and async paths cannot drift apart.

Both bound each exchange the same way: a total deadline (``call_timeout``, or less when the caller
passes what is left of its own budget: connect, send, headers and the whole body, however slowly it
trickles in; the read timeout alone is per read) ends in a ``DeadlineExceeded``, and an answer above
``max_response_bytes`` (after decompression) is refused while it streams in, never read whole, with an
``AEPServerError`` that is not retried.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_segmentation.client.config import Secret
from airflow_provider_segmentation.client.errors import AEPServerError
from airflow_provider_segmentation.client.wire import whole_number

if TYPE_CHECKING:  # imported where a transport is built: a DAG file that only declares tasks never pays
    import httpx
    import requests

DEFAULT_CALL_TIMEOUT = 120.0
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    bearer: Secret | None = None  # the access token, written into ``Authorization`` only on the wire

    @property
    def request_id(self) -> str:
        return self.headers.get("x-request-id", "")

    def wire_headers(self) -> dict[str, str]:
        """The headers as sent: the token is revealed here only, straight into the transport's call."""
        if self.bearer is None:
            return dict(self.headers)
        return {**self.headers, "Authorization": f"Bearer {self.bearer.reveal()}"}

    def __repr__(self) -> str:
        """Never the bearer token nor the body (the IMS form body holds the client secret)."""
        headers = {**self.headers, "Authorization": "***"} if self.bearer is not None else dict(self.headers)
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


class DeadlineExceeded(TransportError):
    """The answer did not arrive whole within the ``seconds`` this exchange was given."""

    def __init__(self, request: HttpRequest, seconds: float, *, sent: bool = True) -> None:
        super().__init__(
            f"no complete answer to {request.method} {request.url} within {seconds:.3g} s", sent=sent
        )
        self.seconds = seconds


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= scale:
            return f"{count // scale} {unit}" if count % scale == 0 else f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _declared_length(value: str | None) -> int | None:
    """``Content-Length`` when it is ASCII digits of bounded length; else unknown (bytes are counted)."""
    return whole_number(value)


def _too_large(request: HttpRequest, status: int, cap: int, declared: int | None) -> AEPServerError:
    announced = f" (it announced {declared} bytes)" if declared is not None else ""
    return AEPServerError(
        f"{request.method} {request.url}: the answer is larger than the {_size(cap)} cap "
        f"(max_response_bytes){announced}, so it was refused while streaming in, without reading it "
        "whole; ask for smaller pages (limit), or raise max_response_bytes if such answers are expected",
        status=status,
        request_id=request.request_id or None,
    )


def _never_connected(exc: BaseException) -> bool:
    """True when a ``requests`` error happened before a connection existed (nothing was sent)."""
    import requests
    import urllib3.exceptions

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
    """Sends ``HttpRequest`` objects over one pooled ``requests.Session`` with TLS verification on.

    The body is streamed: the clock is checked after every read (each read waits at most until the
    deadline), and the bytes are counted as they arrive.

    The environment is read once, not per request: the proxy of each host (``HTTPS_PROXY``,
    ``NO_PROXY``...) and the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``). The session does not
    trust the environment beyond that (``trust_env`` off): requests would otherwise read every proxy
    variable on each call, and take a ``~/.netrc`` entry for the host (or a ``default`` one) as Basic
    credentials that replace the bearer token.
    """

    def __init__(
        self,
        timeout: tuple[float, float],
        session: requests.Session | None = None,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import requests

        self._timeout = timeout
        if session is None:
            session = requests.Session()
            session.trust_env = False
        self._session = session
        self._verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self._call_timeout = call_timeout
        self._cap = max_response_bytes
        self._clock = clock

    def send(self, request: HttpRequest, timeout: float | None = None) -> HttpResponse:
        """One exchange, ended after ``timeout`` seconds (default ``call_timeout``) however it goes."""
        import requests

        seconds = self._call_timeout if timeout is None else min(timeout, self._call_timeout)
        deadline = self._clock() + seconds
        connect, read = self._timeout
        try:
            response = self._session.request(
                request.method,
                request.url,
                params=list(request.params),
                headers=request.wire_headers(),
                data=request.body,
                timeout=(min(connect, seconds), min(read, seconds)),
                allow_redirects=False,
                verify=self._verify,
                proxies=_environment_proxies(request.url),
                stream=True,
            )
        except requests.exceptions.RequestException as exc:
            sent = not _never_connected(exc)
            if self._clock() >= deadline:
                raise DeadlineExceeded(request, seconds, sent=sent) from None
            raise TransportError(
                f"{type(exc).__name__} on {request.method} {request.url}", sent=sent
            ) from None
        try:
            body = self._read_body(request, response, deadline, seconds)
        except BaseException:
            response.close()  # drops the connection: the rest of the answer is never read
            raise
        return HttpResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)

    def _read_body(
        self, request: HttpRequest, response: requests.Response, deadline: float, seconds: float
    ) -> bytes:
        import urllib3.exceptions

        declared = _declared_length(response.headers.get("content-length"))
        if declared is not None and declared > self._cap:
            raise _too_large(request, response.status_code, self._cap, declared)
        raw = response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DeadlineExceeded(request, seconds)
            if sock is not None:
                sock.settimeout(min(self._timeout[1], remaining))  # urllib3 resets it on the next request
            try:
                chunk = raw.read1(min(_CHUNK, self._cap - size + 1), decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if self._clock() >= deadline:
                    raise DeadlineExceeded(request, seconds) from None
                raise TransportError(
                    f"{type(exc).__name__} while reading the answer to {request.method} {request.url}",
                    sent=True,
                ) from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self._cap:
                raise _too_large(request, response.status_code, self._cap, None)
            chunks.append(chunk)

    def close(self) -> None:
        self._session.close()


@functools.lru_cache(maxsize=64)
def _proxies_for_origin(origin: str) -> dict[str, str]:
    from requests.utils import get_environ_proxies

    return dict(get_environ_proxies(origin))


def _environment_proxies(url: str) -> dict[str, str]:
    """The environment's proxy for the URL's host (``NO_PROXY`` honoured), looked up once per host."""
    parts = urlsplit(url)
    return _proxies_for_origin(f"{parts.scheme}://{parts.netloc}")


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: each costs about a megabyte, and a triggerer runs
    hundreds of trigger clients at once."""
    import httpx

    return httpx.create_ssl_context()


class AsyncTransport:
    """Sends ``HttpRequest`` objects over one ``httpx.AsyncClient`` (close it with ``aclose``).

    The whole exchange runs as a task under the total deadline; the body is streamed and its bytes
    counted as they arrive. A cancel always wins over an answer that lands at the same moment (unlike
    ``asyncio.wait_for`` before Python 3.12, which drops it: a trigger would then poll on for ever).
    """

    def __init__(
        self,
        timeout: tuple[float, float],
        client: httpx.AsyncClient | None = None,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        import httpx

        connect, read = timeout
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(read, connect=connect),
            verify=_shared_ssl_context(),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._call_timeout = call_timeout
        self._cap = max_response_bytes

    async def send(self, request: HttpRequest, timeout: float | None = None) -> HttpResponse:
        """One exchange, ended after ``timeout`` seconds (default ``call_timeout``) however it goes."""
        seconds = self._call_timeout if timeout is None else min(timeout, self._call_timeout)
        exchange = asyncio.ensure_future(self._exchange(request))
        try:
            await asyncio.wait((exchange,), timeout=seconds)
        except BaseException:  # cancelled while waiting: the exchange stops too, its answer unread
            if not exchange.cancel() and not exchange.cancelled():
                exchange.exception()  # answered or failed just now: read, so nothing is logged as lost
            raise
        if not exchange.done():
            exchange.cancel()
            await asyncio.wait((exchange,))  # let it close its connection
            raise DeadlineExceeded(request, seconds)
        return exchange.result()

    async def _exchange(self, request: HttpRequest) -> HttpResponse:
        import httpx

        try:
            async with self._client.stream(
                request.method,
                request.url,
                params=list(request.params),
                headers=request.wire_headers(),
                content=request.body,
            ) as response:
                declared = _declared_length(response.headers.get("content-length"))
                if declared is not None and declared > self._cap:
                    raise _too_large(request, response.status_code, self._cap, declared)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._cap:
                        raise _too_large(request, response.status_code, self._cap, None)
                    chunks.append(chunk)
                return HttpResponse(
                    response.status_code,
                    {k.lower(): v for k, v in response.headers.items()},
                    b"".join(chunks),
                )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransportError(
                f"{type(exc).__name__} on {request.method} {request.url}", sent=False
            ) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                f"{type(exc).__name__} on {request.method} {request.url}", sent=True
            ) from None

    async def aclose(self) -> None:
        await self._client.aclose()
