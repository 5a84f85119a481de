"""How an operation is described once and gets its sync and async faces from that one description.

An ``Operation`` is data: method, path, query, JSON body (already encoded, so a payload that is not
JSON fails before any HTTP call), whether it creates something, and a pure ``parse``. The resource
modules of ``client/api/`` declare each operation once, as a builder decorated with ``call`` (one
answer) or ``pages`` (a listing; see ``pagination``). The decorator is a descriptor: on a synchronous
runner (``SyncFace``: the client, the hook) the attribute is a method returning the parsed answer, on
an asynchronous one (``AsyncFace``) the same method returns an awaitable; both have the builder's own
signature, so the two faces cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import Enum
from itertools import islice
from typing import Any, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from airflow_provider_segmentation.client.checks import (
    MAX_SEGMENTS_PER_JOB as MAX_SEGMENTS_PER_JOB,
)
from airflow_provider_segmentation.client.checks import check_id as check_id
from airflow_provider_segmentation.client.checks import validate_ids as validate_ids
from airflow_provider_segmentation.client.checks import wrong_type as wrong_type
from airflow_provider_segmentation.client.errors import AEPServerError, AEPValidationError
from airflow_provider_segmentation.client.http import HttpResponse
from airflow_provider_segmentation.client.wire import UnreadableBody, read_json

log = logging.getLogger("airflow_provider_segmentation.client")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

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
    # every following page, when the first page tells them (page numbers up to totalPages): fetched ahead
    ahead: tuple[Operation[Page[T]], ...] = ()


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
    """The JSON body (read by the one strict reader), ``None`` for an empty one; garbage, a body nested
    too deep or a number too long becomes a clean ``AEPServerError``."""
    try:
        return read_json(response.body)
    except UnreadableBody as exc:
        raise AEPServerError(
            f"AEP answered HTTP {response.status} with a body this package cannot read: {exc.reason} "
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
    """207 bulk-get answers, ``{"results": {id: object | {"errors": {"404": [...]}}}}``, read per id.

    An id whose entry is a per-id failure (``errors`` keyed by status; a job's own ``errors`` is a list)
    or cannot be read (not an object, or not a ``model``) is left out, with a warning naming the id and
    why, never the entry: an id missing from the result means "no answer for it this time".
    """

    def parse(response: HttpResponse, op: Operation[dict[str, M]]) -> dict[str, M]:
        data = decode(response)
        results = (data.get("results") if isinstance(data, dict) else data) or {}
        if not isinstance(results, dict):
            raise AEPServerError(
                f"{op.name}: AEP answered HTTP {response.status} without a results object (id -> entry)",
                status=response.status,
            )
        found: dict[str, M] = {}
        for key, value in results.items():
            if not isinstance(value, dict):
                why = f"its entry is a {type(value).__name__}, not an object"
            elif isinstance(value.get("errors"), dict):
                why = f"AEP answered {', '.join(map(str, value['errors']))} for it"
            else:
                try:
                    found[key] = model.model_validate(value)
                    continue
                except ValidationError as exc:
                    fields = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())
                    why = f"its entry is not a readable {model.__name__} ({fields})"
            log.warning("%s: id %r is left out of the result: %s", op.name, key, why)
        return found

    return parse


def validate_choice(value: str | None, choices: tuple[str, ...], *, field_name: str) -> str | None:
    if value is None:
        return None
    text = value.value if isinstance(value, Enum) else str(value)
    if text not in choices:
        raise AEPValidationError(
            f"{field_name} {text!r} is not one of {', '.join(choices)}", field=field_name
        )
    return text


# -- one declaration, two faces ------------------------------------------------------------------------

P = ParamSpec("P")
PAGES_AHEAD = 4


class SyncFace(ABC):
    """A runner whose operations answer directly: the sync client and the hook."""

    @abstractmethod
    def execute(self, operation: Operation[T]) -> T:
        """Run one operation and return what its ``parse`` makes of the answer."""

    def paginate(self, operation: Operation[Page[T]]) -> Iterator[T]:
        """Every item of a listing; the next page is fetched only when the caller gets there. When the
        first page names the pages that follow (page numbers), up to ``PAGES_AHEAD`` are fetched at once
        while the caller reads; each is parsed in its turn, under the loop guard, as on the async face."""
        page = self.execute(operation)
        yield from page.items
        fetched = self._fetch_ahead(page.ahead)
        try:
            current = page.next
            while current is not None:
                early = next(fetched, None)
                if early is not None and dict(early[0].params) == dict(current.params):
                    page = current.parse(early[1], current)
                else:  # the listing left the page numbers of its first page: page by page from here
                    fetched.close()
                    page = self.execute(current)
                yield from page.items
                current = page.next
        finally:  # a caller that stops early leaves at most PAGES_AHEAD requests to finish
            fetched.close()

    def _fetch_ahead(
        self, operations: tuple[Operation[Page[T]], ...]
    ) -> Generator[tuple[Operation[Page[T]], HttpResponse], None, None]:
        """Each operation with its answer, unparsed, in order; up to ``PAGES_AHEAD`` requested at once."""
        if not operations:
            return
        pool = ThreadPoolExecutor(max_workers=PAGES_AHEAD, thread_name_prefix="aep-pages")
        waiting = iter(operations)
        pending = deque((op, pool.submit(self.execute, _unparsed(op))) for op in islice(waiting, PAGES_AHEAD))
        try:
            while pending:
                op, answer = pending.popleft()
                response = answer.result()
                following = next(waiting, None)
                if following is not None:
                    pending.append((following, pool.submit(self.execute, _unparsed(following))))
                yield op, response
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _unparsed(operation: Operation[Any]) -> Operation[HttpResponse]:
    """The same request, whose answer is kept as it came (a page to parse later, in its turn)."""
    return replace(operation, parse=lambda response, _op: response)


class AsyncFace(ABC):
    """A runner whose operations are awaited: the async client (triggers)."""

    @abstractmethod
    async def execute(self, operation: Operation[T]) -> T:
        """Run one operation and return what its ``parse`` makes of the answer."""

    async def paginate(self, operation: Operation[Page[T]]) -> AsyncIterator[T]:
        """Every item of a listing; the next page is fetched only when the caller gets there."""
        current: Operation[Page[T]] | None = operation
        while current is not None:
            page = await self.execute(current)
            for item in page.items:
                yield item
            current = page.next


class _Face(Generic[P, T]):
    """Shared by ``Call`` and ``Pages``: keeps the builder and gives the bound method its signature."""

    runs: str  # the runner method the face calls: execute or paginate

    def __init__(self, build: Callable[P, Operation[Any]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _bind(self, runner: Any) -> Any:
        run = getattr(runner, self.runs)

        @functools.wraps(self.build)
        def method(*args: Any, **kwargs: Any) -> Any:
            return run(self.build(*args, **kwargs))

        method.__signature__ = inspect.signature(self.build).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.Signature.empty
        )
        return method


class Call(_Face[P, T]):
    """An operation with one answer: ``T`` on a ``SyncFace``, ``Awaitable[T]`` on an ``AsyncFace``."""

    runs = "execute"

    @overload
    def __get__(self, runner: None, owner: type) -> Call[P, T]: ...
    @overload
    def __get__(self, runner: AsyncFace, owner: type) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, runner: SyncFace, owner: type) -> Callable[P, T]: ...
    def __get__(self, runner: Any, owner: type) -> Any:
        return self if runner is None else self._bind(runner)


class Pages(_Face[P, T]):
    """A listing: ``Iterator[T]`` on a ``SyncFace``, ``AsyncIterator[T]`` on an ``AsyncFace``."""

    runs = "paginate"

    @overload
    def __get__(self, runner: None, owner: type) -> Pages[P, T]: ...
    @overload
    def __get__(self, runner: AsyncFace, owner: type) -> Callable[P, AsyncIterator[T]]: ...
    @overload
    def __get__(self, runner: SyncFace, owner: type) -> Callable[P, Iterator[T]]: ...
    def __get__(self, runner: Any, owner: type) -> Any:
        return self if runner is None else self._bind(runner)


def call(build: Callable[P, Operation[T]]) -> Call[P, T]:
    """Declare an operation with one answer (the decorated function builds its ``Operation``)."""
    return Call(build)


def pages(build: Callable[P, Operation[Page[T]]]) -> Pages[P, T]:
    """Declare a listing (the decorated function builds the ``Operation`` of its first page)."""
    return Pages(build)
