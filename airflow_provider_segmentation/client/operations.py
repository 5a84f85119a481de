"""How an operation is described once and executed by either transport, and how pages chain.

An ``Operation`` is data: method, path, query, JSON body (already encoded, so a payload that is not
JSON fails before any HTTP call), whether it creates something, and a pure ``parse``. A ``Page`` is what
a list operation parses into: its items and the ``Operation`` for the next page, following the
endpoint's own pagination scheme. The next page carries the ``PageTrail`` of the listing so far, and
``follow`` refuses a next page that was already fetched or a page count that cannot be: the guard lives in
``parse``, so the sync and async ``paginate`` loops share it without a copy.
"""

from __future__ import annotations

import hashlib
import json
import re
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
Query = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PageTrail:
    """What one listing has fetched so far: the query of each page, and a digest of each page's items."""

    queries: tuple[Query, ...] = ()
    digests: tuple[str, ...] = ()


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
    trail: PageTrail | None = field(default=None, repr=False, compare=False)

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


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL_CHARACTERS = ("/", "\\", "?", "#")


def check_id(value: Any, *, field_name: str, label: str | None = None) -> str:
    """One id as text, or an ``AEPValidationError`` on ``field_name`` that says what is wrong and the fix.

    Ids are opaque (preview ids are base64 with ``=`` and ``+``; export job ids are integers), but an id
    never is ``.`` or ``..``, never holds ``/ \\ ? #`` or a control character, and never has surrounding
    whitespace: such a value is a mistake that, once in a URL, would address another endpoint.
    ``label`` names the value in the message (``segment_ids[2]``); it defaults to ``field_name``.
    """
    name = label or field_name
    if isinstance(value, bool) or not isinstance(value, str | int):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise AEPValidationError(
            f"{name} must be an id (a string, or an integer for export jobs), got {type(value).__name__} "
            f"{shown}: pass the id exactly as AEP returned it",
            field=field_name,
        )
    text = str(value)
    if not text.strip():
        raise AEPValidationError(f"{name} is empty (a blank id): pass the id AEP returned", field=field_name)
    if _CONTROL.search(text.strip()):
        raise AEPValidationError(
            f"{name} {text!r} contains a control character (a newline?): pass the id exactly as AEP "
            "returned it",
            field=field_name,
        )
    if text != text.strip():
        raise AEPValidationError(
            f"{name} {text!r} has surrounding whitespace: remove it (use {text.strip()!r})",
            field=field_name,
        )
    if text in (".", ".."):
        raise AEPValidationError(
            f"{name} {text!r} is not an id: in a URL '.' and '..' are path steps that address another "
            "endpoint (/segment/jobs/. is /segment/jobs/); pass the id AEP returned",
            field=field_name,
        )
    for character in _URL_CHARACTERS:
        if character in text:
            raise AEPValidationError(
                f"{name} {text!r} contains {character!r}, which no AEP id holds (in a URL it would change "
                "the path or the query): pass the id exactly as AEP returned it",
                field=field_name,
            )
    return text


def segment(value: str | int, *, field_name: str) -> str:
    """One URL path segment from an id checked by ``check_id``; ids are opaque, so it is percent-encoded."""
    return quote(check_id(value, field_name=field_name), safe="")


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
    """A non-empty list of at most ``maximum`` ids, each one as ``check_id`` wants, else a clear error."""
    if ids is None or isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Iterable):
        raise AEPValidationError(f"{field_name} must be a list of ids, e.g. ['<id>']", field=field_name)
    values = list(ids)
    if not values:
        raise AEPValidationError(f"{field_name} is empty: pass at least one id", field=field_name)
    if len(values) > maximum:
        raise AEPValidationError(
            f"{field_name} has {len(values)} ids; AEP accepts at most {maximum} per call. Split the list "
            "into several calls",
            field=field_name,
        )
    return [
        check_id(value, field_name=field_name, label=f"{field_name}[{index}]")
        for index, value in enumerate(values)
    ]


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
_CURSORS = ("page", "start", "offset")


def parse_page(model: type[M], next_page: NextPage[M], *keys: str) -> Parser[Page[M]]:
    """The ``parse`` of a list operation: items under the first of ``keys``, then the next-page rule,
    checked by ``follow``."""

    def parse(response: HttpResponse, op: Operation[Page[M]]) -> Page[M]:
        data = decode(response) or {}
        raw = _items(data, *keys)
        following = next_page(op, data) if raw else None
        following = follow(op, following, data, raw)
        return Page([to_model(model, item) for item in raw], following)

    return parse


