"""Every byte from the wire goes through one strict reader: deep nesting and odd numbers in any answer
(IMS, platform, listing, error body; sync and async) are typed errors, never ``RecursionError`` or
``ValueError``; messages quote huge numbers readably."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import (
    AEPError,
    AEPServerError,
    AsyncSegmentationClient,
    RetrySettings,
    SegmentationClient,
)
from airflow_provider_segmentation.client.wire import UnreadableBody, read_json
from tests.client.conftest import make_config
from tests.client.test_reconcile import JOBS, US
from tests.scripted_server import Answer, ScriptedServer, Seen

TOKEN = json.dumps({"access_token": "token-for-the-strict-reader", "expires_in": 86400}).encode()
CALLS = ("ims", "get", "listing")
ODD_DIGITS = st.one_of(
    st.sampled_from(["²", "٣٦٠٠", "\uff11\uff12", "1_000", " 12", "-3", "1e400"]),
    st.integers(31, 6000).map(lambda n: "9" * n),
)


def nested(depth: int, opener: str) -> str:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '{"a":' * depth + "1" + "}" * depth if opener == "{" else opener * depth + closer * depth
    return inner if opener == "[" else inner.replace(closer, "}")


@dataclass
class Hostile:
    """Answers ``target`` (IMS or the platform) with ``status``, ``body`` and ``headers``; IMS otherwise
    mints a token."""

    target: str = "get"
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)

    def __call__(self, seen: Seen) -> Answer:
        ims = seen.path.endswith("/ims/token/v3")
        if ims and self.target != "ims":
            return Answer(200, TOKEN)
        return Answer(self.status, self.body, {"Content-Type": "application/json", **self.headers})


def outcome(config, call: str, asynchronous: bool) -> BaseException | None:
    """What one call raised (None when it succeeded)."""

    async def run_async() -> None:
        async with AsyncSegmentationClient(config, sleep=_no_sleep) as client:
            if call == "listing":
                [s async for s in client.list_schedules()]
            else:
                await client.get_segment_job("job-1")

    try:
        if asynchronous:
            asyncio.run(run_async())
        elif call == "listing":
            list(SegmentationClient(config, sleep=lambda _s: None).list_schedules())
        else:
            SegmentationClient(config, sleep=lambda _s: None).get_segment_job("job-1")
    except Exception as exc:
        return exc
    return None


async def _no_sleep(_seconds: float) -> None:
    return None


STATUSES = st.sampled_from([200, 400, 404, 429, 500])


@pytest.fixture(scope="module")
def hostile(emulator):
    script = Hostile()
    with ScriptedServer(script) as server:
        config = make_config(
            emulator,
            ims_host=server.url,
            platform_host=server.url,
            client_id="strict-reader-client",  # a credential of its own: no token cached from others
            retry=RetrySettings(max_attempts=2, base_delay_seconds=0),
            read_timeout=2.0,  # a Content-Length that promises more than is sent is waited for this long
            call_timeout=3.0,
        )
        yield script, config


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(
    call=st.sampled_from(CALLS),
    status=STATUSES,
    depth=st.integers(201, 3000),
    opener=st.sampled_from("[{"),
    asynchronous=st.booleans(),
)
def test_deep_nesting_in_any_answer_is_a_typed_error(hostile, call, status, depth, opener, asynchronous):
    script, config = hostile
    script.target, script.status, script.headers = call if call == "ims" else "get", status, {}
    script.body = f'{{"error_code":"x","message":"y","deep":{nested(depth, opener)}}}'.encode()
    if status == 200:
        script.body = nested(depth, opener).encode()
    error = outcome(config, call, asynchronous)
    assert isinstance(error, AEPError), repr(error)
    if status in (200, 500):
        assert isinstance(error, AEPServerError), repr(error)


@SETTINGS
@given(
    call=st.sampled_from(CALLS),
    status=STATUSES,
    digits=ODD_DIGITS,
    where=st.sampled_from(["totalPages", "next", "expires_in", "id", "content-length", "retry-after"]),
    quoted=st.booleans(),
    asynchronous=st.booleans(),
)
def test_odd_numbers_in_bodies_and_headers_are_typed_errors(
    hostile, call, status, digits, where, quoted, asynchronous
):
    script, config = hostile
    script.target, script.status, script.headers = call, status, {}
    number = json.dumps(digits) if quoted or not digits.isascii() or not digits.isdigit() else digits
    page = f'{{"totalPages":{number},"totalCount":1}}' if where == "totalPages" else "{}"
    script.body = (
        f'{{"children":[{{"id":"s1","name":"n","state":"active"}}],"page":{page},'
        f'"_page":{{"next":{number if where == "next" else 0}}},'
        f'"access_token":"t-{len(digits)}-abcdefgh","expires_in":{number if where == "expires_in" else 60},'
        f'"id":{number if where == "id" else 1}}}'
    ).encode()
    if where in ("content-length", "retry-after"):
        script.headers = {where.title(): digits.strip() or "1"}
    error = outcome(config, call, asynchronous)
    assert error is None or isinstance(error, AEPError), repr(error)
    if error is not None:
        assert "9" * 31 not in str(error)  # a huge number is quoted by its length


@given(depth=st.integers(201, 5000), digits=st.integers(31, 6000))
@settings(max_examples=50, deadline=None)
def test_the_reader_refuses_what_it_cannot_bound(depth, digits):
    for body in (nested(depth, "[").encode(), ("9" * digits).encode(), b"[" + b"9" * digits + b"]"):
        with pytest.raises(UnreadableBody) as caught:
            read_json(body)
        assert len(str(caught.value)) < 100


@pytest.mark.parametrize("made", [True, False], ids=["aep-made-it", "aep-made-nothing"])
@pytest.mark.parametrize("html", [True, False], ids=["html-200", "error-body-200"])
def test_an_unreadable_200_to_a_create_is_reconciled_like_a_5xx(client, emulator_admin, made, html) -> None:
    """A 200 whose body is not the created object leaves unknown whether AEP created it: the job it made
    is adopted, or the create is retried when it made none; never a duplicate, never a parse error."""
    seg = client.create_segment_definition(US).id
    emulator_admin.inject_fault(
        method="POST", path=JOBS, kind="status", status=200, html=html, after=made, count=1
    )
    job = client.create_segment_job([seg])
    assert [j.id for j in client.list_segment_jobs()] == [job.id]
    assert len(emulator_admin.requests("POST", JOBS)) == (1 if made else 2)
