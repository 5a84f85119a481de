"""Logs a person can follow: the trigger's status lines carry the job's age since AEP created it (not the
time since that trigger started watching), and the worker logs one outcome line after a resume."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client.auth import PROCESS_TOKEN_CACHE
from airflow_provider_segmentation.emulator.settings import PROFILE_DATASET_ID
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.operators.export_jobs import AEPExportAudienceOperator
from airflow_provider_segmentation.operators.segment_jobs import AEPRunSegmentJobOperator
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger
from tests.compat import TaskDeferred, trigger_log_messages
from tests.conftest import TEST_SETTINGS, EmulatorAdmin
from tests.operators.conftest import make_context, run_trigger

US = {"name": "US", "expression": {"value": 'homeAddress.countryCode = "US"'}}
TRIGGER_LOGGER = f"{AEPJobTrigger.__module__}.AEPJobTrigger"
AGE = re.compile(r"\(([\d,]+) s after AEP created it\)")
# the seconds a job has been running in AEP when a (restarted) trigger starts watching it
RUNNING_FOR = st.integers(min_value=20, max_value=20_000)


def fresh_day(emulator_admin: EmulatorAdmin) -> None:
    """Each generated example on a fresh emulator (AEP allows 2 on-demand runs a day per sandbox)."""
    emulator_admin.reset()
    emulator_admin.configure(**TEST_SETTINGS)
    PROCESS_TOKEN_CACHE.clear()


def deferred(op: AEPRunSegmentJobOperator | AEPExportAudienceOperator) -> AEPJobTrigger:
    with pytest.raises(TaskDeferred) as excinfo:
        op.execute(make_context())
    trigger = excinfo.value.trigger
    assert isinstance(trigger, AEPJobTrigger)
    return trigger


def outcome_lines(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], job_id: str
) -> list[str]:
    """The worker's lines about ``job_id`` (stdlib logging or structlog's stdout, whichever Airflow uses)."""

    def about_the_job(texts: list[str]) -> list[str]:
        return [text for text in texts if job_id in text and " after " in text and "s:" in text]

    # Airflow 3.0 logs through stdlib logging and also echoes to stdout: the records, when they have it
    stdout = capsys.readouterr().out.splitlines()
    return about_the_job([record.getMessage() for record in caplog.records]) or about_the_job(stdout)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(running_for=RUNNING_FOR)
async def test_a_restarted_trigger_logs_the_jobs_age_and_the_worker_one_outcome_line(
    aep_conn, emulator_admin, capsys, caplog, running_for: int
) -> None:
    fresh_day(emulator_admin)
    emulator_admin.configure(job_step_seconds=5)
    segment_id = SegmentationHook().client.create_segment_definition(US).id
    op = AEPRunSegmentJobOperator(
        task_id="run", segment_ids=[segment_id], deferrable=True, poll_interval=0.02
    )
    trigger = deferred(op)
    emulator_admin.advance_clock(running_for)  # the job ran this long before this trigger (re)started
    capsys.readouterr()
    caplog.clear()
    event = await run_trigger(trigger)
    lines = trigger_log_messages(TRIGGER_LOGGER, capsys.readouterr().out, caplog.records)
    succeeded = [line for line in lines if ": SUCCEEDED (" in line]
    assert len(succeeded) == 1, lines
    age = AGE.search(succeeded[0])
    assert age and int(age.group(1).replace(",", "")) >= running_for, succeeded[0]

    with caplog.at_level(logging.INFO):
        result = op.execute_complete(make_context(), event)
    (line,) = outcome_lines(caplog, capsys, trigger.job_id)
    audiences = len(result["segment_counts"])
    assert re.search(
        rf"segment job {trigger.job_id} SUCCEEDED after [\d,]+ s: {audiences} audiences?, "
        rf"{result['total_profiles']:,} profiles",
        line,
    ), line


async def test_an_export_resumes_with_its_profiles_and_batches(
    aep_conn, emulator_admin, capsys, caplog
) -> None:
    hook = SegmentationHook()
    segment_id = hook.client.create_segment_definition(US).id
    assert segment_id
    hook.wait_for_segment_job(hook.client.create_segment_job([segment_id]).id, poll_interval=0.02)
    op = AEPExportAudienceOperator(
        task_id="export",
        segment_ids=[segment_id],
        dataset_id=PROFILE_DATASET_ID,
        deferrable=True,
        poll_interval=0.02,
    )
    trigger = deferred(op)
    emulator_admin.advance_clock(45)
    event = await run_trigger(trigger)
    capsys.readouterr()
    with caplog.at_level(logging.INFO):
        result = op.execute_complete(make_context(), event)
    (line,) = outcome_lines(caplog, capsys, trigger.job_id)
    assert re.search(
        rf"export job {trigger.job_id} SUCCEEDED after (4[5-9]|[5-9]\d|\d{{3,}}) s: "
        rf"{result['exported_profiles']:,} profiles exported in {len(result['batch_ids'])} batch",
        line,
    ), line
