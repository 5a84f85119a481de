"""A server that misbehaves on purpose: pages in circles, trickles, floods. The client must end, and say why.

Every test talks real HTTP: IMS is the emulator, the platform is a ``ScriptedServer`` whose answers the
test scripts. Each script stops misbehaving after a while (``GIVE_UP``), so that a client without the
guard under test ends too, and the test fails on its assertions instead of hanging.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_segmentation.client import (
    AEPConnectionError,
    AEPNotFoundError,
    AEPServerError,
    AEPValidationError,
    AsyncSegmentationClient,
    RetrySettings,
    SegmentationClient,
)
from airflow_provider_segmentation.client.operations import PAGES_AHEAD
from tests.client.conftest import make_config
from tests.scripted_server import Answer, ScriptedServer, Seen

BASE = "/data/core/ups"
GIVE_UP = 40  # requests after which a looping script answers an empty last page
MiB = 1024 * 1024


def as_json(data: Any) -> Answer:
    return Answer(200, json.dumps(data).encode())


def sync_client(emulator, server: ScriptedServer, **overrides: Any) -> SegmentationClient:
    overrides.setdefault("retry", RetrySettings(max_attempts=1))
    config = make_config(emulator, platform_host=server.url, **overrides)
    return SegmentationClient(config, sleep=lambda _s: None, rng=random.Random(0))


async def _no_sleep(_seconds: float) -> None:
    return None


def async_client(emulator, server: ScriptedServer, **overrides: Any) -> AsyncSegmentationClient:
    overrides.setdefault("retry", RetrySettings(max_attempts=1))
    config = make_config(emulator, platform_host=server.url, **overrides)
    return AsyncSegmentationClient(config, sleep=_no_sleep, rng=random.Random(0))


def job(job_id: str) -> dict[str, Any]:
    return {"id": job_id, "status": "SUCCEEDED"}


# -- 1. pagination that never ends -------------------------------------------------------------------


def jobs_link_to_the_same_page() -> Callable[[Seen], Answer]:
    """``_links.next`` of every page points at ``start=3``: the second page names itself as next."""
    count = {"n": 0}

    def answer(seen: Seen) -> Answer:
        count["n"] += 1
        if count["n"] > GIVE_UP:
            return as_json({"children": [], "_links": {}})
        start = seen.query.get("start", "0")
        link = {"next": {"href": "/segment/jobs?start=3&limit=3"}}
        return as_json({"children": [job(f"job-{start}")], "_links": link})

    return answer


def two_page_cycle(
    key: str, items_key: str, make_next: Callable[[str], dict[str, Any]]
) -> Callable[[Seen], Answer]:
    """Page ``a`` says next is ``b``, page ``b`` says next is ``a``: a cycle of two pages."""
    count = {"n": 0}

    def answer(seen: Seen) -> Answer:
        count["n"] += 1
        if count["n"] > GIVE_UP:
            return as_json({items_key: []})
        current = seen.query.get(key, "")
        following = "a" if current == "b" else "b"
        return as_json({items_key: [item_for(items_key, current or "first")], **make_next(following)})

    return answer


def item_for(items_key: str, tag: str) -> dict[str, Any]:
    if items_key == "records":
        return {"id": f"export-{tag}", "status": "SUCCEEDED"}
    if items_key == "results":
        return {"_id": f"profile-{tag}"}
    return {"id": f"item-{tag}", "name": f"n-{tag}", "status": "SUCCEEDED"}


CYCLES = [
    pytest.param(
        lambda c: list(c.list_schedules(limit=1)),
        two_page_cycle("start", "children", lambda nxt: {"_page": {"next": nxt}}),
        "listSchedules",
        "start=b",
        id="schedules-_page.next",
    ),
    pytest.param(
        lambda c: list(c.list_audiences(limit=1)),
        two_page_cycle("start", "children", lambda nxt: {"_page": {"next": nxt}}),
        "listAudiences",
        "start=b",
        id="audiences-_page.next",
    ),
    pytest.param(
        lambda c: list(c.list_segment_jobs(limit=1)),
        two_page_cycle(
            "start", "children", lambda nxt: {"_links": {"next": {"href": f"/segment/jobs?start={nxt}"}}}
        ),
        "listSegmentJobs",
        "start=b",
        id="segment-jobs-_links.next",
    ),
    pytest.param(
        lambda c: list(c.list_export_jobs(limit=1)),
        two_page_cycle(
            "offset", "records", lambda nxt: {"link": {"next": f"/export/jobs/?limit=1&offset={nxt}"}}
        ),
        "listExportJobs",
        "offset=b",
        id="export-jobs-offset",
    ),
    pytest.param(
        lambda c: list(c.iter_preview_results("cHJldmlldw==", limit=1)),
        two_page_cycle(
            "offset", "results", lambda nxt: {"links": {"next": f"/preview/x?offset={nxt}&limit=1"}}
        ),
        "retrievePreview",
        "offset=b",
        id="preview-results-offset",
    ),
]


@pytest.mark.parametrize(("call", "script", "operation", "cursor"), CYCLES)
def test_a_two_page_cycle_fails_and_names_the_repeated_cursor(
    emulator, emulator_admin, call, script, operation: str, cursor: str
) -> None:
    with ScriptedServer(script) as server:
        client = sync_client(emulator, server)
        with pytest.raises(AEPServerError) as excinfo:
            call(client)
    message = str(excinfo.value)
    print(message)
    assert operation in message and cursor in message and "already fetched" in message
    # first page, b, a: the next request (b again) is refused before it is sent
    assert len(server.seen) == 3


def test_a_next_link_to_the_page_itself_fails_after_two_requests(emulator, emulator_admin) -> None:
    with (
        ScriptedServer(jobs_link_to_the_same_page()) as server,
        pytest.raises(AEPServerError, match=r"listSegmentJobs.*start=3.*already fetched"),
    ):
        list(sync_client(emulator, server).list_segment_jobs(limit=3))
    assert len(server.seen) == 2 and server.seen[1].query["start"] == "3"  # the third would repeat it


async def test_async_listing_detects_the_same_loops(emulator, emulator_admin) -> None:
    with ScriptedServer(jobs_link_to_the_same_page()) as server:
        async with async_client(emulator, server) as client:
            with pytest.raises(AEPServerError, match=r"listSegmentJobs.*start=3.*already fetched"):
                [j async for j in client.list_segment_jobs(limit=3)]
    assert len(server.seen) == 2

    cycle = two_page_cycle(
        "start", "children", lambda nxt: {"_links": {"next": {"href": f"/segment/jobs?start={nxt}"}}}
    )
    with ScriptedServer(cycle) as server:
        async with async_client(emulator, server) as client:
            with pytest.raises(AEPServerError, match=r"listSegmentJobs.*start=b.*already fetched"):
                [j async for j in client.list_segment_jobs(limit=1)]
    assert len(server.seen) == 3


def definitions_page(
    page_info: Callable[[int], dict[str, Any]], items: Callable[[int], list[Any]]
) -> Callable[[Seen], Answer]:
    """Segment definitions by page number; the script decides ``page`` info and items per page index."""

    def answer(seen: Seen) -> Answer:
        index = int(seen.query.get("page", "0"))
        if index >= GIVE_UP:
            return as_json({"segments": [], "page": {"totalPages": 1}})
        return as_json({"segments": items(index), "page": page_info(index)})

    return answer


def two_definitions(index: int) -> list[Any]:
    return [{"id": f"d{index}-{k}", "name": f"d{index}-{k}"} for k in range(2)]


IMPOSSIBLE_PAGES = [
    pytest.param(
        definitions_page(lambda i: {"totalPages": 10**9, "totalCount": 2}, two_definitions),
        1,
        r"1000000000 pages for 2 items",
        id="more-pages-than-items",
    ),
    pytest.param(
        definitions_page(lambda i: {"totalPages": 10**9}, lambda i: two_definitions(0)),
        2,
        r"page 2 \(page=1\) returned the same items as page 1",
        id="page-number-ignored",
    ),
    pytest.param(
        definitions_page(lambda i: {"totalPages": 5}, lambda i: two_definitions(i) if i < 2 else []),
        3,
        r"page=2 is empty.*totalPages 5",
        id="empty-page-before-the-last",
    ),
    pytest.param(
        definitions_page(lambda i: {"totalPages": 3 if i == 0 else 1}, two_definitions),
        2,
        r"page=1.*past the last page.*totalPages 1",
        id="page-past-total-pages",
    ),
]


@pytest.mark.parametrize(("script", "requests_sent", "words"), IMPOSSIBLE_PAGES)
def test_impossible_page_counts_fail(
    emulator, emulator_admin, script, requests_sent: int, words: str
) -> None:
    with ScriptedServer(script) as server, pytest.raises(AEPServerError, match=words) as excinfo:
        list(sync_client(emulator, server).list_segment_definitions(limit=2))
    assert "listSegmentDefinitions" in str(excinfo.value)
    # pages named by number are fetched up to PAGES_AHEAD at a time: a few more may already be asked
    assert requests_sent <= len(server.seen) <= requests_sent + PAGES_AHEAD


IGNORED_PAGE_NUMBERS = [
    pytest.param(
        lambda c: c.list_segment_definitions(limit=2),
        definitions_page(lambda i: {"totalPages": 999}, lambda i: two_definitions(0)),
        "listSegmentDefinitions",
        id="definitions",
    ),
    pytest.param(
        lambda c: c.search_entities(namespace="AEPSegments", limit=2),
        lambda seen: as_json({"entities": [{"id": "a"}, {"id": "b"}], "page": {"totalPages": 999}}),
        "listFullTextIndexedObjects",
        id="search-entities",
    ),
]


@pytest.mark.parametrize(("listing", "script", "operation"), IGNORED_PAGE_NUMBERS)
def test_pages_fetched_ahead_are_held_to_the_loop_guard(
    emulator, emulator_admin, listing, script, operation: str
) -> None:
    """999 pages announced, the page number ignored: the pages fetched ahead are checked in turn, so the
    sync client stops at the second page, like the async one (and unlike 999 requests, 1998 items)."""
    with ScriptedServer(script) as server, pytest.raises(AEPServerError) as excinfo:
        list(listing(sync_client(emulator, server)))
    assert f"{operation}: the listing would never end: page 2 (page=1) returned the same items as page 1" in (
        str(excinfo.value)
    )
    assert 2 <= len(server.seen) <= 2 + PAGES_AHEAD


@pytest.mark.parametrize(("listing", "script", "operation"), IGNORED_PAGE_NUMBERS)
async def test_pages_fetched_ahead_are_held_to_the_loop_guard_async(
    emulator, emulator_admin, listing, script, operation: str
) -> None:
    with ScriptedServer(script) as server:
        async with async_client(emulator, server) as client:
            with pytest.raises(AEPServerError) as excinfo:
                [item async for item in listing(client)]
    assert f"{operation}: the listing would never end: page 2 (page=1) returned the same items as page 1" in (
        str(excinfo.value)
    )
    assert len(server.seen) == 2


def pages_that_end_with_next(last: Any) -> Callable[[Seen], Answer]:
    """Three pages by ``start`` (0, 1, 2); the last one says ``_page.next`` is ``last``."""

    def answer(seen: Seen) -> Answer:
        start = int(seen.query.get("start", "0"))
        following = {"next": start + 1} if start < 2 else ({} if last == "absent" else {"next": last})
        return as_json({"children": [item_for("children", str(start))], "_page": following})

    return answer


END_OF_LISTING = [pytest.param(0, id="next-0"), pytest.param(None, id="next-null"), pytest.param("absent")]


@pytest.mark.parametrize("last", END_OF_LISTING)
def test_a_listing_ends_at_page_next_0_or_null(emulator, emulator_admin, last) -> None:
    with ScriptedServer(pages_that_end_with_next(last)) as server:
        client = sync_client(emulator, server)
        assert [s.name for s in client.list_schedules(limit=1)] == ["n-0", "n-1", "n-2"]
        assert [a.name for a in client.list_audiences(limit=1)] == ["n-0", "n-1", "n-2"]
    assert [seen.query["start"] for seen in server.seen] == ["0", "1", "2"] * 2


@pytest.mark.parametrize("last", END_OF_LISTING)
async def test_a_listing_ends_at_page_next_0_or_null_async(emulator, emulator_admin, last) -> None:
    with ScriptedServer(pages_that_end_with_next(last)) as server:
        async with async_client(emulator, server) as client:
            assert [s.name async for s in client.list_schedules(limit=1)] == ["n-0", "n-1", "n-2"]
    assert [seen.query["start"] for seen in server.seen] == ["0", "1", "2"]


def test_a_jump_back_to_a_fetched_start_is_still_a_loop(emulator, emulator_admin) -> None:
    """0 ends a listing; a non-zero ``next`` back to a page already fetched is still a loop."""

    def answer(seen: Seen) -> Answer:
        start = int(seen.query.get("start", "0"))
        following = start + 1 if start < 2 else 1
        return as_json({"children": [item_for("children", str(start))], "_page": {"next": following}})

    with ScriptedServer(answer) as server, pytest.raises(AEPServerError, match=r"start=1.*already fetched"):
        list(sync_client(emulator, server).list_schedules(limit=1))


def test_honest_page_numbers_still_list_everything(emulator, emulator_admin) -> None:
    script = definitions_page(lambda i: {"totalPages": 3, "totalCount": 6}, two_definitions)
    with ScriptedServer(script) as server:
        names = [d.name for d in sync_client(emulator, server).list_segment_definitions(limit=2)]
    assert len(names) == 6 and len(server.seen) == 3


def mixed_bulk_answer(seen: Seen) -> Answer:
    """A 207 whose entries are: a job, AEP's per-id 404, a list, and an object that is no job (no id)."""
    results = {
        "job-ok": job("job-ok"),
        "job-gone": {"errors": {"404": [{"code": "UPAPI-113000-404", "message": "no BODY-SENTINEL job"}]}},
        "job-odd": ["BODY-SENTINEL"],
        "job-bad": {"status": "SUCCEEDED", "note": "BODY-SENTINEL"},
    }
    return Answer(207, json.dumps({"results": results}).encode())


