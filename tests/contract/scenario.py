"""What the contract tests capture: the real client calling all 35 operations, then error answers.

``drive_client`` makes every call through ``SegmentationClient`` (so what is validated is what the
client really sends); ``drive_errors`` sends plain HTTP for the error answers the spec documents that the
client never provokes by itself (it refuses bad input before sending). The emulator's clock is frozen
and stepped, so jobs finish without sleeping.
"""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_segmentation.client import AEPError, SegmentationClient
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from tests.conftest import EmulatorAdmin

BASE = "/data/core/ups"
US = 'homeAddress.countryCode = "US"'
GOLD = 'loyalty.tier in ["gold", "platinum"]'
STEP = 60.0  # one clock step finishes any job (the contract module sets job_step_seconds to 1)


def definition(name: str, pql: str = US) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} (contract)",
        "expression": {"type": "PQL", "format": "pql/text", "value": pql},
        "schema": {"name": "_xdm.context.profile"},
    }


def drive_client(client: SegmentationClient, admin: EmulatorAdmin) -> dict[str, str]:
    """Call each of the 35 operations at least once, on their success paths; returns the ids made."""
    us = client.create_segment_definition(definition("US"))
    gold = client.create_segment_definition(definition("Gold", GOLD))
    assert us.id and gold.id
    client.get_segment_definition(us.id)
    client.update_segment_definition(us.id, {**definition("US"), "description": "updated"})
    list(client.list_segment_definitions(limit=1))  # two pages
    client.bulk_get_segment_definitions([us.id, gold.id, "missing-definition"])
    converted = client.convert_pql(US)
    client.convert_pql(converted.expression.value, source_format="pql/json")

    job = client.create_segment_job([us.id, gold.id])
    client.get_segment_job(job.id)  # NEW
    admin.advance_clock(STEP)
    client.get_segment_job(job.id)  # SUCCEEDED, with metrics
    doomed = client.create_segment_job([gold.id])
    client.cancel_segment_job(doomed.id)
    client.get_segment_job(doomed.id)  # CANCELLING
    list(client.list_segment_jobs(limit=1))  # two pages
    list(client.list_segment_jobs(status="SUCCEEDED"))
    client.bulk_get_segment_jobs([job.id, doomed.id, "missing-job"])

    export = client.create_export_job(
        {
            "fields": "identityMap,homeAddress.countryCode",
            "filter": {"segments": [{"segmentId": us.id, "segmentNs": "ups", "status": ["realized"]}]},
            "destination": {"datasetId": PROFILE_DATASET_ID, "segmentPerBatch": False},
            "mergePolicy": {"id": "timestampOrdered-none-mp", "version": 1},
        }
    )
    admin.advance_clock(STEP)
    client.get_export_job(export.id)  # SUCCEEDED, with its batch
    per_segment = client.create_export_job(
        {
            "filter": {"segments": [{"segmentId": us.id}, {"segmentId": gold.id}]},
            "destination": {"datasetId": PROFILE_DATASET_ID, "segmentPerBatch": True},
        }
    )
    admin.advance_clock(STEP)
    client.get_export_job(per_segment.id)
    list(client.list_export_jobs(limit=1))  # two pages
    list(client.list_export_jobs(status="SUCCEEDED"))
    client.cancel_export_job(per_segment.id)

    preview = client.create_preview(GOLD)
    client.get_estimate(preview.preview_id)  # RUNNING
    admin.advance_clock(STEP)
    client.get_estimate(preview.preview_id)  # RESULT_READY
    client.get_preview(preview.preview_id, limit=2)
    list(client.iter_preview_results(preview.preview_id, limit=500))
    client.delete_preview(preview.preview_id)

    schedule = client.create_schedule("nightly", cron="0 0 1 * * ?", segments=[us.id])
    client.create_schedule("all", cron="0 30 2 * * ?")
    client.get_schedule(schedule.id)
    client.update_schedule(schedule.id, state="active", cron="0 0 3 * * ?")
    list(client.list_schedules(limit=1))  # two pages
    admin.advance_clock(2 * 86400)  # the active schedule fires: jobs with source "scheduler"
    list(client.list_segment_jobs())
    client.delete_schedule(schedule.id)

    audience = client.create_audience({**definition("Gold members", GOLD), "labels": ["core/C1"]})
    other = client.create_audience({"name": "External", "description": "no expression"})
    assert audience.id and other.id
    client.get_audience(audience.id)
    client.patch_audience(audience.id, [{"op": "add", "path": "/description", "value": "v2"}])
    client.patch_audience(
        audience.id,
        [{"op": "add", "path": "/expression", "value": {"type": "PQL", "format": "pql/text", "value": US}}],
    )
    client.replace_audience(audience.id, {**definition("Gold members", GOLD), "description": "v3"})
    list(client.list_audiences(limit=1))  # two pages: the last one has no _page.next
    client.bulk_get_audiences([audience.id, other.id, "missing-audience"])
    client.search_namespaces(query_text="Gold")
    list(client.search_entities(namespace="AEPSegments", query_text="*", limit=1))
    client.search_taxonomy(namespace="AEPSegments", entity_id=audience.id)
    client.delete_audience(other.id)
    client.delete_segment_definition(gold.id)
    return {"segment": us.id, "job": job.id, "audience": audience.id, "export": str(export.id)}


