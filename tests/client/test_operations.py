"""Every one of the 35 operations, through the client, against the emulator over loopback."""

from __future__ import annotations

import pytest

from airflow_provider_segmentation.client import AEPConflictError, AEPNotFoundError, SegmentationClient
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.models import ExportJobStatus, PreviewState, SegmentJobStatus

US = 'homeAddress.countryCode = "US"'
GOLD = 'loyalty.tier in ["gold", "platinum"]'


def definition(name: str, pql: str = US) -> dict[str, object]:
    return {
        "name": name,
        "expression": {"type": "PQL", "format": "pql/text", "value": pql},
        "schema": {"name": "_xdm.context.profile"},
    }


@pytest.fixture
def until(emulator_admin):
    """Step the emulator's clock until ``predicate()`` is truthy: no sleeping, no racing the wall clock."""

    def wait(predicate, steps: int = 400):
        for _ in range(steps):
            value = predicate()
            if value:
                return value
            emulator_admin.advance_clock(0.05)
        return predicate()

    return wait


def test_segment_definition_lifecycle(client: SegmentationClient) -> None:
    created = client.create_segment_definition(definition("US people"))
    assert created.id and created.name == "US people" and created.evaluation_type == "batch"
    assert client.get_segment_definition(created.id).expression.value == US
    updated = client.update_segment_definition(
        created.id, {**definition("US people", GOLD), "description": "gold"}
    )
    assert updated.expression.value == GOLD and updated.description == "gold"
    other = client.create_segment_definition(definition("Gold"))
    bulk = client.bulk_get_segment_definitions([created.id, other.id, "missing-id"])
    assert set(bulk) == {created.id, other.id}
    assert [d.name for d in client.list_segment_definitions()] == ["US people", "Gold"]
    client.delete_segment_definition(created.id)
    with pytest.raises(AEPNotFoundError) as excinfo:
        client.get_segment_definition(created.id)
    assert excinfo.value.status == 404 and excinfo.value.error_code == "UPAPI-113000-404"
    assert excinfo.value.request_id


def test_duplicate_definition_name_is_a_conflict(client: SegmentationClient) -> None:
    client.create_segment_definition(definition("Twice"))
    with pytest.raises(AEPConflictError) as excinfo:
        client.create_segment_definition(definition("Twice"))
    assert excinfo.value.status == 422


def test_pql_conversion_both_ways(client: SegmentationClient) -> None:
    as_json = client.convert_pql('workAddress.country = "US"')
    assert as_json.expression.format == "pql/json"
    assert '"fieldName":"country"' in as_json.expression.value
    assert '"nodeType":"parameterReference","position":1' in as_json.expression.value
    back = client.convert_pql(as_json.expression.value, source_format="pql/json")
    assert back.expression.format == "pql/text" and back.expression.value == 'workAddress.country = "US"'


def test_segment_job_runs_to_success_with_counts(client: SegmentationClient, until) -> None:
    seg = client.create_segment_definition(definition("US"))
    job = client.create_segment_job([seg.id])
    assert job.status == SegmentJobStatus.NEW and job.segment_ids == [seg.id]
    finished = until(lambda: (j := client.get_segment_job(job.id)).status == "SUCCEEDED" and j)
    assert finished and finished.metrics is not None
    assert finished.metrics.total_profiles == 2000
    counted = finished.metrics.segmented_profile_counter[seg.id]
    assert 0 < counted < 2000
    assert finished.metrics.segmented_profile_by_status_counter[seg.id]["realized"] == counted
    assert list(client.bulk_get_segment_jobs([job.id])) == [job.id]
    assert [j.id for j in client.list_segment_jobs(status="SUCCEEDED")] == [job.id]


def test_cancel_segment_job_goes_through_cancelling(
    client: SegmentationClient, emulator_admin, until
) -> None:
    emulator_admin.configure(job_step_seconds=0.5)
    seg = client.create_segment_definition(definition("US"))
    job = client.create_segment_job([seg.id])
    client.cancel_segment_job(job.id)
    assert client.get_segment_job(job.id).status == SegmentJobStatus.CANCELLING
    assert until(lambda: client.get_segment_job(job.id).status == SegmentJobStatus.CANCELLED)
    assert emulator_admin.requests("DELETE", "/data/core/ups/segment/jobs/")[0]["status"] == 204


