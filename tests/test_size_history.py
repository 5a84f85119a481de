"""Properties of the size check (``judge_size``) and of the history read from segment jobs."""

from __future__ import annotations

import math
import statistics

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.models import SegmentJob, SegmentJobStatus
from airflow_provider_segmentation.size_history import judge_size, points_from_jobs

sizes = st.integers(min_value=0, max_value=5_000_000)
histories = st.lists(st.integers(min_value=1, max_value=5_000_000), min_size=3, max_size=12)
limits = st.fixed_dictionaries(
    {
        "window": st.integers(3, 10),
        "max_drop": st.sampled_from([0.1, 0.25, 0.5, 0.9]),
        "max_rise": st.sampled_from([0.1, 0.5, 1.0, 3.0]),
    }
)


@settings(max_examples=200, deadline=None)
@given(history=histories, latest=sizes, scale=st.integers(2, 1000), limit=limits)
def test_the_verdict_does_not_depend_on_the_audience_scale(history, latest, scale, limit) -> None:
    small = judge_size("s", latest, history, min_history=3, **limit)
    large = judge_size("s", latest * scale, [n * scale for n in history], min_history=3, **limit)
    assert (small.ok, small.judged, small.change) == (large.ok, large.judged, large.change)


@settings(max_examples=200, deadline=None)
@given(history=histories, data=st.data(), limit=limits, min_abs_change=st.integers(0, 10_000))
def test_a_drop_beyond_the_limit_is_always_flagged_with_its_numbers(
    history, data, limit, min_abs_change
) -> None:
    baseline = statistics.median(history[-limit["window"] :])
    floor = math.ceil(baseline * (1 - limit["max_drop"])) - 1  # the largest size that is too low
    assume(floor >= 0 and baseline - floor >= min_abs_change)
    latest = data.draw(st.integers(0, int(min(floor, baseline - min_abs_change))))
    assume(latest < baseline * (1 - limit["max_drop"]))
    verdict = judge_size("s", latest, history, min_history=3, min_abs_change=min_abs_change, **limit)
    assert verdict.judged and not verdict.ok
    assert f"{latest:,} profiles now against a median of {baseline:,.0f}" in verdict.message
    assert f"the drop limit is {limit['max_drop'] * 100:g} %" in verdict.message


@settings(max_examples=200, deadline=None)
@given(history=histories, data=st.data(), limit=limits, small=st.booleans())
def test_a_size_within_the_limits_or_a_small_change_passes(history, data, limit, small) -> None:
    baseline = statistics.median(history[-limit["window"] :])
    if small:  # anywhere, but by fewer profiles than min_abs_change
        latest = data.draw(st.integers(0, 10_000_000))
        min_abs_change = math.floor(abs(latest - baseline)) + 1
    else:  # strictly inside the band (its edges are float arithmetic)
        low = math.ceil(baseline * (1 - limit["max_drop"])) + 1
        high = math.floor(baseline * (1 + limit["max_rise"])) - 1
        assume(low <= high)
        latest, min_abs_change = data.draw(st.integers(low, high)), 0
    verdict = judge_size("s", latest, history, min_history=3, min_abs_change=min_abs_change, **limit)
    assert verdict.judged and verdict.ok and verdict.baseline == baseline


@settings(max_examples=200, deadline=None)
@given(history=st.lists(sizes, max_size=9), latest=sizes, min_history=st.integers(1, 10))
def test_too_little_history_is_never_judged(history, latest, min_history) -> None:
    assume(len(history) < min_history)
    verdict = judge_size("s", latest, history, window=10, min_history=min_history)
    assert verdict.ok and not verdict.judged and verdict.baseline is None
    assert f"{min_history} needed" in verdict.message


def job(index: int, status: SegmentJobStatus, at_ms: int, counts: dict[str, int], source: str) -> SegmentJob:
    return SegmentJob.model_validate(
        {
            "id": f"job-{index}",
            "status": status.value,
            "source": source,
            "segments": [{"segmentId": s} for s in counts],
            "metrics": {
                "totalTime": {"endTimeInMs": at_ms},
                "segmentedProfileCounter": counts,
                "segmentedProfileByStatusCounter": {
                    s: {"realized": n, "existing": 0} for s, n in counts.items()
                },
            },
            "creationTime": at_ms - 1000,
        }
    )


jobs = st.lists(
    st.tuples(
        st.sampled_from(list(SegmentJobStatus)),
        st.integers(1_600_000_000_000, 1_900_000_000_000),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), sizes, min_size=1),
        st.sampled_from(["api", "scheduler"]),
    ),
    max_size=15,
)


@settings(max_examples=150, deadline=None)
@given(specs=jobs, repeat=st.booleans())
def test_points_are_oldest_first_from_succeeded_jobs_only(specs, repeat) -> None:
    listed = [job(i, *spec) for i, spec in enumerate(specs)]
    points = points_from_jobs(listed + listed[:3] if repeat else listed)  # a job listed twice counts once
    succeeded = [j for j in listed if j.status is SegmentJobStatus.SUCCEEDED]
    expected = {(j.id, s, n) for j in succeeded for s, n in j.metrics.segmented_profile_counter.items()}
    got = {(p.job_id, p.segment_id, p.total) for series in points.values() for p in series}
    assert got == expected and sum(map(len, points.values())) == len(expected)
    for segment_id, series in points.items():
        assert [p.at for p in series] == sorted(p.at for p in series)
        assert all(p.segment_id == segment_id and p.realized == p.total and p.exited is None for p in series)
        by_id = {j.id: j for j in listed}
        assert all(p.scheduled == (by_id[p.job_id].source == "scheduler") for p in series)