def drive_errors(
    client: SegmentationClient,
    admin: EmulatorAdmin,
    base_url: str,
    headers: dict[str, str],
    ids: dict[str, str],
) -> None:
    """The documented error answers: through the client where it sends the request, else plain HTTP."""
    for call in (
        lambda: client.get_segment_definition("no-such-definition"),  # 404
        lambda: client.create_segment_definition(definition("US")),  # 422: the name exists
        lambda: client.create_segment_definition(definition("Bad", "loyalty.points >")),  # 400
        lambda: client.update_segment_definition(ids["segment"], definition("US", "loyalty.points >")),  # 400
        lambda: client.convert_pql("loyalty.points >"),  # 400
        lambda: client.get_segment_job("no-such-job"),  # 404
        lambda: client.cancel_segment_job("no-such-job"),  # 404
        lambda: client.get_export_job("999999"),  # 404
        lambda: client.cancel_export_job("999999"),  # 404
        lambda: client.get_preview("no-such-preview"),  # 404
        lambda: client.delete_preview("no-such-preview"),  # 404
        lambda: client.get_estimate("no-such-preview"),  # 404
        lambda: client.get_schedule("no-such-schedule"),  # 404
        lambda: client.delete_schedule("no-such-schedule"),  # 404
        lambda: client.get_audience("no-such-audience"),  # 404
        lambda: client.delete_audience("no-such-audience"),  # 404
        lambda: client.patch_audience("no-such-audience", [{"op": "add", "path": "/name", "value": "x"}]),
        lambda: client.replace_audience("no-such-audience", {"name": "x"}),  # 404
        lambda: client.bulk_get_audiences(["no-such-audience"]),  # 404: none found
    ):
        try:
            call()
        except AEPError:
            pass
        else:
            raise AssertionError("an error path of the contract scenario succeeded")

    def send(method: str, path: str, body: Any = None, **extra: str) -> int:
        response = requests.request(
            method, f"{base_url}{BASE}{path}", json=body, headers={**headers, **extra}, timeout=10
        )
        return response.status_code

    json_headers = {"Content-Type": "application/json"}
    statuses = {
        "createAudience": send("POST", "/audiences", {"name": ["x"]}, **json_headers),
        "patchAudience": send(
            "PATCH",
            f"/audiences/{ids['audience']}",
            [{"op": "add", "path": "/name", "value": 7}],
            **json_headers,
        ),
        "updateAudience": send("PUT", f"/audiences/{ids['audience']}", {"name": 7}, **json_headers),
        "bulkGetAudiences": send(
            "POST", "/audiences/bulk-get", {"ids": [{"id": str(i)} for i in range(101)]}, **json_headers
        ),
        "createSegmentJob": send("POST", "/segment/jobs", [{"segmentId": 7}], **json_headers),
        "createSchedule": send(
            "POST",
            "/config/schedules",
            {
                "name": "x",
                "type": "batch_segmentation",
                "properties": {"segments": ["*"]},
                "schedule": "every day",
            },
            **json_headers,
        ),
        "updateSchedule": send(
            "PATCH",
            "/config/schedules/no-such-schedule",
            [{"op": "add", "path": "/state", "value": "on"}],
            **json_headers,
        ),
        "listAudiences": send("GET", "/audiences", **{"x-api-key": "someone-else"}),
    }
    admin.configure(max_processing_segment_jobs=1)
    send("POST", "/segment/jobs", [{"segmentId": ids["segment"]}], **json_headers)
    statuses["createSegmentJob (429)"] = send(
        "POST", "/segment/jobs", [{"segmentId": ids["segment"]}], **json_headers
    )
    expected = {
        "createAudience": 400,
        "patchAudience": 400,
        "updateAudience": 400,
        "bulkGetAudiences": 400,
        "createSegmentJob": 400,
        "createSchedule": 400,
        "updateSchedule": 400,
        "listAudiences": 403,
        "createSegmentJob (429)": 429,
    }
    assert statuses == expected, statuses
