"""Ambiguous creates: a create whose answer is lost is reconciled with what AEP holds, never duplicated."""

from __future__ import annotations

import random

import pytest
import requests

from airflow_provider_segmentation.client import (
    AEPConnectionError,
    AsyncSegmentationClient,
    SegmentationClient,
)
from airflow_provider_segmentation.client.api import SegmentationAPI as api
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from tests.client.conftest import make_config

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
