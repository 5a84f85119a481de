"""The audience size check over HTTP: history from the emulator's finished segment jobs, one a day."""

from __future__ import annotations

import re

import pytest
from airflow.sdk import Asset
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_segmentation.assets import aep_dataset_asset, create_asset
from airflow_provider_segmentation.client import AEPValidationError
from airflow_provider_segmentation.compat import AirflowSkipException
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from airflow_provider_segmentation.operators.size_check import AEPCheckAudienceSizeOperator
from airflow_provider_segmentation.size_history import AEPSizeAnomalyError, read_size_history
from tests.operators.conftest import make_context

JOBS = "/data/core/ups/segment/jobs"
DAY = 86_400
# Sizes on the session emulator (2,000 profiles, seed 7): 2,000, 1,962, 1,794 and, broken, 134.
NORMAL = (
    "person.birthYear > 1945",
    "person.birthYear > 1950",
    "person.birthYear > 1955",
    "person.birthYear > 1950",
)
BROKEN = "person.birthYear > 2000"


def nightly(emulator_admin, name: str, expressions: tuple[str, ...]) -> tuple[str, list[dict]]:
    """One evaluation a day of the definition ``name``, its expression changed before each (AEP allows
    two on-demand runs a day per sandbox): a real history of sizes in the emulator's segment jobs."""
    hook = SegmentationHook()
    segment_id = ""
    results = []
    for expression in expressions:
        body = {"name": name, "expression": {"value": expression}}
        if segment_id:
            hook.client.update_segment_definition(segment_id, body)
        else:
            segment_id = str(hook.client.create_segment_definition(body).id)
        run = AEPRunSegmentJobOperator(
            task_id="evaluate", segment_ids=[segment_id], poll_interval=0.02, timeout=30, deferrable=False
        )
        results.append(run.execute(make_context()))
        emulator_admin.advance_clock(DAY)
    return segment_id, results


def check(**kwargs) -> AEPCheckAudienceSizeOperator:
    return AEPCheckAudienceSizeOperator(task_id="check_sizes", **kwargs)


def test_a_90_percent_drop_fails_with_the_numbers(aep_conn, emulator_admin) -> None:
    segment_id, _ = nightly(emulator_admin, "Adults", (*NORMAL, BROKEN))
    context = make_context()
    expected = (
        f"audience 'Adults' ({segment_id}): 134 profiles now against a median of 1,962 over the last 4 "
        "evaluations (-93.2 %); the drop limit is 50 %"
    )
    with pytest.raises(AEPSizeAnomalyError, match=re.escape(expected)):
        check(segment_names=["Adults"]).execute(context)
    [verdict] = context["ti"].xcoms["aep_size_verdicts"]
    assert (
        verdict["latest"] == 134
        and verdict["baseline"] == 1962
        and verdict["history"] == [2000, 1962, 1794, 1962]
    )
    assert verdict["judged"] and not verdict["ok"]


def test_the_gate_right_after_an_evaluation_reads_its_result(aep_conn, emulator_admin) -> None:
    segment_id, results = nightly(emulator_admin, "Adults", (*NORMAL, BROKEN))
    with pytest.raises(AEPSizeAnomalyError, match=r"134 profiles now against a median of 1,962"):
        check(latest_from=results[-1]).execute(make_context())
    # the result as Jinja renders it (a Python literal), and the history without tonight's own job
    [verdict] = check(latest_from=str(results[-2]), segment_ids=[segment_id]).execute(make_context())
    assert verdict["ok"] and verdict["latest"] == 1962 and verdict["history"] == [2000, 1962, 1794, 134]


def test_a_size_in_its_normal_range_passes(aep_conn, emulator_admin) -> None:
    segment_id, _ = nightly(emulator_admin, "Adults", (*NORMAL, "person.birthYear > 1955"))
    [verdict] = check(segment_ids=[segment_id]).execute(make_context())
    assert verdict["judged"] and verdict["ok"] and verdict["latest"] == 1794
    assert verdict["message"].endswith("(-8.6 %): within the limits")