def _bulk_warnings(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {
        name: record.getMessage()
        for record in caplog.records
        for name in ("job-gone", "job-odd", "job-bad")
        if record.levelname == "WARNING" and repr(name) in record.getMessage()
    }


def _assert_bulk_read_per_entry(found: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    assert list(found) == ["job-ok"] and found["job-ok"].status == "SUCCEEDED"
    warnings = _bulk_warnings(caplog)
    print(warnings)
    assert "404" in warnings["job-gone"] and "list" in warnings["job-odd"] and "id" in warnings["job-bad"]
    assert "BODY-SENTINEL" not in caplog.text  # why, never the entry


def test_a_bulk_get_reads_each_entry_on_its_own(emulator, emulator_admin, caplog) -> None:
    """One unreadable entry must not cost the others: the shared poller reads a missing id as "no answer
    for it this time"."""
    caplog.set_level(logging.WARNING)
    with ScriptedServer(mixed_bulk_answer) as server:
        found = sync_client(emulator, server).bulk_get_segment_jobs(
            ["job-ok", "job-gone", "job-odd", "job-bad"]
        )
    _assert_bulk_read_per_entry(found, caplog)


async def test_a_bulk_get_reads_each_entry_on_its_own_async(emulator, emulator_admin, caplog) -> None:
    caplog.set_level(logging.WARNING)
    with ScriptedServer(mixed_bulk_answer) as server:
        async with async_client(emulator, server) as client:
            found = await client.bulk_get_segment_jobs(["job-ok", "job-gone", "job-odd", "job-bad"])
    _assert_bulk_read_per_entry(found, caplog)


def test_a_bulk_get_without_results_is_a_server_error(emulator, emulator_admin) -> None:
    with (
        ScriptedServer(lambda _seen: Answer(207, b'{"results": ["job-ok"]}')) as server,
        pytest.raises(
            AEPServerError, match="bulkGetSegmentJobs: AEP answered HTTP 207 without a results object"
        ),
    ):
        sync_client(emulator, server).bulk_get_segment_jobs(["job-ok"])


# -- 2. a total deadline and a size cap on every answer ----------------------------------------------


def trickling(seen: Seen) -> Answer:
    """A 200 whose body arrives one byte every 0.2 s (it would take about 17 s to finish)."""
    body = b'{"id": "job-1", "status": "NEW"' + b" " * 55 + b"}"
    return Answer(200, iter([body[i : i + 1] for i in range(len(body))]), delay_between_chunks=0.2)


def test_a_trickling_answer_ends_at_the_total_deadline(emulator, emulator_admin) -> None:
    with ScriptedServer(trickling) as server:
        client = sync_client(emulator, server, call_timeout=1.5)
        with pytest.raises(AEPConnectionError) as excinfo:
            client.get_segment_job("job-1")
    print(excinfo.value)
    # the host answered, slowly: the error says so (not "could not reach")
    assert f"no complete answer from {server.url} within 1.5 s (call_timeout)" in str(excinfo.value)
    assert len(server.seen) == 1


async def test_a_trickling_answer_ends_at_the_total_deadline_async(emulator, emulator_admin) -> None:
    with ScriptedServer(trickling) as server:
        async with async_client(emulator, server, call_timeout=1.5) as client:
            with pytest.raises(AEPConnectionError) as excinfo:
                await client.get_segment_job("job-1")
    assert f"no complete answer from {server.url} within 1.5 s (call_timeout)" in str(excinfo.value)
    assert len(server.seen) == 1


def test_a_deadline_overrun_is_retried_like_a_broken_read(emulator, emulator_admin) -> None:
    with ScriptedServer(trickling) as server:
        client = sync_client(emulator, server, call_timeout=0.5, retry=RetrySettings(max_attempts=2))
        with pytest.raises(AEPConnectionError, match=r"no complete answer from .* within 0.5 s"):
            client.get_segment_job("job-1")
    assert len(server.seen) == 2


class SlowSleeps:
    """The client's clock, and a sleep that moves it by ``each`` seconds whatever was asked (as on a
    loaded machine): the retry budget is measured on this clock, the trickle on the real one."""

    def __init__(self, each: float) -> None:
        self.now = time.time()
        self.each = each

    def clock(self) -> float:
        return self.now

    def sleep(self, _seconds: float) -> None:
        self.now += self.each

    async def asleep(self, _seconds: float) -> None:
        self.now += self.each


BUDGET = RetrySettings(max_attempts=5, max_elapsed_seconds=10, base_delay_seconds=0.1, max_delay_seconds=0.1)


def _budget_client(emulator, server: ScriptedServer, time_: SlowSleeps, *, asynchronous: bool) -> Any:
    config = make_config(emulator, platform_host=server.url, call_timeout=1.0, retry=BUDGET)
    if asynchronous:
        return AsyncSegmentationClient(config, sleep=time_.asleep, clock=time_.clock, rng=random.Random(0))
    return SegmentationClient(config, sleep=time_.sleep, clock=time_.clock, rng=random.Random(0))


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_a_retry_gets_only_what_is_left_of_the_call_budget(
    emulator, emulator_admin, asynchronous
) -> None:
    """Attempt 1 trickles for its whole call_timeout (1 s); the backoff then takes 9.7 s of the 10 s
    budget, so attempt 2 is given the 0.3 s left, not another call_timeout: the call ends in budget."""
    time_ = SlowSleeps(each=9.7)
    with ScriptedServer(trickling) as server:
        client = _budget_client(emulator, server, time_, asynchronous=asynchronous)
        with pytest.raises(AEPConnectionError) as excinfo:
            await client.get_segment_job("job-1") if asynchronous else client.get_segment_job("job-1")
        if asynchronous:
            await client.aclose()
    message = str(excinfo.value)
    print(message)
    assert f"no complete answer from {server.url} within 0.3 s" in message
    assert "what was left of the call's 10 s retry budget" in message
    assert "spent before attempt 3" in message and len(server.seen) == 2


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_no_attempt_starts_once_the_budget_is_spent(emulator, emulator_admin, asynchronous) -> None:
    """A sleep that overran the whole budget: the next attempt is not sent, and the error says why."""
    time_ = SlowSleeps(each=11)
    with ScriptedServer(lambda _seen: Answer(503, b"")) as server:
        client = _budget_client(emulator, server, time_, asynchronous=asynchronous)
        with pytest.raises(AEPServerError, match=r"HTTP 503.*retry budget of 10 s .* before attempt 2"):
            await client.get_segment_job("job-1") if asynchronous else client.get_segment_job("job-1")
        if asynchronous:
            await client.aclose()
    assert len(server.seen) == 1


def endless_chunks(seen: Seen) -> Answer:
    """A chunked body with no length that never ends (it stops at 64 MiB, for an unguarded client)."""
    return Answer(200, (b" " * 65536 for _ in range(1024)))


def declared_too_big(seen: Seen) -> Answer:
    return Answer(200, b" " * (2 * MiB))


def gzip_bomb(seen: Seen) -> Answer:
    """8 MiB of spaces in about 8 KiB of gzip: small on the wire, large in memory."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return Answer(200, gzip.compress(b" " * (8 * MiB)), headers)


OVERSIZED = [
    pytest.param(endless_chunks, id="endless-chunked-body"),
    pytest.param(declared_too_big, id="content-length-over-the-cap"),
    pytest.param(gzip_bomb, id="gzip-expanding-past-the-cap"),
]


@pytest.mark.parametrize("script", OVERSIZED)
def test_an_answer_over_the_size_cap_is_refused_while_streaming(emulator, emulator_admin, script) -> None:
    with ScriptedServer(script) as server:
        client = sync_client(emulator, server, max_response_bytes=MiB, retry=RetrySettings())
        with pytest.raises(AEPServerError) as excinfo:
            client.get_segment_job("job-1")
    message = str(excinfo.value)
    print(message)
    assert "1 MiB" in message and "max_response_bytes" in message
    assert len(server.seen) == 1  # refused, not retried


@pytest.mark.parametrize("script", OVERSIZED)
async def test_an_answer_over_the_size_cap_is_refused_while_streaming_async(
    emulator, emulator_admin, script
) -> None:
    with ScriptedServer(script) as server:
        async with async_client(emulator, server, max_response_bytes=MiB, retry=RetrySettings()) as client:
            with pytest.raises(AEPServerError) as excinfo:
                await client.get_segment_job("job-1")
    assert "1 MiB" in str(excinfo.value) and "max_response_bytes" in str(excinfo.value)
    assert len(server.seen) == 1


def test_an_answer_under_the_cap_is_read_whole(emulator, emulator_admin) -> None:
    def answer(seen: Seen) -> Answer:
        padded = json.dumps(job("job-1")).encode()[:-1] + b" " * (MiB - 100) + b"}"
        return Answer(200, iter([padded[i : i + 65536] for i in range(0, len(padded), 65536)]))

    with ScriptedServer(answer) as server:
        assert sync_client(emulator, server, max_response_bytes=MiB).get_segment_job("job-1").id == "job-1"


def test_deadline_and_cap_are_validated(emulator) -> None:
    for name, value in [("call_timeout", 0), ("call_timeout", float("inf")), ("max_response_bytes", 0)]:
        with pytest.raises(AEPValidationError) as excinfo:
            make_config(emulator, **{name: value})
        assert excinfo.value.field == name
    config = make_config(emulator)
    assert config.call_timeout == 120.0 and config.max_response_bytes == 32 * MiB


# -- 3. ids that would address another endpoint --------------------------------------------------------

BAD_IDS = [
    pytest.param(".", "'.'", id="dot"),
    pytest.param("..", "'..'", id="dot-dot"),
    pytest.param("a/b", "'/'", id="slash"),
    pytest.param("a\\b", "'\\\\'", id="backslash"),
    pytest.param("a?b=1", "'?'", id="question-mark"),
    pytest.param("a#b", "'#'", id="hash"),
    pytest.param("a\nb", "control character", id="newline"),
    pytest.param("a\x00b", "control character", id="nul"),
    pytest.param(" job-1", "surrounding whitespace", id="leading-space"),
    pytest.param("job-1\t", "surrounding whitespace", id="trailing-tab"),
    pytest.param(None, "NoneType", id="none"),
    pytest.param({"id": "x"}, "dict", id="dict"),
    pytest.param(["x"], "list", id="list"),
    pytest.param(True, "bool", id="bool"),
    pytest.param(1.5, "float", id="float"),
]


@pytest.mark.parametrize(("bad", "words"), BAD_IDS)
def test_a_bad_id_is_refused_before_any_request(
    client: SegmentationClient, emulator_admin, bad, words
) -> None:
    for call in (client.get_segment_job, client.cancel_segment_job):
        with pytest.raises(AEPValidationError) as excinfo:
            call(bad)
        assert excinfo.value.field == "job_id" and words in str(excinfo.value)
    with pytest.raises(AEPValidationError) as excinfo:
        client.delete_schedule(bad)
    assert excinfo.value.field == "schedule_id"
    assert emulator_admin.requests() == []


@pytest.mark.parametrize(("bad", "words"), BAD_IDS)
async def test_a_bad_id_is_refused_before_any_request_async(emulator, emulator_admin, bad, words) -> None:
    async with AsyncSegmentationClient(make_config(emulator)) as client:
        for call in (client.get_segment_job, client.cancel_segment_job, client.get_estimate):
            with pytest.raises(AEPValidationError) as excinfo:
                await call(bad)
            assert excinfo.value.field in ("job_id", "preview_id") and words in str(excinfo.value)
    assert emulator_admin.requests() == []


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param([None], id="none"),
        pytest.param([{"id": "x"}], id="dict"),
        pytest.param(["ok", ["x"]], id="nested-list"),
        pytest.param([True], id="bool"),
        pytest.param(["."], id="dot"),
        pytest.param(["ok", ".."], id="dot-dot"),
        pytest.param(["a/b"], id="slash"),
        pytest.param([" a"], id="leading-space"),
        pytest.param(["a\r\n"], id="crlf"),
    ],
)
def test_a_bad_id_in_a_list_is_refused_before_any_request(
    client: SegmentationClient, emulator_admin, ids: list[Any]
) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        client.create_segment_job(ids)
    assert excinfo.value.field == "segment_ids" and "segment_ids[" in str(excinfo.value)
    with pytest.raises(AEPValidationError) as excinfo:
        client.bulk_get_segment_jobs(ids)
    assert excinfo.value.field == "job_ids"
    assert emulator_admin.requests() == []


def test_base64_preview_ids_stay_valid(client: SegmentationClient, emulator_admin) -> None:
    preview = client.create_preview('homeAddress.countryCode = "US"')
    assert preview.preview_id.endswith("=")  # the emulator's ids are base64 with padding, like AEP's
    client.get_estimate(preview.preview_id)
    with pytest.raises(AEPNotFoundError):
        client.get_estimate("MDphcHA+dGVzdA==")
    # the id arrived whole (the emulator logs the decoded path)
    paths = [r["path"] for r in emulator_admin.requests("GET")]
    assert paths[-1].endswith("/estimate/MDphcHA+dGVzdA==")


def test_integer_ids_stay_valid(client: SegmentationClient, emulator_admin) -> None:
    with pytest.raises(AEPNotFoundError):
        client.get_export_job(12345)
    assert [r["path"] for r in emulator_admin.requests("GET")][-1].endswith("/export/jobs/12345")
