"""Ambiguous creates: a create whose answer is lost is reconciled with what AEP holds, never duplicated."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import replace
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import (
    AEPConnectionError,
    AEPServerError,
    AsyncSegmentationClient,
    SegmentationClient,
    reconcile,
)
from airflow_provider_segmentation.client.client import SegmentationAPI as api
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from tests.client.conftest import make_config
from tests.conftest import TEST_SETTINGS
from tests.scripted_server import Answer, ScriptedServer, Seen

JOBS = "/data/core/ups/segment/jobs"
EXPORTS = "/data/core/ups/export/jobs"
US = {
    "name": "US",
    "expression": {"type": "PQL", "format": "pql/text", "value": 'homeAddress.countryCode = "US"'},
}


def segment_id(client: SegmentationClient) -> str:
    created = client.create_segment_definition(US)
    assert created.id
    return created.id


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_lost_answer_is_adopted_not_duplicated(client: SegmentationClient, emulator_admin, kind) -> None:
    seg = segment_id(client)
    emulator_admin.inject_fault(method="POST", path=JOBS, kind=kind, status=503, after=True, count=1)
    job = client.create_segment_job([seg])
    assert [j.id for j in client.list_segment_jobs()] == [job.id]  # the job AEP made, adopted
    assert len(emulator_admin.requests("POST", JOBS)) == 1  # and not created again
    assert len(emulator_admin.requests("GET", JOBS)) >= 1  # the lookup


def test_a_create_that_made_nothing_is_retried(client: SegmentationClient, emulator_admin) -> None:
    seg = segment_id(client)
    emulator_admin.inject_fault(method="POST", path=JOBS, kind="status", status=503, count=1)
    job = client.create_segment_job([seg])
    assert [j.id for j in client.list_segment_jobs()] == [job.id]
    assert [e["status"] for e in emulator_admin.requests("POST", JOBS)] == [503, 200]


def test_jobs_this_process_made_before_are_not_adopted(client: SegmentationClient, emulator_admin) -> None:
    seg = segment_id(client)
    earlier = client.create_segment_job([seg])
    emulator_admin.inject_fault(method="POST", path=JOBS, kind="status", status=503, after=True, count=1)
    lost = client.create_segment_job([seg])
    assert lost.id != earlier.id
    assert sorted(j.id for j in client.list_segment_jobs()) == sorted([earlier.id, lost.id])


def test_an_identical_job_from_elsewhere_makes_it_ambiguous(
    client: SegmentationClient, emulator, emulator_admin
) -> None:
    seg = segment_id(client)
    token = client.access_token()
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": client.config.client_id,
        "x-gw-ims-org-id": client.config.org_id,
        "x-sandbox-name": "prod",
    }
    # another caller (not this process) starts the same job in the same seconds
    elsewhere = requests.post(f"{emulator.url}{JOBS}", json=[{"segmentId": seg}], headers=headers, timeout=10)
    assert elsewhere.status_code == 200
    emulator_admin.inject_fault(method="POST", path=JOBS, kind="status", status=503, after=True, count=1)
    with pytest.raises(AEPConnectionError, match=r"2 matching jobs.*cannot tell which is its own"):
        client.create_segment_job([seg])
    assert len(list(client.list_segment_jobs())) == 2  # it guessed nothing and made nothing more


def test_an_export_whose_answer_is_lost_is_adopted(client: SegmentationClient, emulator_admin) -> None:
    seg = segment_id(client)
    request = {"destination": {"datasetId": PROFILE_DATASET_ID}, "filter": {"segments": [{"segmentId": seg}]}}
    emulator_admin.inject_fault(method="POST", path=EXPORTS, kind="drop", after=True, count=1)
    job = client.create_export_job(request)
    assert [j.id for j in client.list_export_jobs()] == [job.id]
    assert len(emulator_admin.requests("POST", EXPORTS)) == 1


async def test_the_async_client_reconciles_the_same_way(emulator, emulator_admin, client) -> None:
    seg = segment_id(client)
    emulator_admin.inject_fault(method="POST", path=JOBS, kind="status", status=503, after=True, count=1)

    async def no_wait(_seconds: float) -> None:
        return None

    async with AsyncSegmentationClient(make_config(emulator), sleep=no_wait, rng=random.Random(1)) as aclient:
        job = await aclient.execute(api.create_segment_job.build([seg]))
    assert [j.id for j in client.list_segment_jobs()] == [job.id]
    assert len(emulator_admin.requests("POST", JOBS)) == 1


class ServerWithItsOwnClock:
    """A platform whose clock is ``offset`` seconds off ours (its ``Date`` says so). The first create
    makes a job and loses the answer (503); another caller made an identical job 5 s before it."""

    def __init__(self, offset: float, segments: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = offset
        self.segments = [{"segmentId": s} for s in segments]
        self.ours = f"ours-{uuid.uuid4()}"
        self.listed: list[dict[str, Any]] = []
        monkeypatch.setattr(
            BaseHTTPRequestHandler,
            "date_time_string",
            lambda _h, _t=None: formatdate(self.now(), usegmt=True),
        )

    def now(self) -> float:
        return time.time() + self.offset

    def job(self, job_id: str, created: float) -> dict[str, Any]:
        return {"id": job_id, "status": "NEW", "segments": self.segments, "creationTime": int(created * 1000)}

    def __call__(self, seen: Seen) -> Answer:
        if seen.method == "POST" and not self.listed:
            created = self.now()
            self.listed = [self.job(self.ours, created), self.job(f"theirs-{uuid.uuid4()}", created - 5)]
            return Answer(503, b'{"title": "lost", "detail": "gateway timeout"}')
        if seen.method == "POST":  # a retry of the create: a second job, the duplicate to avoid
            return Answer(200, json.dumps(self.job(f"again-{uuid.uuid4()}", self.now())).encode())
        return Answer(200, json.dumps({"children": self.listed, "_page": {}}).encode())


@pytest.mark.parametrize("offset", [3600.0, -3600.0, 0.0], ids=["ahead-1h", "behind-1h", "in-step"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_the_lookup_reads_creation_times_on_the_servers_clock(
    emulator, emulator_admin, monkeypatch, offset: float, asynchronous: bool
) -> None:
    """The window opens at the attempt on AEP's clock (from its Date header), a couple of seconds early:
    an identical job another caller made 5 s before is not adopted, whichever way the clocks differ (a
    30 s window on the client's clock adopted it, or, an hour off, missed the job and made a second)."""
    script = ServerWithItsOwnClock(offset, ["seg-1"], monkeypatch)
    with ScriptedServer(script) as server:
        config = make_config(emulator, platform_host=server.url, aep_rules="off")  # a script, not AEP
        if asynchronous:

            async def no_wait(_seconds: float) -> None:
                return None

            async with AsyncSegmentationClient(config, sleep=no_wait, rng=random.Random(1)) as aclient:
                job = await aclient.create_segment_job(["seg-1"])
        else:
            job = SegmentationClient(config, sleep=lambda _s: None, rng=random.Random(1)).create_segment_job(
                ["seg-1"]
            )
    assert job.id == script.ours
    assert [seen.method for seen in server.seen] == ["POST", "GET"]


def test_a_job_for_every_definition_is_not_reconciled(emulator, emulator_admin, monkeypatch) -> None:
    """A run-all job ("*") cannot be told from the schedule's daily one: its lost answer is an error,
    never an adoption (here the only listed "*" job is not this create's)."""
    script = ServerWithItsOwnClock(0.0, ["*"], monkeypatch)
    with ScriptedServer(script) as server:
        client = SegmentationClient(make_config(emulator, platform_host=server.url), sleep=lambda _s: None)
        with pytest.raises(AEPServerError, match="HTTP 503"):
            client.create_segment_job(["*"])
    assert [seen.method for seen in server.seen] == ["POST"]  # no lookup, no second create


def test_the_ids_this_process_claimed_are_bounded(
    client: SegmentationClient, emulator_admin, monkeypatch
) -> None:
    monkeypatch.setattr(reconcile, "CLAIMED_IDS_KEPT", 3)
    # five creates to fill the claimed ids, not a test of AEP's on-demand allowance (2 a day): quota off
    emulator_admin.configure(rules={"enforce_on_demand_quota": False})
    client.config = replace(client.config, aep_rules="off")  # the client's check of the allowance too
    seg = segment_id(client)
    made = [client.create_segment_job([seg]).id for _ in range(5)]
    assert list(reconcile._claimed)[-3:] == made[-3:] and len(reconcile._claimed) == 3


_STATUSES = st.lists(st.sampled_from(["realized", "existing", "exited"]), min_size=1, max_size=3, unique=True)
_EXPORT = st.fixed_dictionaries(
    {
        "segments": st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
        "status": st.one_of(st.none(), _STATUSES),
        "fields": st.sampled_from(
            [None, "identityMap", "person.name,identityMap", "identityMap, person.name"]
        ),
        "segmentPerBatch": st.booleans(),
        "evaluate": st.booleans(),
    }
)


def _export_body(spec: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    entry = {} if spec["status"] is None else {"status": spec["status"]}
    body: dict[str, Any] = {
        "destination": {"datasetId": PROFILE_DATASET_ID, "segmentPerBatch": spec["segmentPerBatch"]},
        "filter": {"segments": [{"segmentId": ids[i], **entry} for i in spec["segments"]]},
        "schema": {"name": "_xdm.context.profile"},
    }
    if spec["fields"]:
        body["fields"] = spec["fields"]
    if spec["evaluate"]:
        body["evaluationInfo"] = {"segmentation": True}
    return body


def _same_export(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def normal(spec: dict[str, Any]) -> tuple[Any, ...]:
        fields = {f.strip() for f in spec["fields"].split(",")} if spec["fields"] else None
        status = frozenset(spec["status"] or ("realized", "existing"))
        return frozenset(spec["segments"]), status, fields, spec["segmentPerBatch"], spec["evaluate"]

    return normal(a) == normal(b)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["segment", "export"]), theirs=_EXPORT, ours=_EXPORT)
def test_only_a_job_made_for_the_same_request_is_adopted(
    client: SegmentationClient, emulator, emulator_admin, kind, theirs, ours
) -> None:
    """Another caller's job made in the same seconds is a candidate only when it was made for the same
    request (segment ids in any order; for exports also statuses, fields, batching, evaluation): then
    the lookup cannot tell which is its own and fails; otherwise it adopts exactly the job it made."""
    emulator_admin.reset()
    emulator_admin.configure(**TEST_SETTINGS)
    ids = [client.create_segment_definition({**US, "name": f"US {i}"}).id for i in range(3)]
    path, same = (JOBS, set(theirs["segments"]) == set(ours["segments"]))
    if kind == "segment":
        their_body: Any = [{"segmentId": ids[i]} for i in theirs["segments"]]
        create = lambda: client.create_segment_job([ids[i] for i in ours["segments"]])  # noqa: E731
    else:
        path, same, their_body = EXPORTS, _same_export(theirs, ours), _export_body(theirs, ids)
        create = lambda: client.create_export_job(_export_body(ours, ids))  # noqa: E731
    headers = {
        "Authorization": f"Bearer {client.access_token()}",
        "x-api-key": client.config.client_id,
        "x-gw-ims-org-id": client.config.org_id,
        "x-sandbox-name": "prod",
    }
    elsewhere = requests.post(f"{emulator.url}{path}", json=their_body, headers=headers, timeout=10)
    assert elsewhere.status_code == 200
    emulator_admin.inject_fault(method="POST", path=path, kind="status", status=503, after=True, count=1)
    if same:
        with pytest.raises(AEPConnectionError, match="cannot tell which is its own"):
            create()
    else:
        adopted = create()
        assert str(adopted.id) != str(elsewhere.json()["id"])
    assert len(emulator_admin.requests("POST", path)) == 2  # theirs and ours: nothing created again
