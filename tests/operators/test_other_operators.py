"""Definitions, exports, estimates and previews, schedules, PQL conversion."""

from __future__ import annotations

import json

import pytest

from airflow_provider_segmentation.client import AEPAudienceSizeError, AEPConflictError, AEPValidationError
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.pql import AEPConvertPQLOperator
from airflow_provider_segmentation.operators.previews import (
    AEPEstimateAudienceOperator,
    AEPPreviewAudienceOperator,
)
from airflow_provider_segmentation.operators.schedules import (
    AEPDeleteScheduleOperator,
    AEPUpdateScheduleOperator,
    AEPUpsertScheduleOperator,
)
from airflow_provider_segmentation.operators.segment_definitions import (
    AEPDeleteSegmentDefinitionOperator,
    AEPUpdateSegmentDefinitionOperator,
    AEPUpsertSegmentDefinitionOperator,
)
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from tests.compat import TaskDeferred
from tests.operators.conftest import make_context, run_trigger

US = 'homeAddress.countryCode = "US"'
GOLD = 'loyalty.tier = "gold"'


def upsert(**kwargs) -> dict:
    args = {"task_id": "upsert", "name": "US people", "expression": US, **kwargs}
    return AEPUpsertSegmentDefinitionOperator(**args).execute(make_context())


def test_upsert_creates_then_leaves_unchanged_then_updates(aep_conn, emulator_admin) -> None:
    first = upsert()
    assert first["action"] == "created" and first["evaluation"] == "batch"
    assert upsert()["action"] == "unchanged"
    updated = upsert(expression=GOLD)
    assert updated["action"] == "updated" and updated["id"] == first["id"]
    assert [d.expression.value for d in SegmentationHook().client.list_segment_definitions()] == [GOLD]
    assert len(emulator_admin.requests("POST", "/data/core/ups/segment/definitions")) == 1
    assert len(emulator_admin.requests("PATCH", "/data/core/ups/segment/definitions/")) == 1
    json.dumps(first)


def test_upsert_skip_and_fail(aep_conn) -> None:
    upsert()
    assert upsert(expression=GOLD, if_exists="skip")["action"] == "skipped"
    with pytest.raises(AEPConflictError, match="already exists"):
        upsert(if_exists="fail")


def test_upsert_rejects_bad_arguments() -> None:
    with pytest.raises(AEPValidationError, match="if_exists 'replace'"):
        AEPUpsertSegmentDefinitionOperator(task_id="x", name="n", expression=US, if_exists="replace")
    with pytest.raises(AEPValidationError, match="evaluation"):
        AEPUpsertSegmentDefinitionOperator(task_id="x", name="n", expression=US, evaluation="realtime")


def test_update_and_delete_definition(aep_conn) -> None:
    created = upsert()
    result = AEPUpdateSegmentDefinitionOperator(
        task_id="u", segment_id=created["id"], expression=GOLD, description="gold"
    ).execute(make_context())
    assert (result["expression"], result["description"], result["name"]) == (GOLD, "gold", "US people")
    delete = AEPDeleteSegmentDefinitionOperator(task_id="d", segment_id=created["id"])
    assert delete.execute(make_context())["deleted"] is True
    assert (
        AEPDeleteSegmentDefinitionOperator(task_id="d", segment_id=created["id"], missing_ok=True).execute(
            make_context()
        )["deleted"]
        is False
    )


def evaluated_segment() -> str:
    seg = upsert()["id"]
    AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], poll_interval=0.02, deferrable=False).execute(
        make_context()
    )
    return str(seg)


def test_export_writes_members_and_reports_batches(aep_conn, emulator_admin) -> None:
    seg = evaluated_segment()
    context = make_context()
    result = AEPExportAudienceOperator(
        task_id="export",
        segment_ids=[seg],
        dataset_id=PROFILE_DATASET_ID,
        fields="personalEmail.address",
        segment_per_batch=True,
        poll_interval=0.02,
        deferrable=False,
    ).execute(context)
    assert result["status"] == "SUCCEEDED" and len(result["batch_ids"]) == 1
    records = emulator_admin.batch(PROFILE_DATASET_ID, result["batch_ids"][0])
    assert len(records) == result["exported_profiles"] > 0
    assert all(set(r) == {"personalEmail"} for r in records)
    assert context["ti"].xcoms["aep_export_job_url"].endswith(f"/export/jobs/{result['job_id']}?sandbox=prod")


async def test_export_deferred(aep_conn) -> None:
    seg = evaluated_segment()
    op = AEPExportAudienceOperator(
        task_id="export",
        segment_ids=[seg],
        dataset_id=PROFILE_DATASET_ID,
        deferrable=True,
        poll_interval=0.02,
    )
    with pytest.raises(TaskDeferred) as excinfo:
        op.execute(make_context())
    event = await run_trigger(excinfo.value.trigger)
    result = op.execute_complete(make_context(), event)
    assert result["status"] == "SUCCEEDED" and result["exported_profiles"] > 0


