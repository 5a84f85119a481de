"""How an operation is described once and executed by either transport, and how pages chain.

An ``Operation`` is data: method, path, query, JSON body (already encoded, so a payload that is not
JSON fails before any HTTP call), whether it creates something, and a pure ``parse``. A ``Page`` is what
a list operation parses into: its items and the ``Operation`` for the next page, following the
endpoint's own pagination scheme.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

from pydantic import BaseModel, ValidationError

from airflow_provider_segmentation.client.errors import AEPServerError, AEPValidationError
from airflow_provider_segmentation.client.http import HttpResponse

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_SEGMENTS_PER_JOB = 1500


@dataclass(frozen=True)
class Operation(Generic[T]):
    name: str
    method: str
    path: str
    parse: Callable[[HttpResponse, Operation[T]], T] = field(repr=False)
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    creates: bool = False

    def with_params(self, **updates: Any) -> Operation[T]:
        """A copy whose query has ``updates`` set (``None`` removes a parameter)."""
        params = dict(self.params)
        for key, value in updates.items():
            key = key.replace("__", ".")
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        return replace(self, params=tuple(params.items()))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Operation[Page[T]] | None = None


def segment(value: str, *, field_name: str) -> str:
    """One URL path segment; ids are opaque (preview ids are base64 with ``=``)."""
    if not isinstance(value, str | int) or not str(value).strip():
        raise AEPValidationError(f"{field_name} is empty: pass the id AEP returned", field=field_name)
    return quote(str(value), safe="")


def query(**params: Any) -> tuple[tuple[str, str], ...]:
    """Query parameters without the ``None`` ones; ``a__b`` spells ``a.b``; booleans as AEP writes them."""
    items = []
    for key, value in params.items():
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        items.append((key.replace("__", "."), text))
    return tuple(items)


def encode_body(payload: Any, *, field_name: str) -> bytes:
    """JSON-encode a payload now, so that a non-serializable one fails before any HTTP call."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise AEPValidationError(
            f"{field_name} is not JSON-serializable ({exc}); pass only dicts, lists, strings, numbers, "
            "booleans and None (convert datetimes with .isoformat())",
            field=field_name,
        ) from None


def decode(response: HttpResponse) -> Any:
    """The JSON body, ``None`` for an empty one; garbage becomes a clean ``AEPServerError``."""
    if not response.body.strip():
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        raise AEPServerError(
            f"AEP answered HTTP {response.status} with a body that is not JSON "
            f"({response.body[:60].decode('utf-8', 'replace')!r})",
            status=response.status,
        ) from None


def to_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AEPServerError(f"AEP answered a {model.__name__} this package cannot read: {exc}") from None


Parser = Callable[[HttpResponse, Operation[T]], T]


def parse_model(model: type[M]) -> Parser[M]:
    return lambda response, _op: to_model(model, decode(response))


def parse_optional(model: type[M]) -> Parser[M | None]:
    """For 200/204 answers that may or may not carry a body (the spec and docs disagree)."""

    def parse(response: HttpResponse, _op: Operation[M | None]) -> M | None:
        data = decode(response)
        return to_model(model, data) if isinstance(data, dict) else None

    return parse


def parse_bulk(model: type[M]) -> Parser[dict[str, M]]:
    """207 bulk-get answers: ``{"results": {id: object | {"errors": {"404": [...]}}}}``; ids in error are
    left out (a job's own ``errors`` is a list, a per-id failure is a dict keyed by status)."""

    def parse(response: HttpResponse, _op: Operation[dict[str, M]]) -> dict[str, M]:
        results = (decode(response) or {}).get("results") or {}
        return {
            key: to_model(model, value)
            for key, value in results.items()
            if not isinstance(value.get("errors"), dict)
        }

    return parse


def validate_ids(
    ids: Iterable[str] | None, *, field_name: str, maximum: int = MAX_SEGMENTS_PER_JOB
) -> list[str]:
    """A non-empty list of at most ``maximum`` non-blank ids, or a clear error naming the field."""
    if ids is None or isinstance(ids, str | bytes):
        raise AEPValidationError(f"{field_name} must be a list of ids, e.g. ['<id>']", field=field_name)
    values = [str(i).strip() for i in ids]
    if not values:
        raise AEPValidationError(f"{field_name} is empty: pass at least one id", field=field_name)
    if len(values) > maximum:
        raise AEPValidationError(
            f"{field_name} has {len(values)} ids; AEP accepts at most {maximum} per call. Split the list "
            "into several calls",
            field=field_name,
        )
    if any(not v for v in values):
        raise AEPValidationError(f"{field_name} contains a blank id", field=field_name)
    return values


def validate_choice(value: str | None, choices: Sequence[str], *, field_name: str) -> str | None:
    if value is None:
        return None
    text = str(getattr(value, "value", value))
    if text not in choices:
        raise AEPValidationError(
            f"{field_name} {text!r} is not one of {', '.join(choices)}", field=field_name
        )
    return text


# -- pagination schemes: each reads a list body and returns (items, next operation or None) ----------


def _items(data: Any, *keys: str) -> list[Any]:
    for key in keys:
        if isinstance(data, dict) and isinstance(data.get(key), list):
            return list(data[key])
    return []


def _link_query(link: Any) -> dict[str, str]:
    href = link.get("href") if isinstance(link, dict) else link
    return dict(parse_qsl(urlsplit(str(href)).query)) if href else {}


NextPage = Callable[[Operation[Page[M]], Any], "Operation[Page[M]] | None"]


def parse_page(model: type[M], next_page: NextPage[M], *keys: str) -> Parser[Page[M]]:
    """The ``parse`` of a list operation: items under the first of ``keys``, then the next-page rule."""

    def parse(response: HttpResponse, op: Operation[Page[M]]) -> Page[M]:
        data = decode(response) or {}
        raw = _items(data, *keys)
        following = next_page(op, data) if raw else None
        return Page([to_model(model, item) for item in raw], following)

    return parse


def by_page_number(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Definitions and search: 0-based ``page`` until ``totalPages``."""
    info = data.get("page") or {}
    current = int(dict(op.params).get("page", 0))
    total = info.get("totalPages")
    return op.with_params(page=current + 1) if total is not None and current + 1 < int(total) else None


def by_links_next_or_start(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Segment jobs: follow ``_links.next.href``; else ``start=_page.next``."""
    link_params = _link_query((data.get("_links") or {}).get("next"))
    if link_params:
        return op.with_params(**link_params)
    return by_page_next(op, data)


def by_page_next(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Schedules and audiences: ``start=_page.next`` while it moves forward."""
    following = (data.get("_page") or {}).get("next")
    current = dict(op.params).get("start")
    if following in (None, "") or str(following) == str(current):
        return None
    if current is None and str(following) == "0":
        return None
    return op.with_params(start=following)


def by_offset_link(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Export jobs (``link.next``) and preview results (``links.next``): an opaque ``offset`` cursor."""
    link = (data.get("link") or {}).get("next") or (data.get("links") or {}).get("next")
    params = _link_query(link)
    offset = params.get("offset")
    if not offset or offset == dict(op.params).get("offset"):
        return None
    return op.with_params(offset=offset, limit=params.get("limit", dict(op.params).get("limit")))