def test_export_job_writes_members_into_a_batch(client: SegmentationClient, emulator_admin, until) -> None:
    seg = client.create_segment_definition(definition("US"))
    job = client.create_segment_job([seg.id])
    until(lambda: client.get_segment_job(job.id).status == "SUCCEEDED")
    export = client.create_export_job(
        {
            "fields": "identityMap,homeAddress.countryCode",
            "filter": {"segments": [{"segmentId": seg.id, "status": ["realized", "existing"]}]},
            "destination": {"datasetId": PROFILE_DATASET_ID, "segmentPerBatch": False},
        }
    )
    assert export.id.isdigit() and export.status == ExportJobStatus.NEW
    finished = until(lambda: (e := client.get_export_job(export.id)).status == "SUCCEEDED" and e)
    assert finished
    [batch_id] = finished.destination.batch_ids
    records = emulator_admin.batch(PROFILE_DATASET_ID, batch_id)
    assert len(records) == finished.exported_profiles > 0
    assert all(r["homeAddress"] == {"countryCode": "US"} and "person" not in r for r in records)
    assert [e.id for e in client.list_export_jobs(status="SUCCEEDED")] == [export.id]
    assert client.cancel_export_job(export.id).status is True


def test_preview_and_estimate(client: SegmentationClient, until) -> None:
    preview = client.create_preview(GOLD)
    assert preview.preview_id and preview.state == PreviewState.NEW
    estimate = until(lambda: (e := client.get_estimate(preview.preview_id)).state == "RESULT_READY" and e)
    assert estimate and estimate.estimated_size and estimate.estimated_size > 0
    page = client.get_preview(preview.preview_id, limit=5)
    assert page.state == PreviewState.RESULT_READY and len(page.results) == 5
    members = [row.profile_id for row in client.iter_preview_results(preview.preview_id, limit=100)]
    assert len(members) == estimate.estimated_size == len(set(members))
    client.delete_preview(preview.preview_id)
    with pytest.raises(AEPNotFoundError):
        client.get_estimate(preview.preview_id)


def test_schedule_lifecycle(client: SegmentationClient) -> None:
    schedule = client.create_schedule("nightly", cron="0 0 1 * * ?")
    assert schedule.state == "inactive" and schedule.schedule == "0 0 1 * * ?"
    client.update_schedule(schedule.id, state="active", cron="0 30 2 * * ?")
    fetched = client.get_schedule(schedule.id)
    assert (fetched.state, fetched.schedule) == ("active", "0 30 2 * * ?")
    assert [s.name for s in client.list_schedules()] == ["nightly"]
    client.delete_schedule(schedule.id)
    with pytest.raises(AEPNotFoundError):
        client.get_schedule(schedule.id)


def test_audience_lifecycle(client: SegmentationClient) -> None:
    audience = client.create_audience({**definition("Gold members", GOLD), "description": "v1"})
    assert audience.type == "SegmentDefinition" and audience.audience_id == audience.id
    patched = client.patch_audience(audience.id, [{"op": "add", "path": "/description", "value": "v2"}])
    assert patched is not None and patched.description == "v2"
    replaced = client.replace_audience(audience.id, {**definition("Gold members", GOLD), "description": "v3"})
    assert replaced is not None and replaced.description == "v3"
    assert client.get_audience(audience.id).description == "v3"
    assert set(client.bulk_get_audiences([audience.id, "nope"])) == {audience.id}
    assert [a.name for a in client.list_audiences(name="gold")] == ["Gold members"]
    client.delete_audience(audience.id)
    with pytest.raises(AEPNotFoundError) as excinfo:
        client.get_audience(audience.id)
    assert excinfo.value.error_code == "UPAPI-113430-404"


def test_search_namespaces_entities_taxonomy(client: SegmentationClient, emulator_admin) -> None:
    audience = client.create_audience(definition("Search me"))
    counts = client.search_namespaces(query_text="search")
    assert counts["namespaces"][0]["count"] == 1
    assert [e.name for e in client.search_entities(namespace="AEPSegments", query_text="search")] == [
        "Search me"
    ]
    taxonomy = client.search_taxonomy(namespace="AEPSegments", entity_id=audience.id)
    assert taxonomy["taxonomy"][-1]["name"] == "Search me"
    searches = emulator_admin.requests("GET", "/data/core/ups/search/")
    assert len(searches) == 3 and all(r["status"] == 200 for r in searches)
