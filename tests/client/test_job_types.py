"""One declaration per kind of job (``client.JOB_TYPES``): what every wait, trigger, sensor and operator
reads a job's status with. Generated jobs of every kind, in every status AEP documents and in statuses
it does not, against the contract of DESIGN.md (active, terminal, successful; failures carry AEP's own
``errors[]``; an unknown status keeps the wait going)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_segmentation.client import (
    JOB_TYPES,
    AEPJobCancelledError,
    AEPJobFailedError,
    Outcome,
    SegmentationAPI,
    job_type,
)
from airflow_provider_segmentation.kinds import JobKind

# DESIGN.md's contract, per kind: active, successful, failed, cancelled statuses.
CONTRACT: dict[JobKind, tuple[set[str], str, set[str], set[str]]] = {
    JobKind.SEGMENT_JOB: (
        {"NEW", "QUEUED", "PROCESSING", "CANCELLING"},
        "SUCCEEDED",
        {"FAILED"},
        {"CANCELLED"},
    ),
    JobKind.SCHEDULED_SEGMENT_JOB: (
        {"NEW", "QUEUED", "PROCESSING", "CANCELLING"},
        "SUCCEEDED",
        {"FAILED"},
        {"CANCELLED"},
    ),
    JobKind.EXPORT_JOB: ({"NEW", "PROCESSING"}, "SUCCEEDED", {"FAILED"}, set()),
    JobKind.ESTIMATE: ({"NEW", "RUNNING"}, "RESULT_READY", {"FAILED"}, set()),
}
STATUS_FIELD = {JobKind.ESTIMATE: "state"}

kinds = st.sampled_from(list(JobKind))
unknown_statuses = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=12).filter(
    lambda s: (
        s not in {status for spec in CONTRACT.values() for status in {*spec[0], spec[1], *spec[2], *spec[3]}}
    )
)
aep_errors = st.lists(
    st.fixed_dictionaries({"code": st.text(min_size=1, max_size=8), "msg": st.text(max_size=30)}), max_size=3
)


def job_of(kind: JobKind, status: str, errors: list[dict[str, Any]]) -> Any:
    """A job of ``kind`` as AEP returns it, parsed by the kind's own model."""
    body: dict[str, Any] = {STATUS_FIELD.get(kind, "status"): status}
    if kind is JobKind.ESTIMATE:
        if errors:
            body["error"] = {"description": errors[0]["msg"] or "no description"}
    else:
        body.update(id=str(uuid.uuid4()), errors=errors)
    return JOB_TYPES[kind].model.model_validate(body)


def test_every_kind_has_one_declaration_and_every_read_is_an_api_operation() -> None:
    assert set(JOB_TYPES) == set(JobKind)
    for kind, declared in JOB_TYPES.items():
        assert declared.kind is kind and job_type(kind.value) is declared
        assert getattr(SegmentationAPI, declared.read.name) is declared.read
        if declared.stop is not None:
            assert getattr(SegmentationAPI, declared.stop.name) is declared.stop
        if declared.read_many is not None:  # a bulk read answers what the single read answers
            assert getattr(SegmentationAPI, declared.read_many.name) is declared.read_many
            assert declared.read_many_ids > 0
    # what this package starts it can stop; a schedule's run it never starts
    assert {k for k, d in JOB_TYPES.items() if d.stop is None} == {JobKind.SCHEDULED_SEGMENT_JOB}
    assert {k for k, d in JOB_TYPES.items() if d.watches_schedule} == {JobKind.SCHEDULED_SEGMENT_JOB}
    # AEP reads only segment jobs in bulk (POST /segment/jobs/bulk-get): only their waits share a poll
    assert {k for k, d in JOB_TYPES.items() if d.read_many is not None} == {JobKind.SEGMENT_JOB}


@given(kind=kinds, data=st.data(), errors=aep_errors)
def test_each_documented_status_means_what_the_contract_says(kind: JobKind, data: Any, errors: list) -> None:
    active, success, failed, cancelled = CONTRACT[kind]
    status = data.draw(st.sampled_from(sorted({*active, success, *failed, *cancelled})))
    declared = JOB_TYPES[kind]
    job = job_of(kind, status, errors)
    assert declared.status_text(job) == status
    if status in active:
        assert declared.outcome(job, ident="j") is Outcome.RUNNING
    elif status == success:
        assert declared.outcome(job, ident="j") is Outcome.SUCCEEDED
    else:
        error = AEPJobCancelledError if status in cancelled else AEPJobFailedError
        with pytest.raises(error) as raised:
            declared.outcome(job, ident="j")
        assert type(raised.value) is error
        assert status in str(raised.value) and declared.label in str(raised.value)
        if kind is JobKind.ESTIMATE:
            assert [e["msg"] for e in raised.value.errors] == (
                [errors[0]["msg"] or "no description"] if errors else []
            )
        else:
            assert [e["code"] for e in raised.value.errors] == [e["code"] for e in errors]


@given(kind=kinds, status=unknown_statuses)
def test_a_status_aep_does_not_document_keeps_the_wait_going(kind: JobKind, status: str) -> None:
    job = job_of(kind, status, [])
    assert JOB_TYPES[kind].outcome(job, ident=f"j-{uuid.uuid4()}") is Outcome.RUNNING
    assert JOB_TYPES[kind].status_text(job) == status


@given(kind=kinds)
def test_a_finished_job_is_told_in_one_line_with_its_summary(kind: JobKind) -> None:
    declared = JOB_TYPES[kind]
    job = job_of(kind, CONTRACT[kind][1], [])
    line = declared.finished_line("the-id", job, age_seconds=40.0)
    assert line.startswith(f"{declared.label} the-id {CONTRACT[kind][1]} after 40 s: ")
    assert "\n" not in line
    assert json.loads(json.dumps(declared.summary(job))) == declared.summary(job)  # XCom-ready


def test_the_job_id_of_an_event_is_the_job_s_or_the_watched_one() -> None:
    segment = job_of(JobKind.SEGMENT_JOB, "NEW", [])
    estimate = job_of(JobKind.ESTIMATE, "NEW", [])
    assert JOB_TYPES[JobKind.SEGMENT_JOB].job_id(segment, "watched") == segment.id
    assert JOB_TYPES[JobKind.ESTIMATE].job_id(estimate, "preview-1") == "preview-1"  # read by its preview
    assert JOB_TYPES[JobKind.SCHEDULED_SEGMENT_JOB].job_id(None, "schedule-1") is None  # no run yet
