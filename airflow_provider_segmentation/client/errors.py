"""One error hierarchy for everything that can go wrong talking to AEP, and the mapper from responses.

Every error carries the HTTP status, Adobe's error code (gateway ``error_code``, UPAPI ``code`` or a
problem ``type``), the message and the ``x-request-id`` of the call, so that a log line is enough to
ask Adobe support about it. Errors raised for bad input before any HTTP call name the ``field``.
Whoever builds an error, its message and code never show a credential this process knows, in any
spelling (``redaction.hide_known``): the last guard before a text reaches a log, a UI or XCom.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_segmentation.client.redaction import hide_known
from airflow_provider_segmentation.client.wire import UnreadableBody, read_json


class AEPError(Exception):
    """Base of every error of this package."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = hide_known(message)
        self.status = status
        self.error_code = None if error_code is None else hide_known(error_code)
        self.request_id = request_id
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        details = [f"HTTP {self.status}" if self.status else "", self.error_code or ""]
        if self.request_id:
            details.append(f"x-request-id {self.request_id}")
        suffix = ", ".join(d for d in details if d)
        return f"{self.message} ({suffix})" if suffix else self.message

    def with_message(self, message: str) -> AEPError:
        """A copy of this error (same class, status, code, request id) that says ``message``."""
        return _rebuild(type(self), message, {**self.__dict__, "message": message})

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep errors picklable (Airflow ships exceptions between processes)."""
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[AEPError], message: str, state: dict[str, Any]) -> AEPError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    error.message = hide_known(error.message)
    error.args = (error._render(),)
    return error


class AEPAuthError(AEPError):
    """IMS refused the credential, or the gateway refused the token (401)."""


class AEPPermissionError(AEPError):
    """403: the credential lacks a product profile, an ABAC permission, or the org/sandbox."""


class AEPNotFoundError(AEPError):
    """404: no such object in this sandbox (a wrong sandbox looks exactly like this)."""


class AEPRateLimitError(AEPError):
    """429 after the retry budget was spent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class AEPValidationError(AEPError, ValueError):
    """400 from AEP, or bad input caught locally before any HTTP call (then ``field`` is set)."""


class AEPConfigurationError(AEPValidationError):
    """A connection field is missing or malformed."""


class AEPConflictError(AEPError):
    """409/422: the object already exists (e.g. a segment definition with the same name)."""


class AEPServerError(AEPError):
    """5xx, or an answer that is not what AEP documents (HTML gateway pages, truncated JSON)."""


class AEPConnectionError(AEPError):
    """The host could not be reached, or the connection broke before an answer arrived."""


class AEPTimeoutError(AEPError):
    """A job did not reach a terminal status before the caller's deadline."""


