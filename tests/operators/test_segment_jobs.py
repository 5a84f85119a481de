"""Running segment jobs: sync and deferred, failure, timeout, retry re-attachment, kill."""

from __future__ import annotations

import json
import re

import pytest

from airflow_provider_segmentation.client import (
    AEPError,
    AEPJobFailedError,
    AEPTimeoutError,
    AEPValidationError,
)
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import EventStatus, JobEvent, JobKind
from airflow_provider_segmentation.operators.segment_jobs import (
    AEPCancelSegmentJobOperator,
    AEPRunSegmentJobOperator,
)
from airflow_provider_segmentation.triggers.segmentation import AEPJobTrigger
from tests.compat import TaskDeferred
from tests.conftest import EmulatorAdmin
from tests.operators.conftest import MemoryTaskStateStore, make_context, run_trigger

JOBS = "/data/core/ups/segment/jobs"


def definition(name: str, pql: str = 'homeAddress.countryCode = "US"') -> str:
    created = SegmentationHook().client.create_segment_definition(
        {"name": name, "expression": {"value": pql}}
    )
    assert created.id
    return created.id


def run_op(**kwargs) -> AEPRunSegmentJobOperator:
    return AEPRunSegmentJobOperator(task_id="run", poll_interval=0.02, timeout=30, deferrable=False, **kwargs)


def test_sync_run_returns_counts_and_records_the_job(aep_conn, emulator_admin) -> None:
    seg = definition("US")
    context = make_context(MemoryTaskStateStore())
    result = run_op(segment_ids=[seg]).execute(context)
    assert result["status"] == "SUCCEEDED" and result["total_profiles"] == 2000
    counts = result["segment_counts"][seg]
    assert counts["total"] == counts["realized"] > 0 and counts["exited"] == 0
    assert context["ti"].xcoms["aep_job_id"] == result["job_id"]
    assert (
        context["ti"].xcoms["aep_segment_job_url"].endswith(f"/segment/jobs/{result['job_id']}?sandbox=prod")
    )
    assert context["task_state_store"].values == {
        "aep_segment_job_id": {
            "job_id": result["job_id"],
            "request": {"sandbox": "prod", "operation": "createSegmentJob", "segment_ids": [seg]},
        }
    }


def test_second_run_reports_existing_and_exited(aep_conn) -> None:
    seg = definition("Gold", 'loyalty.tier = "gold"')
    first = run_op(segment_ids=[seg]).execute(make_context())
    hook = SegmentationHook()
    hook.client.update_segment_definition(
        seg, {"name": "Gold", "expression": {"value": 'loyalty.tier in ["gold", "silver"]'}}
    )
    second = run_op(segment_ids=[seg]).execute(make_context())["segment_counts"][seg]
    assert second["existing"] == first["segment_counts"][seg]["total"] and second["exited"] == 0
    assert second["realized"] > 0 and second["total"] == second["existing"] + second["realized"]


def test_run_by_names(aep_conn) -> None:
    seg = definition("By name")
    result = run_op(segment_names=["By name"]).execute(make_context())
    assert list(result["segment_counts"]) == [seg]


def test_unknown_name_fails_before_any_job(aep_conn, emulator_admin) -> None:
    definition("Known")
    with pytest.raises(AEPValidationError, match="no segment definition named 'Unknown'"):
        run_op(segment_names=["Known", "Unknown"]).execute(make_context())
    assert emulator_admin.requests("POST", JOBS) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "segment_ids"),
        ({"segment_ids": ["a"], "segment_names": ["b"]}, "segment_ids"),
        ({"segment_ids": []}, "segment_ids"),
    ],
)
def test_bad_arguments_fail_before_http(aep_conn, emulator_admin, kwargs, field) -> None:
    with pytest.raises(AEPValidationError) as excinfo:
        run_op(**kwargs).execute(make_context())
    assert excinfo.value.field == field and emulator_admin.requests("POST") == []


@pytest.mark.parametrize(
    ("field", "rendered", "words"),
    [
        ("segment_ids", [None], "segment_ids[0] must be an id"),  # was posted as the id "None"
        ("segment_ids", "abc", "must be a list of ids"),  # was split into the ids a, b, c
        ("segment_ids", [], "segment_ids is empty"),  # was "pass exactly one of ..."
        ("segment_names", [], "segment_names must be a non-empty list of definition names"),
        ("segment_names", "US", "segment_names must be a non-empty list of definition names"),
        ("segment_names", [None], "segment_names[0] must be a definition's name"),
    ],
)
def test_rendered_ids_are_checked_before_any_job(aep_conn, emulator_admin, field, rendered, words) -> None:
    """What an upstream task's XCom or a native template renders is checked as it is, not as str()s."""
    definition("US")
    op = run_op(**{field: "{{ ti.xcom_pull(task_ids='ids') }}"})
    setattr(op, field, rendered)  # what templating rendered
    with pytest.raises(AEPValidationError, match=re.escape(words)) as excinfo:
        op.execute(make_context())
    assert excinfo.value.field == field
    assert emulator_admin.requests("POST", JOBS) == []


