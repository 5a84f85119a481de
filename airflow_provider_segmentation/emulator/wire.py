"""AEP's response shapes: UPAPI and gateway error bodies, and small JSON helpers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_segmentation.emulator.state import EmulatorState, Sandbox

UPAPI_TYPE = "https://ns.adobe.com/aep/errors/"
T = TypeVar("T")


class AEPHttpError(Exception):
    """Raised by a route to answer an UPAPI-shaped error."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def upapi_error(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "requestId": request.headers.get("x-request-id", ""),
        "errors": {str(status): [{"code": code, "message": message}]},
        "type": UPAPI_TYPE + code,
        "title": message,
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def gateway_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "/placeholder/type/uri", "status": status, "title": title, "detail": detail},
        status_code=status,
    )


NotFound = Callable[[str, str, Sandbox], AEPHttpError]  # (kind, id, sandbox) -> the 404 to raise


def not_found(kind: str, ident: str, sandbox: Sandbox) -> AEPHttpError:
    """The segmentation service's 404 (the audiences service words its own: ``routes_audiences``)."""
    return AEPHttpError(
        404, "UPAPI-113000-404", f"{kind} with id '{ident}' not found in sandbox '{sandbox.name}'"
    )


def existing(
    store: dict[str, T], ident: str, kind: str, sandbox: Sandbox, missing: NotFound = not_found
) -> T:
    """``store[ident]``, or the ``missing`` 404 for a ``kind`` with that id; call it under the state lock."""
    item = store.get(ident)
    if item is None:
        raise missing(kind, ident, sandbox)
    return item


def removed(store: dict[str, T], ident: str, kind: str, sandbox: Sandbox, missing: NotFound = not_found) -> T:
    """``store.pop(ident)``, or the ``missing`` 404 for a ``kind`` with that id; call it under the lock."""
    item = store.pop(ident, None)
    if item is None:
        raise missing(kind, ident, sandbox)
    return item


def bad_request(message: str, code: str = "UPAPI-113434-400") -> AEPHttpError:
    return AEPHttpError(400, code, message)


def no_content() -> Response:
    return Response(status_code=204)


def message(text: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"status": True, "message": text}, status_code=status)


def int_param(request: Request, name: str, default: int, *, minimum: int = 0, maximum: int = 10_000) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"query parameter '{name}' must be an integer, got '{raw}'") from None
    if not minimum <= value <= maximum:
        raise bad_request(f"query parameter '{name}' must be between {minimum} and {maximum}")
    return value


async def json_body(request: Request) -> Any:
    """The body as JSON, or AEP's 400. Strict JSON only: ``NaN``, ``Infinity``, numbers beyond a double
    and lone UTF-16 surrogates (``"\\ud800"``) are refused, as they could be stored but never answered."""
    raw = await request.body()
    try:
        value = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        raise AEPHttpError(400, "UPLIB-101206-500", "The request body is not valid JSON") from None
    return value


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond a double")
    return number


def sandbox_of(request: Request) -> Sandbox:
    state: EmulatorState = request.app.state.emulator
    return state.sandboxes[request.headers["x-sandbox-name"]]


def emulator(request: Request) -> EmulatorState:
    return request.app.state.emulator


def paged_query(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
    """One page of ``items`` from ``start`` (an offset) and ``limit``; a non-integer one is a 400."""
    start = int_param(request, "start", 0, maximum=10**12)
    limit = int_param(request, "limit", 100, minimum=1, maximum=1000)
    return items[start : start + limit], start, limit


SortKeys = list[tuple[str, str]]  # (attribute, "asc" | "desc"), most significant first


def sort_param(request: Request, default: str) -> SortKeys:
    """``sort=attr:asc|desc[,attr2:asc|desc...]`` (the spec's ``[attributeName]:[desc/asc]``; the docs
    comma-join keys, e.g. ``name:asc,internalId:desc``), or ``default``; any other direction is a 400.
    The spec never shows a key without a direction: the emulator reads one as ``asc``."""
    keys = []
    for key in (request.query_params.get("sort") or default).split(","):
        attribute, colon, direction = key.lstrip().partition(":")
        direction = direction.lower() if colon else "asc"
        if not attribute or direction not in ("asc", "desc"):
            raise bad_request(
                f"query parameter 'sort' must be attributeName:asc or attributeName:desc "
                f"(comma-separated for several keys), got '{key}'"
            )
        keys.append((attribute, direction))
    return keys


def sorted_by(items: list[dict[str, Any]], keys: SortKeys) -> list[dict[str, Any]]:
    """``items`` ordered by ``keys`` (a dotted attribute reads nested objects). Stable: equal items keep
    their creation order. Absent values come last in either direction, as AEP does not say."""
    if len(keys) == 1:  # a listing's default order, page after page: no keys to build and sort
        attribute, direction = keys[0]
        if direction == "asc" and _ascending(items, attribute):
            return list(items)
        if direction == "desc" and _ascending(items, attribute, strictly=True):
            return items[::-1]  # no ties, whose creation order a stable sort would keep
    ordered = list(items)
    for attribute, direction in reversed(keys):
        keyed = [(_sortable(_lookup(item, attribute)), item) for item in ordered]
        present = [(key, item) for key, item in keyed if key is not None]
        present.sort(key=lambda pair: pair[0], reverse=direction == "desc")
        ordered = [item for _, item in present] + [item for key, item in keyed if key is None]
    return ordered


def _ascending(items: list[dict[str, Any]], attribute: str, *, strictly: bool = False) -> bool:
    """Are ``items`` already in ascending order of a top-level number every one of them has?"""
    previous: float | None = None
    for item in items:
        value = item.get(attribute)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        if previous is not None and (value <= previous if strictly else value < previous):
            return False
        previous = value
    return True


def _lookup(item: Any, attribute: str) -> Any:
    for part in attribute.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _sortable(value: Any) -> tuple[int, Any] | None:
    """Numbers before text before anything else (as JSON), so that mixed values never fail to compare."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True))


def next_start(start: int, limit: int, total: int) -> int | None:
    """``_page.next`` of an offset-paged list: the next ``start``, or None on the last page, where AEP
    leaves ``next`` out (clients page ``while next`` or ``while next != 0``; ``null`` would loop them)."""
    return start + limit if start + limit < total else None