class AEPJobFailedError(AEPError):
    """AEP reported a job as FAILED (or CANCELLED); ``errors`` holds the job's own ``errors[]``."""

    def __init__(self, message: str, *, errors: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> None:
        self.summary = message  # without the job's errors, which ``errors`` carries
        self.errors = [dict(e) for e in errors]
        detail = "; ".join(f"{e.get('code')}: {e.get('msg') or e.get('message')}" for e in self.errors)
        super().__init__(f"{message}: {detail}" if detail else message, **kwargs)


class AEPJobCancelledError(AEPJobFailedError):
    """The job ended CANCELLED."""


class AEPAudienceSizeError(AEPError):
    """An estimate fell outside the size band a DAG author allowed."""


_STATUS_CLASSES: dict[int, type[AEPError]] = {
    400: AEPValidationError,
    401: AEPAuthError,
    403: AEPPermissionError,
    404: AEPNotFoundError,
    409: AEPConflictError,
    422: AEPConflictError,
    429: AEPRateLimitError,
}
_TOKEN_CODES = {"401013", "403010"}


def error_class_for(status: int) -> type[AEPError]:
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return AEPServerError
    return AEPValidationError if 400 <= status < 500 else AEPError


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """(error code, message) from any of AEP's error body shapes; (None, None) when it has none."""
    try:
        data = read_json(body)
    except UnreadableBody:
        return None, None
    if not isinstance(data, dict):
        return None, None
    if "error_code" in data:  # gateway
        return str(data["error_code"]), str(data.get("message") or "")
    errors = data.get("errors")
    if isinstance(errors, dict):  # UPAPI: {"errors": {"400": [{"code", "message"}]}}
        for entries in errors.values():
            if isinstance(entries, list) and entries and isinstance(entries[0], dict):
                first = entries[0]
                return _str_or_none(first.get("code")), str(first.get("message") or first.get("msg") or "")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return _str_or_none(first.get("code")), str(first.get("message") or first.get("msg") or "")
    if "error" in data:  # OAuth2 (IMS)
        return str(data["error"]), str(data.get("error_description") or data["error"])
    if "title" in data or "detail" in data:  # problem+json
        message = str(data.get("detail") or data.get("title") or "")
        # ``type`` is a URI; its last segment is a code only when it looks like one (not ".../uri").
        last = str(data.get("type") or "").rsplit("/", 1)[-1]
        return (last if re.search(r"\d", last) else None), message
    if "message" in data:
        return None, str(data["message"])
    return None, None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def is_token_rejection(status: int, error_code: str | None) -> bool:
    """The gateway says the token is missing or invalid: refresh it once and replay the call."""
    return status == 401 or (error_code in _TOKEN_CODES)


def _describe_unparseable(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    if "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        match = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL) or re.search(
            r"<h1>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL
        )
        found = match.group(1).strip() if match else "no title"
        return f"an HTML page ({found[:80]}) instead of JSON, usually from a proxy or gateway"
    if not text:
        return "an empty body"
    try:
        read_json(body)
    except UnreadableBody as exc:
        return f"a body this package cannot read: {exc.reason}"
    return f"a body that is not valid JSON ({text[:80]!r}...)"


def error_from_response(
    status: int,
    body: bytes,
    *,
    content_type: str = "",
    request_id: str | None = None,
    operation: str = "",
    retry_after: float | None = None,
    service: str = "AEP",
    location: str | None = None,
) -> AEPError:
    """Map one non-2xx answer to the right ``AEPError`` subclass with Adobe's code and message.

    ``service`` names who answered (``AEP`` or ``IMS``); ``location`` is a redirect's target.
    """
    code, message = parse_error_body(body)
    where = f"{operation}: " if operation else ""
    if 300 <= status < 400:
        target = urlsplit(location or "").hostname or "an unnamed host"
        return AEPServerError(
            f"{where}{service} answered HTTP {status}, a redirect to {target}, which is not followed (it "
            "would carry the credentials to another host): check that the host in the connection is the "
            "service itself, not a proxy or a login page",
            status=status,
            request_id=request_id,
        )
    if message is None and code is None:
        if status < 500 and status not in (401, 403, 404, 429) and body.strip():
            cls: type[AEPError] = AEPServerError
        else:
            cls = error_class_for(status)
        description = _describe_unparseable(body, content_type) if body.strip() else "no details"
        text = f"{where}{service} answered HTTP {status} with {description}"
    else:
        cls = error_class_for(status)
        said = message or "no message"
        text = f"{where}{service} answered HTTP {status}: {said}" if status >= 500 else f"{where}{said}"
    if status == 403 and code in _TOKEN_CODES:
        cls = AEPAuthError
    if cls is AEPRateLimitError:
        return AEPRateLimitError(
            text, retry_after=retry_after, status=status, error_code=code, request_id=request_id
        )
    return cls(text, status=status, error_code=code, request_id=request_id)


class AEPGuardrailError(AEPValidationError):
    """A request that AEP's documented rules refuse (at most 20 ids, 2 on-demand runs per UTC day...),
    refused before it is sent. ``findings`` holds each rule broken (``rules.RuleFinding``: rule id,
    message naming the ids or runs, fix, source URL); the message also says how to relax the check."""

    def __init__(self, message: str, *, findings: Sequence[Any] = (), **kwargs: Any) -> None:
        self.findings = tuple(findings)
        super().__init__(message, **kwargs)
