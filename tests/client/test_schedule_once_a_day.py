"""AEP runs a segmentation schedule at most once a day: a cron that fires more often is refused before
any request (rules.check_schedule_frequency), on create and on update, by the client and the hook."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client.cron import validate_quartz_cron
from airflow_provider_segmentation.client.errors import AEPGuardrailError
from airflow_provider_segmentation.cron import QuartzCron
from airflow_provider_segmentation.rules import schedule_fires_more_than_once_a_day


@pytest.mark.parametrize("cron", ["0 0 * * * ?", "0 */30 1 * * ?", "0,30 0 1 * * ?", "0 0 1,13 * * ?"])
def test_a_cron_firing_more_than_once_a_day_is_refused_naming_the_rule(cron: str) -> None:
    with pytest.raises(AEPGuardrailError) as excinfo:
        validate_quartz_cron(cron)
    assert "schedule.once-a-day" in str(excinfo.value) and excinfo.value.field == "cron"
    assert [f.rule_id for f in excinfo.value.findings] == ["schedule.once-a-day"]


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.sets(st.integers(0, 59), min_size=1, max_size=2),
    minutes=st.sets(st.integers(0, 59), min_size=1, max_size=2),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=2),
)
def test_the_client_refuses_exactly_what_the_rule_calls_more_than_once_a_day(
    seconds: set[int], minutes: set[int], hours: set[int]
) -> None:
    cron = " ".join(",".join(map(str, sorted(f))) for f in (seconds, minutes, hours)) + " * * ?"
    more_than_once = schedule_fires_more_than_once_a_day(QuartzCron.parse(cron))
    if more_than_once:
        with pytest.raises(AEPGuardrailError):
            validate_quartz_cron(cron)
    else:
        assert validate_quartz_cron(cron) == cron


def test_the_hook_refuses_an_hourly_schedule_before_any_request(aep_conn: str, emulator_admin) -> None:
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    emulator_admin.clear_requests()
    hook = SegmentationHook(aep_conn_id=aep_conn)
    with pytest.raises(AEPGuardrailError):
        hook.client.create_schedule("hourly", cron="0 0 * * * ?", segments=["*"], state="active")
    assert not [r for r in emulator_admin.requests() if "/config/schedules" in r["path"]]
