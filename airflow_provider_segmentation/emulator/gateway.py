"""The Adobe I/O gateway in front of the emulator: request log, fault injection and header checks.

Header checks reproduce the gateway's codes: 403010 (no token), 401013 (bad or expired token), 403000
(no API key), 403003 (API key of another client), 400003 (no org header), 403025 (token not entitled to
the org), plus a problem body when a request with a body lacks ``Content-Type: application/json``.
Faults (``POST /_emulator/faults``) apply to IMS and platform routes, never to ``/_emulator/``.
With the ``capture_bodies`` setting, each log entry also keeps the request's headers (the token
redacted), its body and the answer's body, for contract tests that hold both to the OpenAPI spec.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_segmentation.emulator.settings import DEFAULT_CLIENT_SECRET, EmulatorSettings
from airflow_provider_segmentation.emulator.state import EmulatorState
from airflow_provider_segmentation.emulator.wire import gateway_error, problem, upapi_error

PLATFORM_PREFIX = "/data/core/ups"
MAX_CAPTURED_BYTES = 1 << 20  # a captured body is cut there (with "truncated": true)
HTML_BODY = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


def listens_on_loopback(host: str) -> bool:
    """True when the emulator is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: EmulatorSettings) -> str | None:
    """A warning when the emulator listens beyond loopback behind the publicly documented credential,
    which opens its admin routes (read and change all state) to anyone who can reach it; else None."""
    if listens_on_loopback(settings.host) or settings.client_secret != DEFAULT_CLIENT_SECRET:
        return None
    return (
        f"WARNING: the emulator listens on {settings.host}, beyond loopback, with the default client "
        f"secret {DEFAULT_CLIENT_SECRET!r}, which is published: anyone who can reach port {settings.port} "
        "can read and change its state through /_emulator/. Start it with --client-id and "
        "--client-secret of your own (EmulatorSettings(client_id=..., client_secret=...))."
    )