def test_names_are_matched_as_written_even_with_url_characters(aep_conn, emulator_admin) -> None:
    """Names are compared with the listing, never put in a URL: '/', '?' and '#' are fine in them."""
    segment_id = definition("US/Canada #1?")
    result = run_op(segment_names=["US/Canada #1?"]).execute(make_context())
    assert list(result["segment_counts"]) == [segment_id]


def test_bad_poll_interval_fails_at_construction() -> None:
    with pytest.raises(AEPValidationError, match="poll_interval"):
        AEPRunSegmentJobOperator(task_id="x", segment_ids=["a"], poll_interval=0)


def test_failed_job_raises_with_aeps_errors(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(fail_segment_jobs=True)
    with pytest.raises(AEPJobFailedError) as excinfo:
        run_op(segment_ids=[definition("US")]).execute(make_context())
    assert excinfo.value.errors[0]["code"] == "0100000003"


def test_timeout_cancels_the_job(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    op = AEPRunSegmentJobOperator(
        task_id="run", segment_ids=[definition("US")], poll_interval=0.05, timeout=0.2, deferrable=False
    )
    with pytest.raises(AEPTimeoutError, match="was cancelled"):
        op.execute(make_context())
    [cancel] = emulator_admin.requests("DELETE", JOBS)
    assert cancel["path"].endswith(op.job_id) and cancel["status"] == 204
    assert SegmentationHook().client.get_segment_job(op.job_id).status == "CANCELLING"


def test_retry_reattaches_to_its_own_running_job(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=0.2)
    seg = definition("US")
    store = MemoryTaskStateStore()
    crashed = run_op(segment_ids=[seg], wait_for_completion=False)
    crashed.execute(make_context(store))  # the worker dies right after this
    result = run_op(segment_ids=[seg]).execute(make_context(store, try_number=2))
    assert result["job_id"] == crashed.job_id and result["status"] == "SUCCEEDED"
    assert len(emulator_admin.requests("POST", JOBS)) == 1


def test_retry_after_success_returns_without_a_new_job(aep_conn, emulator_admin) -> None:
    store = MemoryTaskStateStore()
    seg = definition("US")
    first = run_op(segment_ids=[seg]).execute(make_context(store))
    again = run_op(segment_ids=[seg]).execute(make_context(store, try_number=2))
    assert again == first and len(emulator_admin.requests("POST", JOBS)) == 1


def test_retry_after_failure_starts_a_new_job(aep_conn, emulator_admin) -> None:
    store = MemoryTaskStateStore()
    seg = definition("US")
    emulator_admin.configure(fail_segment_jobs=True)
    with pytest.raises(AEPJobFailedError):
        run_op(segment_ids=[seg]).execute(make_context(store))
    emulator_admin.configure(fail_segment_jobs=False)
    result = run_op(segment_ids=[seg]).execute(make_context(store, try_number=2))
    assert result["status"] == "SUCCEEDED" and len(emulator_admin.requests("POST", JOBS)) == 2


def test_a_job_started_elsewhere_is_never_adopted(aep_conn, emulator_admin) -> None:
    seg = definition("US")
    SegmentationHook().client.create_segment_job([seg])
    result = run_op(segment_ids=[seg]).execute(make_context(MemoryTaskStateStore(), try_number=2))
    assert len(emulator_admin.requests("POST", JOBS)) == 2 and result["status"] == "SUCCEEDED"


def test_on_kill_cancels(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    op = run_op(segment_ids=[definition("US")], wait_for_completion=False)
    op.execute(make_context())
    op.on_kill()
    assert SegmentationHook().client.get_segment_job(op.job_id).status == "CANCELLING"


async def test_deferred_run_resumes_with_the_same_result(aep_conn, emulator_admin) -> None:
    seg = definition("US")
    op = AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], deferrable=True, poll_interval=0.02)
    context = make_context()
    with pytest.raises(TaskDeferred) as excinfo:
        op.execute(context)
    trigger = excinfo.value.trigger
    assert isinstance(trigger, AEPJobTrigger) and excinfo.value.method_name == "execute_complete"
    assert excinfo.value.timeout is None and trigger.job_id == context["ti"].xcoms["aep_job_id"]
    event = await run_trigger(trigger)
    assert event["status"] == "success"
    result = op.execute_complete(context, event)
    assert result["status"] == "SUCCEEDED" and result["segment_counts"][seg]["total"] > 0


def event(status: str, kind: str = "segment_job", job_id: str = "j", message: str = "", **fields: object):
    return JobEvent(JobKind(kind), job_id, EventStatus(status), message, job_id=job_id, **fields).to_dict()


@pytest.mark.parametrize(
    ("event", "error", "words"),
    [
        (None, AEPError, "no event"),
        ({"status": "weird", "kind": "segment_job", "watched_id": "j"}, AEPError, "'weird' is not a valid"),
        (
            event(
                "failed",
                message="AEP reports segment job j as FAILED",
                errors=({"code": "E1", "msg": "boom"},),
            ),
            AEPJobFailedError,
            "E1: boom",
        ),
        (event("poll_error", message="503 x11"), AEPError, "re-attaches"),
        (event("success", kind="export_job"), AEPError, "not a segment job"),
    ],
)
def test_execute_complete_rejects_bad_events(event, error, words) -> None:
    op = AEPRunSegmentJobOperator(task_id="run", segment_ids=["a"])
    with pytest.raises(error, match=words) as excinfo:
        op.execute_complete(make_context(), event)
    assert str(excinfo.value).count(words) == 1  # AEP's own error is said once, not twice


def test_timeout_event_cancels(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    op = run_op(segment_ids=[definition("US")], wait_for_completion=False)
    job_id = op.execute(make_context())["job_id"]
    with pytest.raises(AEPTimeoutError, match="cancelled"):
        op.execute_complete(
            make_context(), event("timeout", job_id=job_id, message="still QUEUED at the deadline")
        )
    assert emulator_admin.requests("DELETE", JOBS)[0]["path"].endswith(job_id)


def test_cancel_operator(aep_conn, emulator_admin) -> None:
    emulator_admin.configure(job_step_seconds=60)
    job = SegmentationHook().client.create_segment_job([definition("US")])
    result = AEPCancelSegmentJobOperator(task_id="cancel", job_id=job.id).execute(make_context())
    assert result == {"job_id": job.id, "status": "CANCELLING"}


def test_a_deferred_tasks_trigger_kwargs_hold_no_secret_and_no_token(aep_conn, emulator, emulator_admin):
    """The operator defers with a hook that has read the secret and minted a token: neither travels."""
    emulator_admin.configure(job_step_seconds=60)
    seg = definition("US")
    op = AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], deferrable=True, poll_interval=1)
    with pytest.raises(TaskDeferred) as excinfo:
        op.execute(make_context())
    serialized = json.dumps(excinfo.value.trigger.serialize()[1])
    tokens = list(emulator.app.state.emulator.tokens)
    assert op.hook.config.secret.reveal() == emulator.settings.client_secret and tokens
    for secret in [emulator.settings.client_secret, *tokens]:
        assert secret not in serialized


