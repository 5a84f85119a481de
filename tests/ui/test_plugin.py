"""The "AEP audiences" plugin in a real api-server: installed with the package (its airflow.plugins
entry point), refused without a login (Airflow itself protects no plugin app: proven with an
unprotected one), numbers as AEP has them, and reads that a reload does not repeat."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client.errors import AEPJobFailedError
from airflow_provider_segmentation.ui.cache import TTLCache
from tests.compat import AIRFLOW_V_3_1_PLUS
from tests.ui.conftest import ApiServer

PAGE, SOURCES, OVERVIEW = "/aep-audiences/", "/aep-audiences/api/sources", "/aep-audiences/api/overview"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_plugin_is_installed_with_the_package_and_the_api_server_lists_it(api_server: ApiServer) -> None:
    from importlib.metadata import entry_points

    from airflow.plugins_manager import AirflowPlugin

    [entry] = [e for e in entry_points(group="airflow.plugins") if e.name == "aep_audiences"]
    plugin = entry.load()
    assert issubclass(plugin, AirflowPlugin) and plugin is not AirflowPlugin
    plugin.validate()
    listed = requests.get(f"{api_server.url}/api/v2/plugins", headers=bearer(api_server.token()), timeout=30)
    plugin = next(p for p in listed.json()["plugins"] if p["name"] == "aep_audiences")
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/aep-audiences"
    if AIRFLOW_V_3_1_PLUS:  # 3.0 has no external views: the page is at its URL
        assert plugin["external_views"][0]["href"] == "/aep-audiences/"


def test_airflow_itself_does_not_protect_a_plugins_app(api_server: ApiServer) -> None:
    answer = requests.get(f"{api_server.url}/unprotected/hello", timeout=30)
    assert answer.status_code == 200 and answer.json() == {"hello": "anyone"}


def test_the_page_and_its_data_need_a_login_with_read_access(api_server: ApiServer) -> None:
    url = api_server.url
    for path in (PAGE, SOURCES, OVERVIEW):
        assert requests.get(url + path, timeout=30).status_code == 401, path
        assert requests.get(url + path, headers=bearer("not-a-jwt"), timeout=30).status_code in (401, 403), (
            path
        )
        if AIRFLOW_V_3_1_PLUS:  # a roleless user (Airflow 3.0's simple auth manager cannot log one in)
            nobody = bearer(api_server.token("nobody"))
            assert requests.get(url + path, headers=nobody, timeout=30).status_code == 403
    refused = requests.get(url + PAGE, timeout=30)
    assert 'id="refused"' in refused.text and "Log in to Airflow" in refused.text
    # the UI's own login cookie is enough (what the iframe of the navigation entry sends, 3.1+); Airflow
    # 3.0's get_user reads the Authorization header only, which the page sends from the UI's stored token
    viewer = api_server.token("viewer")
    login: dict[str, Any] = (
        {"cookies": {"_token": viewer}} if AIRFLOW_V_3_1_PLUS else {"headers": bearer(viewer)}
    )
    assert requests.get(url + SOURCES, timeout=30, **login).json()["sources"][1] == {
        "key": "aep_default:dev",
        "connection": "aep_default",
        "sandbox": "dev",
    }
    assert "AEP audiences" in requests.get(url + PAGE, timeout=30, **login).text
    assert (
        requests.get(url + OVERVIEW, params={"source": "other_conn"}, timeout=30, **login).status_code == 404
    )


def test_sizes_and_jobs_are_the_ones_aep_reports(api_server: ApiServer, aep_conn, emulator_admin) -> None:
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    hook = SegmentationHook()
    gold = hook.client.create_segment_definition(
        {"name": "ui gold", "expression": {"value": 'loyalty.tier = "gold"'}}
    )
    silver = hook.client.create_segment_definition(
        {"name": "ui silver", "expression": {"value": 'loyalty.tier = "silver"'}}
    )
    # AEP allows two on-demand evaluations per sandbox per day: one that succeeds, one that fails
    job = hook.client.create_segment_job([gold.id, silver.id])
    finished = [hook.wait_for_segment_job(job.id, poll_interval=0.1, timeout=60)]
    emulator_admin.configure(fail_segment_jobs=True)
    bad = hook.client.create_segment_job([gold.id])
    with pytest.raises(AEPJobFailedError):
        hook.wait_for_segment_job(bad.id, poll_interval=0.1, timeout=60)

    body = requests.get(api_server.url + OVERVIEW, headers=bearer(api_server.token()), timeout=60).json()
    assert body["cached"] is False and "error" not in body, body
    audiences = {a["id"]: a for a in body["audiences"]}
    for definition in (gold, silver):
        shown = audiences[definition.id]
        expected = [job.metrics.segmented_profile_counter[definition.id] for job in finished]
        assert [p["total"] for p in shown["points"]] == expected
        assert shown["size"] == expected[-1] and shown["name"] == definition.name
    jobs = {j["id"]: j for j in body["jobs"]}
    assert (
        jobs[finished[0].id]["status"] == "SUCCEEDED" and jobs[finished[0].id]["duration_seconds"] is not None
    )
    assert jobs[bad.id]["status"] == "FAILED"


def test_a_page_view_costs_a_few_aep_requests_and_a_reload_none(
    api_server: ApiServer, emulator, emulator_admin, monkeypatch
) -> None:
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEV", emulator.connection_json("dev"))
    hook = SegmentationHook("aep_dev")
    for n in range(120):  # two pages of definitions
        hook.client.create_segment_definition(
            {"name": f"ui dev {n:03}", "expression": {"value": f"loyalty.points > {n}"}}
        )
    emulator_admin.clear_requests()
    token = api_server.token()
    get = lambda _: requests.get(  # noqa: E731
        api_server.url + OVERVIEW, params={"source": "aep_default:dev"}, headers=bearer(token), timeout=120
    ).json()
    with ThreadPoolExecutor(4) as pool:  # four people open the page at once: one read of AEP
        bodies = list(pool.map(get, range(4)))
    assert sorted(b["cached"] for b in bodies) == [False, True, True, True]
    assert len(bodies[0]["audiences"]) == 120
    platform = [r for r in emulator_admin.requests() if not r["path"].startswith("/ims")]
    by_path = {
        path: len(list(group)) for path, group in itertools.groupby(sorted(r["path"] for r in platform))
    }
    # 120 definitions: pages of 100 until a short page (3 requests), one page of segment jobs, one of exports
    assert by_path == {
        "/data/core/ups/segment/definitions": 3,
        "/data/core/ups/segment/jobs": 1,
        "/data/core/ups/export/jobs": 1,
    }, by_path
    emulator_admin.clear_requests()
    assert get(0)["cached"] is True
    assert emulator_admin.requests() == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(0, 400), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_the_cache_fetches_only_what_is_missing_or_stale_and_stays_bounded(steps) -> None:
    now = [0.0]
    cache: TTLCache[int] = TTLCache(ttl=300, error_ttl=30, max_keys=3, clock=lambda: now[0])
    model: dict[int, tuple[float, bool]] = {}  # key -> (fetched at, failed), least recently used first
    for key, advance, fails in steps:
        now[0] += advance
        fetched: list[int] = []

        def fetch(key: int = key, fails: bool = fails, fetched: list[int] = fetched) -> int:
            fetched.append(key)
            if fails:
                raise RuntimeError("AEP said no")
            return key

        entry, cached = cache.get(key, fetch)
        known = model.get(key)
        fresh = known is not None and now[0] - known[0] < (30 if known[1] else 300)
        assert cached is fresh and bool(fetched) is not fresh
        if fresh:
            model[key] = model.pop(key)
        else:
            model.pop(key, None)
            model[key] = (now[0], fails)
            while len(model) > 3:
                model.pop(next(iter(model)))
        assert (entry.error is not None) is model[key][1]
        assert len(cache._entries) <= 3