def credential_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of UTF-8 bytes (``compare_digest`` refuses non-ASCII ``str``); a secret
    from a command line that is not UTF-8 carries surrogates, which ``surrogatepass`` keeps comparable."""
    return secrets.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class DropConnection(Exception):
    """Raised after the response has started so that the server aborts the connection mid-answer."""


@dataclass
class Fault:
    method: str
    path: str
    kind: str
    status: int = 503
    retry_after: float | str | None = None
    latency_seconds: float = 0.0
    count: int | None = None
    probability: float | None = None
    html: bool = False
    after: bool = False  # the request is performed first, then its answer is lost (an ambiguous create)
    rng: random.Random = field(default_factory=random.Random)

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        return path.startswith(self.path[:-1]) if self.path.endswith("*") else path == self.path

    def fires(self) -> bool:
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
            return True
        return self.rng.random() < (self.probability if self.probability is not None else 1.0)


MAX_FAULT_SECONDS = 600.0  # latency and Retry-After: longer would outlive any test


def parse_fault(spec: Any) -> Fault:
    """A fault from its admin spec; ``ValueError`` names a field of the wrong type or range, so that a bad
    spec is refused when it is sent, never when a request it matches is answered."""
    if not isinstance(spec, dict):
        raise ValueError("send an object")
    kind, status = spec.get("kind", "status"), spec.get("status", 503)
    if kind not in ("status", "drop", "latency"):
        raise ValueError("kind must be status, drop or latency")
    # 200: a success whose body is not the answer (an error body, or an HTML page with html=true)
    if kind == "status" and (isinstance(status, bool) or status not in (200, 429, 500, 502, 503, 504)):
        raise ValueError("status must be one of 200, 429, 500, 502, 503, 504")
    method, path, seed, count = spec.get("method", "*"), spec.get("path"), spec.get("seed"), spec.get("count")
    if not isinstance(method, str) or not isinstance(path, str):
        raise ValueError("method and path must be strings (path is required)")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
        raise ValueError("seed must be an integer or a string")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise ValueError("count must be a whole number from 0")
    retry_after = spec.get("retry_after")  # seconds, or any header text (an HTTP date, "-5", "nan"...)
    if isinstance(retry_after, str) and not (retry_after.isascii() and retry_after.isprintable()):
        raise ValueError("retry_after text must be printable ASCII (it is sent as a header)")
    return Fault(
        method=method.upper(),
        path=path,
        kind=kind,
        status=status,
        retry_after=retry_after
        if isinstance(retry_after, str)
        else _number(spec, "retry_after", MAX_FAULT_SECONDS),
        latency_seconds=_number(spec, "latency_seconds", MAX_FAULT_SECONDS) or 0.0,
        count=count,
        probability=_number(spec, "probability", 1.0),
        html=_flag(spec, "html"),
        after=_flag(spec, "after"),
        rng=random.Random(seed),
    )


def _number(spec: dict[str, Any], key: str, high: float) -> float | None:
    """``spec[key]``, a number from 0 to ``high``, or None when it is absent."""
    value = spec.get(key)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high
    ):
        raise ValueError(f"{key} must be a number from 0 to {high:g}")
    return value


def _flag(spec: dict[str, Any], key: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


@dataclass
class Capture:
    """The raw bytes of one exchange, kept when ``capture_bodies`` is on."""

    request: bytearray = field(default_factory=bytearray)
    response: bytearray = field(default_factory=bytearray)
    response_headers: dict[str, str] = field(default_factory=dict)

    def recording(self, receive: Receive) -> Receive:
        async def recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.request.extend(message.get("body", b""))
            return message

        return recorded

    def entry(self, request: Request) -> dict[str, Any]:
        headers = dict(request.headers)
        if "authorization" in headers:
            scheme, _, _token = headers["authorization"].partition(" ")
            headers["authorization"] = f"{scheme} <redacted>"
        return {
            "request_headers": headers,
            "request_body": _text(self.request),
            "response_headers": self.response_headers,
            "response_body": _text(self.response),
            "truncated": max(len(self.request), len(self.response)) > MAX_CAPTURED_BYTES,
        }


def _text(raw: bytearray) -> str | None:
    return bytes(raw[:MAX_CAPTURED_BYTES]).decode("utf-8", "replace") if raw else None


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    def _dated(self, send: Send) -> Send:
        """Answers carry the emulator clock's time in ``Date``, as AEP's carry AEP's: a client that reads
        the server's clock from ``Date`` (to compare it with creation times) must see the stepped clock."""

        async def dated_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", formatdate(self.state.clock.now(), usegmt=True).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        return dated_send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._dated(send)
        request = Request(scope)
        path, method = request.url.path, request.method
        started = time.time()
        status_box: dict[str, Any] = {"status": 0, "fault": None}
        capture = Capture() if self.state.settings.capture_bodies else None

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
                if capture is not None:
                    capture.response_headers = {
                        k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])
                    }
            elif message["type"] == "http.response.body" and capture is not None:
                capture.response.extend(message.get("body", b""))
            await send(message)

        if capture is not None:
            receive = capture.recording(receive)

        try:
            if path.startswith("/_emulator/"):
                refusal = None if self._admin_allowed(request) else self._admin_refusal()
                await (refusal or self.app)(scope, receive, send)
                return
            fault = self._fault_for(method, path)
            if fault is not None and fault.kind == "latency":
                await asyncio.sleep(fault.latency_seconds)
            elif fault is not None:
                status_box["fault"] = f"{fault.kind} after the work" if fault.after else fault.kind
                if fault.after:  # AEP did the work; the answer never reaches the caller
                    await self._perform_and_discard(request, scope, receive)
                await self._inject(fault, logging_send)
                return
            rejection = self._check_headers(request) if path.startswith(PLATFORM_PREFIX) else None
            if rejection is not None:
                await rejection(scope, receive, logging_send)
                return
            await self.app(scope, receive, logging_send)
        finally:
            if not path.startswith("/_emulator/"):
                self._log(request, status_box["status"], started, status_box["fault"], capture)

    def _admin_allowed(self, request: Request) -> bool:
        """Admin routes answer anyone on loopback; on any other address only the emulator's credential:
        ``Authorization: Basic <client id:client secret>`` or a bearer token its IMS issued."""
        settings = self.state.settings
        if listens_on_loopback(settings.host):
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            # both compared, so the time taken does not tell whether the client id was right
            return credential_matches(user, settings.client_id) & credential_matches(
                password, settings.client_secret
            )
        if scheme.lower() == "bearer":
            with self.state.lock:
                issued = self.state.tokens.get(value.strip())
            return issued is not None and issued >= self.state.now()
        return False

    @staticmethod
    def _admin_refusal() -> ASGIApp:
        return JSONResponse(
            {
                "error": "admin routes need the emulator's credential when it listens beyond loopback: "
                "send Authorization: Basic <client id:client secret> (curl -u) or a bearer token "
                "from /ims/token/v3"
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="aep-emulator"'},
        )

    async def _perform_and_discard(self, request: Request, scope: Scope, receive: Receive) -> None:
        async def discard(message: Message) -> None:
            return None

        if self._check_headers(request) is None:
            await self.app(scope, receive, discard)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults.values():
                if fault.matches(method, path) and fault.fires():
                    return fault
        return None

    async def _inject(self, fault: Fault, send: Send) -> None:
        if fault.kind == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
                }
            )
            raise DropConnection("emulated dropped connection")
        headers = [(b"content-type", b"text/html" if fault.html else b"application/json")]
        if fault.retry_after is not None:
            headers.append((b"retry-after", str(fault.retry_after).encode()))
        if fault.html:
            body = HTML_BODY
        elif fault.status == 429:
            body = json.dumps({"error_code": "429050", "message": "Too many requests"}).encode()
        else:
            body = json.dumps(
                {
                    "type": "/placeholder/type/uri",
                    "status": fault.status,
                    "title": "ServiceUnavailable",
                    "detail": "Emulated fault",
                }
            ).encode()
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _check_headers(self, request: Request) -> Any:
        headers = request.headers
        settings = self.state.settings
        auth = headers.get("authorization", "")
        if not auth:
            return gateway_error(401, "403010", "Oauth token is missing.")
        token = auth.removeprefix("Bearer ").strip()
        with self.state.lock:
            issued = self.state.tokens.get(token)
        if issued is None or issued < self.state.now():
            return gateway_error(401, "401013", "Oauth token is not valid")
        api_key = headers.get("x-api-key")
        if not api_key:
            return gateway_error(403, "403000", "Api Key is required")
        if api_key != settings.client_id:
            return gateway_error(403, "403003", "Api Key is invalid")
        org = headers.get("x-gw-ims-org-id")
        if not org:
            return gateway_error(400, "400003", "Missing header: x-gw-ims-org-id")
        if org != settings.org_id:
            return gateway_error(403, "403025", "Profile is not valid")
        sandbox = headers.get("x-sandbox-name")
        if not sandbox:
            return upapi_error(request, 400, "UPAPI-113001-400", "Missing header: x-sandbox-name")
        if sandbox not in self.state.sandboxes:
            return upapi_error(
                request,
                403,
                "UPAPI-113752-403",
                f"Sandbox '{sandbox}' does not exist in org {settings.org_id} or access is denied",
            )
        if request.method in ("POST", "PUT", "PATCH"):
            content_type = headers.get("content-type", "")
            if not content_type.startswith("application/json"):
                return problem(400, "BadRequestError", "A valid content-type must be specified")
        if (
            request.url.path.startswith(PLATFORM_PREFIX + "/search/")
            and headers.get("x-ups-search-version") != "1.0"
        ):
            return upapi_error(request, 400, "UPAPI-113002-400", "Missing header: x-ups-search-version: 1.0")
        return None

    def _log(
        self, request: Request, status: int, started: float, fault: str | None, capture: Capture | None
    ) -> None:
        entry: dict[str, Any] = {
            "fault": fault,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "status": status,
            "time": started,
            "duration_ms": round((time.time() - started) * 1000, 3),
            "request_id": request.headers.get("x-request-id", ""),
            "sandbox": request.headers.get("x-sandbox-name", ""),
        }
        if capture is not None:
            entry.update(capture.entry(request))
        with self.state.lock:
            self.state.request_log.append(entry)
