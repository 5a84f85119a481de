"""How the pages of a list operation chain, and the guard that refuses a listing that would never end.

Each endpoint has its own scheme (page numbers, ``start`` offsets, links, opaque cursors). A list
operation's ``parse`` reads a page's items and builds the ``Operation`` of the next page; that next
page carries the ``PageTrail`` of the listing so far, and ``follow`` refuses a next page that was
already fetched or a page count that cannot be. The guard lives in ``parse``, so the sync and async
``paginate`` loops share it without a copy.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from airflow_provider_segmentation.client.errors import AEPServerError
from airflow_provider_segmentation.client.http import HttpResponse
from airflow_provider_segmentation.client.operations import (
    M,
    Operation,
    Page,
    PageTrail,
    Parser,
    Query,
    decode,
)
from airflow_provider_segmentation.client.wire import quote_value, whole_number

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
    checked by ``follow``.

    The body is parsed and the items validated in one pass (pydantic's JSON parser straight into the
    models: a 10,000-item listing is as fast as reading plain JSON); an answer that does not fit the
    envelope takes the slow path, which says precisely what is wrong with it.
    """
    envelope = _envelope(model, keys)

    def parse(response: HttpResponse, op: Operation[Page[M]]) -> Page[M]:
        try:
            page = envelope.validate_json(response.body or b"{}")
        except ValidationError:
            return _parse_slowly(model, next_page, keys, response, op)
        items: list[M] = next((found for key in keys if (found := getattr(page, key)) is not None), [])
        data = page.model_extra or {}
        following = next_page(op, data) if items else None
        return Page(items, follow(op, following, data, items), _ahead(op, following, next_page, data))

    return parse


def _parse_slowly(
    model: type[M],
    next_page: NextPage[M],
    keys: tuple[str, ...],
    response: HttpResponse,
    op: Operation[Page[M]],
) -> Page[M]:
    data = decode(response) or {}
    raw = _items(data, *keys)
    following = next_page(op, data) if raw else None
    following = follow(op, following, data, raw)
    try:
        return Page(_list_adapter(model).validate_python(raw), following)
    except ValidationError as exc:
        raise AEPServerError(f"AEP answered a {model.__name__} this package cannot read: {exc}") from None


@functools.cache
def _envelope(model: type[M], keys: tuple[str, ...]) -> TypeAdapter[Any]:
    """A list body: the items under ``keys`` as ``model``s, everything else (paging) kept as JSON."""
    fields: dict[str, Any] = {key: (list[model] | None, None) for key in keys}  # type: ignore[valid-type]
    page = create_model(f"{model.__name__}Page", __config__=ConfigDict(extra="allow"), **fields)
    return TypeAdapter(page)


@functools.cache
def _list_adapter(model: type[M]) -> TypeAdapter[list[M]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


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
    digest = _digest(raw)
    if digest in trail.digests:
        earlier = trail.digests.index(digest) + 1
        raise AEPServerError(
            f"{op.name}: the listing would never end: page {position} ({_cursor(op.params)}) returned the "
            f"same items as page {earlier} ({_cursor(trail.queries[earlier - 1])}), so AEP ignores the "
            "cursor; stopped instead of requesting more pages"
        )
    return replace(following, trail=PageTrail(queries, (*trail.digests, digest)))


def _digest(items: list[Any]) -> str:
    """What identifies a page's items (raw JSON or models): their ids when all have one, else their JSON."""
    ids = [item.get("id") if isinstance(item, dict) else getattr(item, "id", None) for item in items]
    if None in ids:
        ids = [item.model_dump_json() if isinstance(item, BaseModel) else item for item in items]
    return hashlib.sha256(json.dumps(ids, default=str).encode()).hexdigest()


def _query_key(params: Query) -> Query:
    return tuple(sorted(params))


def _cursor(params: Query) -> str:
    """The page cursor of a query, as a user would read it: ``start=20``, or ``the first page``."""
    values = dict(params)
    shown = [f"{key}={values[key]}" for key in _CURSORS if key in values]
    return ", ".join(shown) if shown else "the first page"


def _check_page_counts(op: Operation[Page[M]], data: Any, count: int, *, first: bool) -> None:
    """Refuse ``totalPages`` / ``totalCount`` that no listing can have, given this page and its number."""
    if not isinstance(data, dict):
        return
    info = data.get("page") if isinstance(data.get("page"), dict) else data.get("_page")
    if not isinstance(info, dict):
        return
    total_pages, total_count = whole_number(info.get("totalPages")), whole_number(info.get("totalCount"))
    if total_pages is not None and total_count is not None and total_pages > max(1, total_count):
        raise AEPServerError(
            f"{op.name}: AEP reports {total_pages} pages for {total_count} items (totalPages "
            f"{total_pages}, totalCount {total_count}), which no listing can have; stopped instead of "
            "requesting pages that cannot exist"
        )
    params = dict(op.params)
    index = whole_number(params["page"]) if "page" in params else (0 if first else None)
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


MAX_PAGES_AHEAD = 1000


def _ahead(
    op: Operation[Page[M]], following: Operation[Page[M]] | None, next_page: NextPage[M], data: Any
) -> tuple[Operation[Page[M]], ...]:
    """For page-number listings, the first page names every page that follows: fetch them ahead."""
    first = dict(op.params).get("page", "0")
    if following is None or next_page is not by_page_number or op.trail is not None or first != "0":
        return ()
    total = whole_number((data.get("page") or {}).get("totalPages")) or 0
    if total > MAX_PAGES_AHEAD:  # an implausible count is followed page by page, under the loop guard
        return ()
    return tuple(op.with_params(page=n) for n in range(1, total))


def by_page_number(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Definitions and search: 0-based ``page`` until ``totalPages``."""
    info = data.get("page") or {}
    current = int(dict(op.params).get("page", 0))
    total = info.get("totalPages")
    if total is None:
        return None
    pages = whole_number(total)
    if pages is None:
        raise AEPServerError(
            f"{op.name}: AEP answered totalPages {quote_value(total)}, which is not a page count (ASCII "
            "digits, below 10**18)"
        )
    return op.with_params(page=current + 1) if current + 1 < pages else None


def by_links_next_or_start(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Segment jobs: follow ``_links.next.href``; else ``start=_page.next``."""
    link_params = _link_query((data.get("_links") or {}).get("next"))
    if link_params:
        return op.with_params(**link_params)
    return by_page_next(op, data)


def by_page_next(op: Operation[Page[M]], data: Any) -> Operation[Page[M]] | None:
    """Schedules and audiences: ``start=_page.next``. A ``next`` that is absent, null, empty or 0 ends
    the listing (AEP ends some listings with ``next: 0``), as does one naming this very page; one that
    points back to a page already fetched is a loop, refused by ``follow``."""
    following = (data.get("_page") or {}).get("next")
    if following in (None, "") or str(following) in ("0", str(dict(op.params).get("start"))):
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