def test_too_little_history_is_not_judged(aep_conn, emulator_admin) -> None:
    segment_id, _ = nightly(emulator_admin, "Adults", (NORMAL[0], BROKEN))
    [verdict] = check(segment_ids=[segment_id]).execute(make_context())
    assert verdict["ok"] and not verdict["judged"] and verdict["latest"] == 134
    assert "not judged: 1 earlier evaluation(s) in the history, 3 needed" in verdict["message"]


def test_soft_fail_skips_with_the_numbers(aep_conn, emulator_admin) -> None:
    segment_id, _ = nightly(emulator_admin, "Adults", (*NORMAL, BROKEN))
    with pytest.raises(AirflowSkipException, match=r"134 profiles now .* the drop limit is 50 %"):
        check(segment_ids=[segment_id], soft_fail=True).execute(make_context())


def test_history_is_read_in_bounded_pages_newest_first(aep_conn, emulator_admin) -> None:
    segment_id, _ = nightly(emulator_admin, "Adults", (*NORMAL, BROKEN))
    SegmentationHook().client.get_segment_definition(segment_id)  # a fresh token: the clock moved a day
    emulator_admin.clear_requests()
    history = read_size_history(SegmentationHook().client, segment_ids=[segment_id], max_jobs=3)
    assert [p.total for p in history[segment_id]] == [1794, 1962, 134]
    [listing] = emulator_admin.requests("GET", JOBS)  # 3 of 5 jobs: one page of 3, no second request
    assert "status=SUCCEEDED" in listing["query"] and "sort=creationTime%3Adesc" in listing["query"]


def test_bad_limits_fail_before_any_call(aep_conn, emulator_admin) -> None:
    with pytest.raises(AEPValidationError, match="max_drop must be below 1"):
        check(segment_ids=["a"], max_drop=1.5)
    with pytest.raises(AEPValidationError, match=r"min_history \(8\) exceeds window \(7\)"):
        check(segment_ids=["a"], min_history=8)
    with pytest.raises(
        AEPValidationError, match="latest_from must be the result of an AEPRunSegmentJobOperator"
    ):
        check(latest_from="{'job_id': 'x'}").execute(make_context())
    assert emulator_admin.requests() == []


def test_evaluations_and_exports_carry_sizes_in_their_asset_events(aep_conn, emulator_admin) -> None:
    hook = SegmentationHook()
    segment_id = str(
        hook.client.create_segment_definition({"name": "Adults", "expression": {"value": NORMAL[1]}}).id
    )
    own, other, everything = (
        aep_asset("audiences", segment_id),
        aep_asset("audiences", "x"),
        Asset("s3://a/b"),
    )
    evaluate = AEPRunSegmentJobOperator(
        task_id="evaluate",
        segment_ids=[segment_id],
        outlets=[own, other, everything],
        poll_interval=0.02,
        timeout=30,
        deferrable=False,
    )
    context = {**make_context(), "outlet_events": OutletEventAccessors()}
    result = evaluate.execute(context)
    events = context["outlet_events"]
    sizes = {segment_id: 1962}
    assert (
        events[own].extra
        == events[everything].extra
        == {"job_id": result["job_id"], "sandbox": "prod", "segment_sizes": sizes}
    )
    assert events[other].extra == {}  # another audience: no size to tell
    export = AEPExportAudienceOperator(
        task_id="export",
        segment_ids=[segment_id],
        dataset_id=PROFILE_DATASET_ID,
        sandbox="prod",
        poll_interval=0.02,
        timeout=30,
        deferrable=False,
    )
    context = {**make_context(), "outlet_events": OutletEventAccessors()}
    export.execute(context)
    extra = context["outlet_events"][aep_dataset_asset("prod", PROFILE_DATASET_ID)].extra
    assert extra["segment_sizes"] == sizes and extra["exported_profiles"] == 1962


def aep_asset(kind: str, ident: str) -> Asset:
    return create_asset(sandbox="prod", **{f"{kind[:-1]}_id": ident})