def test_export_rejects_bad_status() -> None:
    with pytest.raises(AEPValidationError, match="subset"):
        AEPExportAudienceOperator(task_id="e", segment_ids=["a"], dataset_id="d", status=["active"])


@pytest.mark.parametrize("dataset_id", ["a/b\n", "a/b", " d "])
def test_export_refuses_a_rendered_dataset_id_that_is_not_an_id(aep_conn, emulator_admin, dataset_id) -> None:
    """A templated dataset id is checked once rendered, as an id, before anything is posted."""
    op = AEPExportAudienceOperator(
        task_id="export", segment_ids=[evaluated_segment()], dataset_id="{{ params.dataset_id }}"
    )
    op.dataset_id = dataset_id  # what templating rendered
    with pytest.raises(AEPValidationError) as excinfo:
        op.execute(make_context())
    assert excinfo.value.field == "dataset_id" and repr(dataset_id) in excinfo.value.message
    assert emulator_admin.requests("POST", "/data/core/ups/export/jobs") == []


def test_export_refuses_a_literal_dataset_id_that_is_not_an_id() -> None:
    with pytest.raises(AEPValidationError, match="contains '/'") as excinfo:
        AEPExportAudienceOperator(task_id="e", segment_ids=["a"], dataset_id="datasets/d")
    assert excinfo.value.field == "dataset_id"


def test_estimate_size_gate(aep_conn, emulator_admin) -> None:
    passed = AEPEstimateAudienceOperator(
        task_id="est", expression=GOLD, min_size=1, poll_interval=0.02, deferrable=False
    ).execute(make_context())
    assert passed["estimated_size"] > 0
    assert len(emulator_admin.requests("DELETE", "/data/core/ups/preview/")) == 1
    with pytest.raises(AEPAudienceSizeError, match=r"outside the allowed range \[0, 10\]"):
        AEPEstimateAudienceOperator(
            task_id="est", expression=GOLD, max_size=10, poll_interval=0.02, deferrable=False
        ).execute(make_context())


async def test_estimate_deferred(aep_conn) -> None:
    op = AEPEstimateAudienceOperator(
        task_id="est", expression=GOLD, min_size=1, deferrable=True, poll_interval=0.02
    )
    with pytest.raises(TaskDeferred) as excinfo:
        op.execute(make_context())
    event = await run_trigger(excinfo.value.trigger)
    assert event["kind"] == "estimate" and event["status"] == "success"
    assert op.execute_complete(make_context(), event)["estimated_size"] > 0


def test_min_size_above_max_size_is_rejected() -> None:
    with pytest.raises(AEPValidationError, match="greater than max_size"):
        AEPEstimateAudienceOperator(task_id="e", expression=US, min_size=10, max_size=1)


def test_preview_returns_members(aep_conn) -> None:
    result = AEPPreviewAudienceOperator(
        task_id="p", expression=GOLD, max_members=3, poll_interval=0.02, deferrable=False
    ).execute(make_context())
    assert len(result["members"]) == 3 and result["estimated_size"] >= 3
    json.dumps(result)


def test_schedule_upsert_update_delete(aep_conn) -> None:
    created = AEPUpsertScheduleOperator(task_id="s", name="daily", cron="0 0 1 * * ?").execute(make_context())
    assert (created["action"], created["state"]) == ("created", "active")
    moved = AEPUpsertScheduleOperator(task_id="s", name="daily", cron="0 0 2 * * ?").execute(make_context())
    assert (moved["action"], moved["cron"], moved["id"]) == ("updated", "0 0 2 * * ?", created["id"])
    paused = AEPUpdateScheduleOperator(task_id="u", schedule_id=created["id"], state="inactive").execute(
        make_context()
    )
    assert paused["state"] == "inactive"
    assert AEPDeleteScheduleOperator(task_id="d", schedule_id=created["id"]).execute(make_context())[
        "deleted"
    ]


def test_schedule_with_bad_cron_fails_before_http(aep_conn, emulator_admin) -> None:
    with pytest.raises(AEPValidationError, match="6 or 7 fields"):
        AEPUpsertScheduleOperator(task_id="s", name="daily", cron="0 1 * * *").execute(make_context())
    assert emulator_admin.requests() == []


def test_convert_pql(aep_conn) -> None:
    result = AEPConvertPQLOperator(task_id="c", expression=US).execute(make_context())
    assert result["format"] == "pql/json" and json.loads(result["value"])["fnName"] == "="