class EmulatorTime:
    """The worker's wait on the emulator's frozen clock: each sleep steps it (no real sleeping)."""

    def __init__(self, admin: EmulatorAdmin) -> None:
        self.admin = admin
        self.started = self.now = admin.advance_clock(0, frozen=True)["now"]

    def sleep(self, seconds: float) -> None:
        self.now = self.admin.advance_clock(seconds)["now"]

    def clock(self) -> float:
        return float(self.now)


@pytest.fixture
def emulator_time(emulator_admin, monkeypatch) -> EmulatorTime:
    from functools import partial

    from airflow_provider_segmentation.client import waiting
    from airflow_provider_segmentation.hooks import segmentation

    fake = EmulatorTime(emulator_admin)
    monkeypatch.setattr(segmentation, "wait", partial(waiting.wait, sleep=fake.sleep, clock=fake.clock))
    return fake


@pytest.mark.parametrize(("step", "succeeds"), [(8.0, True), (10.0, True), (11.0, False)])
def test_an_operator_reads_the_job_at_its_deadline_before_cancelling(
    aep_conn, emulator_admin, emulator_time, step, succeeds
) -> None:
    """poll_interval=20, timeout=30: reads at 0, 20 and 30 s. A job done by 30 s (3 steps) succeeds;
    one still running at 30 s is cancelled only after that read."""
    emulator_admin.configure(job_step_seconds=step)
    seg = definition("US")
    op = AEPRunSegmentJobOperator(task_id="run", segment_ids=[seg], poll_interval=20, timeout=30)
    if succeeds:
        assert op.execute(make_context())["status"] == "SUCCEEDED"
        assert emulator_admin.requests("DELETE") == []
        return
    with pytest.raises(AEPTimeoutError, match="the job was cancelled"):
        op.execute(make_context())
    assert emulator_time.now - emulator_time.started == pytest.approx(30)
    reads = emulator_admin.requests("GET", f"/data/core/ups/segment/jobs/{op.job_id}")
    assert len(reads) == 3 and len(emulator_admin.requests("DELETE")) == 1


def test_poll_interval_longer_than_timeout_is_refused() -> None:
    with pytest.raises(AEPValidationError, match="poll_interval=60 s is longer than timeout=30 s") as exc:
        AEPRunSegmentJobOperator(task_id="run", segment_ids=["s"], poll_interval=60, timeout=30)
    assert exc.value.field == "poll_interval"
