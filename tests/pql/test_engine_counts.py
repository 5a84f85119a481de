"""The emulator's counts are real: a job, a preview, an estimate and an export match a direct evaluation."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.emulator.profiles import PQLEngine, ProfileStore
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

DEFINITION = (
    'homeAddress.countryCode = "US" and loyalty.points > 3000 and exists X from xEvent '
    'where (X.eventType = "commerce.productViews" and X.timestamp occurs <= 60 days before now)'
)


def direct_members(emulator, text: str) -> set[str]:
    store: ProfileStore = emulator.app.state.emulator.engine.store
    now = datetime.now(timezone.utc)
    return {pid for pid, view in store.views() if pql.evaluate(text, view, now=now)}


def test_job_preview_estimate_and_export_match_direct_evaluation(aep_conn, emulator, emulator_admin) -> None:
    expected = direct_members(emulator, DEFINITION)
    assert 0 < len(expected) < 2000
    hook = SegmentationHook()
    seg = hook.client.create_segment_definition({"name": "check", "expression": {"value": DEFINITION}})
    job = hook.wait_for_segment_job(
        hook.client.create_segment_job([seg.id]).id, poll_interval=0.02, timeout=30
    )
    assert job.metrics.segmented_profile_counter[seg.id] == len(expected)

    preview = hook.client.create_preview(DEFINITION)
    estimate = hook.wait_for_estimate(preview.preview_id, poll_interval=0.02, timeout=30)
    assert estimate.estimated_size == len(expected)
    assert {
        row.profile_id for row in hook.client.iter_preview_results(preview.preview_id, limit=50)
    } == expected

    export = hook.client.create_export_job(
        {
            "filter": {"segments": [{"segmentId": seg.id}]},
            "destination": {"datasetId": PROFILE_DATASET_ID},
            "fields": "_id",
        }
    )
    done = hook.wait_for_export_job(export.id, poll_interval=0.02, timeout=30)
    records = emulator_admin.batch(PROFILE_DATASET_ID, done.destination.batch_ids[0])
    assert {r["_id"] for r in records} == expected


def test_store_is_deterministic() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first, second = ProfileStore(300, seed=5, now=now), ProfileStore(300, seed=5, now=now)
    assert list(first.views()) == list(second.views())
    assert list(ProfileStore(300, seed=6, now=now).views()) != list(first.views())


def test_in_segment_sees_earlier_results() -> None:
    engine = PQLEngine(ProfileStore(500, seed=1))
    gold = set(engine.select('loyalty.tier = "gold"', memberships={}))
    nested = engine.select('inSegment("g") and homeAddress.countryCode = "US"', memberships={"g": gold})
    assert set(nested) <= gold and nested == engine.select(
        'loyalty.tier = "gold" and homeAddress.countryCode = "US"', memberships={}
    )
