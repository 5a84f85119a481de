"""Waiting for jobs: one pure reading of a job's status, shared by the worker loops and the triggers.

``job_outcome`` says whether a segment job, export job or estimate is still running, succeeded, or
failed (raising ``AEPJobFailedError`` with AEP's own ``errors[]``). The ``wait_for_*`` loops poll with a
wall-clock deadline and raise ``AEPTimeoutError`` when it passes; cancelling on timeout is the caller's
decision (operators do it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, TypeVar

from airflow_provider_segmentation.client.errors import (
    AEPJobCancelledError,
    AEPJobFailedError,
    AEPTimeoutError,
)
from airflow_provider_segmentation.client.operations_api import SegmentationOperations
from airflow_provider_segmentation.models import (
    Estimate,
    ExportJob,
    ExportJobStatus,
    PreviewState,
    SegmentJob,
    SegmentJobStatus,
)

log = logging.getLogger("airflow_provider_segmentation.client")

Job = TypeVar("Job", SegmentJob, ExportJob, Estimate)


class Outcome(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"


def status_of(job: SegmentJob | ExportJob | Estimate) -> str:
    raw = job.state if isinstance(job, Estimate) else job.status
    return str(getattr(raw, "value", raw) or "")


def job_outcome(job: SegmentJob | ExportJob | Estimate, *, ident: str) -> Outcome:
    """RUNNING or SUCCEEDED, or raise for FAILED / CANCELLED; an unknown status keeps running."""
    status = status_of(job)
    kind = {SegmentJob: "segment job", ExportJob: "export job", Estimate: "estimate"}[type(job)]
    known: Any = {SegmentJob: SegmentJobStatus, ExportJob: ExportJobStatus, Estimate: PreviewState}[type(job)]
    if status not in {m.value for m in known}:
        log.warning("%s %s has status %r, which AEP does not document; still waiting", kind, ident, status)
        return Outcome.RUNNING
    member = known(status)
    if not getattr(member, "is_terminal"):  # noqa: B009 - every status enum defines it
        return Outcome.RUNNING
    if getattr(member, "is_success"):  # noqa: B009
        return Outcome.SUCCEEDED
    errors = [e.to_json() for e in getattr(job, "errors", [])]
    if isinstance(job, Estimate) and job.error:
        errors.append({"code": "estimate", "msg": job.error.get("description") or str(job.error)})
    error_cls = AEPJobCancelledError if status == "CANCELLED" else AEPJobFailedError
    raise error_cls(f"AEP reports {kind} {ident} as {status}", errors=errors)


def first_run_since(runs: Iterable[SegmentJob], start: float | None) -> SegmentJob | None:
    """A schedule's first run created at or after ``start`` (epoch seconds), or None if none yet."""
    found: SegmentJob | None = None
    for run in runs:
        created = run.created_at.timestamp() if run.created_at else None
        if created is None or (start is not None and created < start):
            continue
        if found is None or (found.created_at is not None and created < found.created_at.timestamp()):
            found = run
    return found


def _wait(
    fetch: Callable[[], Job],
    *,
    ident: str,
    kind: str,
    poll_interval: float,
    timeout: float | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Job:
    if poll_interval <= 0:
        raise ValueError("poll_interval must be positive")
    deadline = None if timeout is None else clock() + timeout
    while True:
        job = fetch()
        if job_outcome(job, ident=ident) is Outcome.SUCCEEDED:
            return job
        if deadline is not None and clock() + poll_interval > deadline:
            raise AEPTimeoutError(
                f"{kind} {ident} is still {status_of(job)} after {timeout:.0f} s; raise `timeout` if AEP "
                "needs longer, or check the job in the AEP UI"
            )
        sleep(poll_interval)


def wait_for_segment_job(
    client: SegmentationOperations,
    job_id: str,
    *,
    poll_interval: float = 30,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> SegmentJob:
    return _wait(
        lambda: client.get_segment_job(job_id),
        ident=job_id,
        kind="segment job",
        poll_interval=poll_interval,
        timeout=timeout,
        sleep=sleep,
        clock=clock,
    )


def wait_for_export_job(
    client: SegmentationOperations,
    job_id: str,
    *,
    poll_interval: float = 30,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> ExportJob:
    return _wait(
        lambda: client.get_export_job(job_id),
        ident=job_id,
        kind="export job",
        poll_interval=poll_interval,
        timeout=timeout,
        sleep=sleep,
        clock=clock,
    )


def wait_for_estimate(
    client: SegmentationOperations,
    preview_id: str,
    *,
    poll_interval: float = 5,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Estimate:
    return _wait(
        lambda: client.get_estimate(preview_id),
        ident=preview_id,
        kind="estimate",
        poll_interval=poll_interval,
        timeout=timeout,
        sleep=sleep,
        clock=clock,
    )
