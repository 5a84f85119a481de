"""Each endpoint's own pagination scheme, followed across at least three pages."""

from __future__ import annotations

from urllib.parse import parse_qs

from airflow_provider_segmentation.client import SegmentationClient
from airflow_provider_segmentation.client.client import SegmentationAPI as api
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID


def _queries(emulator_admin, path: str) -> list[dict[str, list[str]]]:
    return [parse_qs(r["query"]) for r in emulator_admin.requests("GET", path) if r["path"] == path]


def _definitions(client: SegmentationClient, count: int) -> list[str]:
    return [
        client.create_segment_definition(
            {"name": f"d{i:02d}", "expression": {"value": f"loyalty.points > {i * 100}"}}
        ).id
        or ""
        for i in range(count)
    ]


def test_definitions_follow_page_numbers(client: SegmentationClient, emulator_admin) -> None:
    _definitions(client, 7)
    emulator_admin.clear_requests()
    names = [d.name for d in client.list_segment_definitions(limit=3)]
    assert names == [f"d{i:02d}" for i in range(7)]  # in order, although pages 1 and 2 were fetched at once
    pages = [q["page"] for q in _queries(emulator_admin, "/data/core/ups/segment/definitions")]
    assert pages[0] == ["0"] and sorted(pages[1:]) == [["1"], ["2"]]


def test_list_is_lazy(client: SegmentationClient, emulator_admin) -> None:
    _definitions(client, 7)
    emulator_admin.clear_requests()
    first = next(iter(client.list_segment_definitions(limit=3)))
    assert first.name == "d00" and len(emulator_admin.requests("GET")) == 1


def test_segment_jobs_follow_links_next(client: SegmentationClient, emulator_admin) -> None:
    emulator_admin.configure(token_lifetime_seconds=30 * 86400)  # the clock steps a week
    ids = _definitions(client, 1)
    jobs = []
    for _ in range(7):
        jobs.append(client.create_segment_job(ids).id)
        emulator_admin.advance_clock(86400)  # a new UTC day each: AEP allows 2 on-demand runs a day
    emulator_admin.clear_requests()
    listed = [j.id for j in client.list_segment_jobs(limit=3)]
    assert listed == list(reversed(jobs))
    starts = [q.get("start") for q in _queries(emulator_admin, "/data/core/ups/segment/jobs")]
    assert starts == [["0"], ["3"], ["6"]]


def test_export_jobs_follow_the_offset_cursor(client: SegmentationClient, emulator_admin) -> None:
    request = {"destination": {"datasetId": PROFILE_DATASET_ID}}
    created = [client.create_export_job(request).id for _ in range(7)]
    emulator_admin.clear_requests()
    listed = [e.id for e in client.list_export_jobs(limit=3)]
    assert sorted(listed) == sorted(created) and len(listed) == 7
    offsets = [q.get("offset") for q in _queries(emulator_admin, "/data/core/ups/export/jobs")]
    assert offsets[0] is None and len(offsets) == 3 and all(o and "_" in o[0] for o in offsets[1:])


def test_schedules_follow_page_next(client: SegmentationClient, emulator_admin) -> None:
    for i in range(7):
        client.create_schedule(f"s{i}", cron="0 0 1 * * ?")
    emulator_admin.clear_requests()
    assert [s.name for s in client.list_schedules(limit=3)] == [f"s{i}" for i in range(7)]
    assert [q["start"] for q in _queries(emulator_admin, "/data/core/ups/config/schedules")] == [
        ["0"],
        ["3"],
        ["6"],
    ]


def test_audiences_follow_page_next(client: SegmentationClient, emulator_admin) -> None:
    for i in range(7):
        client.create_audience({"name": f"a{i}"})
    emulator_admin.clear_requests()
    assert [a.name for a in client.list_audiences(limit=3)] == [f"a{i}" for i in range(7)]
    assert [q["start"] for q in _queries(emulator_admin, "/data/core/ups/audiences")] == [["0"], ["3"], ["6"]]


def test_preview_results_follow_links_next(client: SegmentationClient, emulator_admin) -> None:
    preview = client.create_preview('loyalty.tier = "platinum"')
    while client.get_estimate(preview.preview_id).state != "RESULT_READY":
        emulator_admin.advance_clock(0.05)
    size = client.get_estimate(preview.preview_id).estimated_size or 0
    limit = size // 3 + 1
    emulator_admin.clear_requests()
    rows = list(client.iter_preview_results(preview.preview_id, limit=limit))
    assert len({r.profile_id for r in rows}) == size
    assert len(emulator_admin.requests("GET", "/data/core/ups/preview/")) == 3


def test_search_entities_follow_page_numbers(client: SegmentationClient, emulator_admin) -> None:
    for i in range(7):
        client.create_audience({"name": f"find {i}"})
    emulator_admin.clear_requests()
    found = list(client.search_entities(namespace="AEPSegments", query_text="find", limit=3))
    assert len(found) == 7
    # The first page names the page count; pages 1 and 2 are then fetched side by side, in any order.
    pages = [q["page"] for q in _queries(emulator_admin, "/data/core/ups/search/entities")]
    assert pages[0] == ["0"] and sorted(pages[1:]) == [["1"], ["2"]]


def test_empty_first_page_stops(client: SegmentationClient, emulator_admin) -> None:
    assert list(client.paginate(api.list_segment_jobs.build())) == []
    assert len(emulator_admin.requests("GET", "/data/core/ups/segment/jobs")) == 1
