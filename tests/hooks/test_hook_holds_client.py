"""The hook holds its client: API calls go through ``hook.client`` (and ``await hook.aclient()``); an
operation called on the hook itself, as before, still answers, with a deprecation warning naming the
new spelling; the hook adds only what is Airflow's or about job kinds."""

from __future__ import annotations

import asyncio

import pytest
from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_segmentation.client import (
    AEPConfigurationError,
    Call,
    Pages,
    SegmentationAPI,
    SegmentationClient,
)
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.kinds import JobKind

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}
OPERATIONS = sorted(n for n in dir(SegmentationAPI) if isinstance(getattr(SegmentationAPI, n), Call | Pages))


def test_the_hook_is_not_the_client_and_holds_one() -> None:
    assert not isinstance(SegmentationHook(), SegmentationAPI)
    assert not any(name in vars(SegmentationHook) for name in OPERATIONS)


def test_calls_go_through_the_hook_s_client(aep_conn: str, emulator_admin) -> None:
    hook = SegmentationHook()
    assert isinstance(hook.client, SegmentationClient) and hook.get_conn() is hook.client
    created = hook.client.create_segment_definition(US)
    assert hook.client.get_segment_definition(created.id).name == "US"
    seen = emulator_admin.requests(path="/data/core/ups/segment/definitions")
    assert [r["method"] for r in seen] == ["POST", "GET"]


@pytest.mark.parametrize("name", ["get_segment_definition", "list_segment_definitions", "execute"])
def test_an_operation_on_the_hook_still_answers_and_warns(aep_conn: str, name: str) -> None:
    hook = SegmentationHook()
    created = hook.client.create_segment_definition(US)
    with pytest.warns(AirflowProviderDeprecationWarning, match=rf"hook\.client\.{name}"):
        method = getattr(hook, name)
    if name == "get_segment_definition":
        assert method(created.id).id == created.id
    elif name == "list_segment_definitions":
        assert [d.id for d in method()] == [created.id]
    else:
        assert method(SegmentationAPI.get_segment_definition.build(created.id)).id == created.id


def test_a_name_that_is_no_operation_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'create_segment_jobz'"):
        SegmentationHook().create_segment_jobz  # noqa: B018


def test_the_hook_reads_and_stops_jobs_by_kind(aep_conn: str, emulator_admin) -> None:
    hook = SegmentationHook()
    definition = hook.client.create_segment_definition(US)
    job = hook.client.create_segment_job([definition.id])
    assert hook.read_job(JobKind.SEGMENT_JOB, job.id).id == job.id
    assert hook.read_job("segment_job", job.id).id == job.id
    hook.cancel_job(JobKind.SEGMENT_JOB, job.id)
    assert emulator_admin.requests("DELETE")[-1]["path"].endswith(f"/segment/jobs/{job.id}")
    with pytest.raises(AEPConfigurationError, match="never starts a scheduled segment job"):
        hook.cancel_job(JobKind.SCHEDULED_SEGMENT_JOB, "schedule-1")


def test_the_async_client_has_every_operation_awaited(aep_conn: str) -> None:
    async def run() -> str | None:
        async with SegmentationHook() as hook:
            client = await hook.aclient()
            created = await client.create_segment_definition(US)
            return (await client.get_segment_definition(created.id)).name

    assert asyncio.run(run()) == "US"


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("AEPJobFailedError", "airflow_provider_segmentation.client"),
        ("Outcome", "airflow_provider_segmentation.client"),
        ("request_fingerprint", "airflow_provider_segmentation.client"),
        ("check_task_sandbox", "airflow_provider_segmentation.mixins"),
    ],
)
def test_names_the_hook_module_re_exported_still_import_and_warn(name: str, home: str) -> None:
    import importlib

    import airflow_provider_segmentation.hooks.segmentation as hook_module

    with pytest.warns(AirflowProviderDeprecationWarning, match=rf"import it from {home}"):
        value = getattr(hook_module, name)
    assert value is getattr(importlib.import_module(home), name)


@pytest.mark.parametrize(
    ("name", "replacement"), [("JOB_READS", r"JOB_TYPES\[kind\]\.read"), ("status_of", "status_text")]
)
def test_removed_waiting_names_say_what_replaced_them(name: str, replacement: str) -> None:
    import airflow_provider_segmentation.hooks.segmentation as hook_module

    with pytest.raises(AttributeError, match=replacement):
        getattr(hook_module, name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        hook_module.nothing_here  # noqa: B018