def follow(
    op: Operation[Page[M]], following: Operation[Page[M]] | None, data: Any, raw: list[Any]
) -> Operation[Page[M]] | None:
    """The next page to fetch, carrying the listing's trail; or ``AEPServerError`` if it would never end.

    Refused: a next page whose query was already fetched in this listing (a link to itself, a cycle of
    pages), a page whose items repeat an earlier page's (the server ignores the cursor), and page counts
    that cannot be (more pages than items, an empty page before the last, items past the last page).
    """
    trail = op.trail or PageTrail()
    _check_page_counts(op, data, len(raw), first=not trail.queries)
    if following is None:
        return None
    queries = (*trail.queries, _query_key(op.params))
    position = len(queries)  # this page's place in the listing, from 1
    target = _query_key(following.params)
    if target in queries:
        earlier = queries.index(target) + 1
        raise AEPServerError(
            f"{op.name}: the listing would never end: after page {position} ({_cursor(op.params)}), AEP "
            f"names as next page {_cursor(following.params)}, which is page {earlier} of this listing, "
            "already fetched; stopped instead of requesting it again (a pagination loop on the server)"
        )
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    if digest in trail.digests:
        earlier = trail.digests.index(digest) + 1
        raise AEPServerError(
            f"{op.name}: the listing would never end: page {position} ({_cursor(op.params)}) returned the "
            f"same items as page {earlier} ({_cursor(trail.queries[earlier - 1])}), so AEP ignores the "
            "cursor; stopped instead of requesting more pages"
        )
    return replace(following, trail=PageTrail(queries, (*trail.digests, digest)))


def _query_key(params: Query) -> Query:
    return tuple(sorted(params))


def _cursor(params: Query) -> str:
    """The page cursor of a query, as a user would read it: ``start=20``, or ``the first page``."""
    values = dict(params)
    shown = [f"{key}={values[key]}" for key in _CURSORS if key in values]
    return ", ".join(shown) if shown else "the first page"


def _whole(value: Any) -> int | None:
    """A count from an answer: a non-negative integer (or its digits), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _check_page_counts(op: Operation[Page[M]], data: Any, count: int, *, first: bool) -> None:
    """Refuse ``totalPages`` / ``totalCount`` that no listing can have, given this page and its number."""
    if not isinstance(data, dict):
        return
    info = data.get("page") if isinstance(data.get("page"), dict) else data.get("_page")
    if not isinstance(info, dict):
        return
    total_pages, total_count = _whole(info.get("totalPages")), _whole(info.get("totalCount"))
    if total_pages is not None and total_count is not None and total_pages > max(1, total_count):
        raise AEPServerError(
            f"{op.name}: AEP reports {total_pages} pages for {total_count} items (totalPages "
            f"{total_pages}, totalCount {total_count}), which no listing can have; stopped instead of "
            "requesting pages that cannot exist"
        )
    params = dict(op.params)
    index = _whole(params["page"]) if "page" in params else (0 if first else None)
    if index is None or total_pages is None:
        return
    where = f"page={index}"
    if count and index >= max(1, total_pages):
        raise AEPServerError(
            f"{op.name}: {where} returned items past the last page (totalPages {total_pages}, pages 0 to "
            f"{max(1, total_pages) - 1}); the page count is impossible, so the listing was stopped"
        )
    if not count and index + 1 < total_pages:
        raise AEPServerError(
            f"{op.name}: {where} is empty, yet AEP reports totalPages {total_pages} (pages 0 to "
            f"{total_pages - 1}); the page count is impossible, so the listing was stopped rather than "
            "ending early or going on"
        )


def by_page_number(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Definitions and search: 0-based ``page`` until ``totalPages``."""
    info = data.get("page") or {}
    current = int(dict(op.params).get("page", 0))
    total = info.get("totalPages")
    if total is None:
        return None
    pages = _whole(total)
    if pages is None:
        raise AEPServerError(f"{op.name}: AEP answered totalPages {total!r}, which is not a page count")
    return op.with_params(page=current + 1) if current + 1 < pages else None


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
