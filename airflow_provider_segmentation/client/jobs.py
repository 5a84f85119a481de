"""Every kind of AEP job this package waits for, declared once: its model, how it is read and stopped,
its statuses, what its failure carries, how it is summarised for XCom and told in one log line, where
its link points and under which key a task records it.

The waits (``waiting.poll_flow``), the trigger, the shared poller, the operators, sensors and links all
ask ``JOB_TYPES[kind]`` instead of branching on the kind or the model: adding a kind of job is one
declaration here (and its model, and an operator). ``JobKind`` itself, the key, lives in ``kinds`` so
that a DAG file can name a kind without importing the client.

Which statuses are active, terminal and successful is each kind's status enum's (``models``), as
``DESIGN.md`` states them: segment jobs NEW, QUEUED, PROCESSING, CANCELLING active, SUCCEEDED, FAILED,
CANCELLED terminal; export jobs NEW, PROCESSING active, SUCCEEDED, FAILED terminal; estimates NEW,
RUNNING active, RESULT_READY, FAILED terminal. A status AEP does not document keeps the wait going
(warned once per job).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Generic, TypeVar

from airflow_provider_segmentation.client.api.exports import ExportJobs
from airflow_provider_segmentation.client.api.previews import Previews
from airflow_provider_segmentation.client.api.segment_jobs import MAX_IDS_PER_BULK_GET, SegmentJobs
from airflow_provider_segmentation.client.errors import AEPJobCancelledError, AEPJobFailedError
from airflow_provider_segmentation.client.operations import Call, Operation, Page
from airflow_provider_segmentation.kinds import JobKind
from airflow_provider_segmentation.models import Estimate, ExportJob, SegmentJob, TolerantStatus

log = logging.getLogger("airflow_provider_segmentation.client")

Job = TypeVar("Job", SegmentJob, ExportJob, Estimate)
# Jobs already warned about for an undocumented status, in this process (the oldest are forgotten).
_WARNED_UNKNOWN: OrderedDict[tuple[str, str], None] = OrderedDict()
WARNED_JOBS_KEPT = 10_000


class Outcome(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class JobType(Generic[Job]):
    """What this package knows about one kind of AEP job.

    :param read: the operation that reads one job by the id a task watches
    :param stop: the operation that stops one this package started (None: it never starts one)
    :param status: the job's status (a ``TolerantStatus``: unknown values are kept, never terminal)
    :param failure: AEP's own ``errors[]`` of a failed job, as JSON
    :param summary: the job as a task reports it (XCom), JSON-serializable
    :param told: the end of the one log line of a finished job, from its summary
    :param read_many: the operation that reads many jobs at once, by id (the jobs it answered, by id), so
        that one poll answers many waits (``triggers/shared_poll``); None: each wait reads its own job
    :param runs: for a kind that watches a schedule, the listing of the schedule's runs (segment jobs) by
        the schedule's id; the job is the first run of the task's window (``waiting.first_run_since``)
    :param read_many_ids: how many ids ``read_many`` is asked about at most, per request
    :param link: the kind of ``links.AEPLink`` that opens the job (None: no page for it)
    :param store_key: the task state store key under which a task records the job it started
    """

    kind: JobKind
    model: type[Job]
    read: Call[[str], Job]
    stop: Call[[str], Any] | None
    status: Callable[[Job], TolerantStatus | None]
    failure: Callable[[Job], list[dict[str, Any]]]
    summary: Callable[[Job], dict[str, Any]]
    told: Callable[[dict[str, Any]], str]
    read_many: Call[[Iterable[str]], dict[str, Job]] | None
    runs: Callable[[str], Operation[Page[Job]]] | None = None
    read_many_ids: int = 0
    link: str | None = None
    store_key: str | None = None

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def watches_schedule(self) -> bool:
        return self.runs is not None

    def status_text(self, job: Job | None) -> str:
        """AEP's own word for the job's status ("" when it has none)."""
        status = self.status(job) if job is not None else None
        return status.value if status is not None else ""

    def job_id(self, job: Job | None, watched_id: str) -> str | None:
        """The id of the AEP job ``job`` is: its own, else the watched id (an estimate is its preview's),
        or None for a schedule that has no run yet."""
        own = getattr(job, "id", None)
        if own is not None:
            return str(own)
        return None if self.watches_schedule else watched_id

    def outcome(self, job: Job, *, ident: str) -> Outcome:
        """RUNNING or SUCCEEDED; a FAILED or CANCELLED job raises with AEP's ``errors[]``. An unknown
        status keeps running, warned about once per job in this process (a wait, a sensor's pokes and a
        triggerer's runs read the same job many times)."""
        status = self.status(job)
        if status is None or not status.is_known:
            _warn_unknown_once(self.label, ident, self.status_text(job))
            return Outcome.RUNNING
        if not status.is_terminal:
            return Outcome.RUNNING
        if status.is_success:
            return Outcome.SUCCEEDED
        error = AEPJobCancelledError if status.value == "CANCELLED" else AEPJobFailedError
        raise error(f"AEP reports {self.label} {ident} as {status.value}", errors=self.failure(job))

    def finished_line(self, ident: str, job: Job, *, age_seconds: float | None = None) -> str:
        """One line a person can follow: ``segment job <id> SUCCEEDED after 40 s: 3 audiences, 2,330
        profiles``. The duration is AEP's own when the job has one, else ``age_seconds``."""
        summary = self.summary(job)
        seconds = summary.get("duration_seconds") or age_seconds
        after = f" after {seconds:,.0f} s" if seconds is not None else ""
        return f"{self.label} {ident} {self.status_text(job)}{after}: {self.told(summary)}"


def _warn_unknown_once(label: str, ident: str, status: str) -> None:
    if (label, ident) in _WARNED_UNKNOWN:
        return
    _WARNED_UNKNOWN[(label, ident)] = None
    if len(_WARNED_UNKNOWN) > WARNED_JOBS_KEPT:
        _WARNED_UNKNOWN.popitem(last=False)
    log.warning("%s %s has status %r, which AEP does not document; still waiting", label, ident, status)


def _segment_job_told(summary: dict[str, Any]) -> str:
    audiences = len(summary["segment_counts"])
    return f"{audiences} audience{'' if audiences == 1 else 's'}, {summary['total_profiles']:,} profiles"


def _export_job_told(summary: dict[str, Any]) -> str:
    return f"{summary['exported_profiles'] or 0:,} profiles exported in {len(summary['batch_ids'])} batch(es)"


def _estimate_failure(job: Estimate) -> list[dict[str, Any]]:
    return [{"code": "estimate", "msg": job.error.get("description") or str(job.error)}] if job.error else []


def _estimate_summary(job: Estimate) -> dict[str, Any]:
    return {
        "estimated_size": job.estimated_size,
        "confidence_interval": job.confidence_interval,
        "state": job.state.value if job.state else None,
    }


SEGMENT_JOB: JobType[SegmentJob] = JobType(
    kind=JobKind.SEGMENT_JOB,
    model=SegmentJob,
    read=SegmentJobs.get_segment_job,
    stop=SegmentJobs.cancel_segment_job,
    status=lambda job: job.status,
    failure=lambda job: [error.to_json() for error in job.errors],
    summary=SegmentJob.summary,
    told=_segment_job_told,
    read_many=SegmentJobs.bulk_get_segment_jobs,
    read_many_ids=MAX_IDS_PER_BULK_GET,
    link="segment_job",
    store_key="aep_segment_job_id",
)

JOB_TYPES: dict[JobKind, JobType[Any]] = {
    JobKind.SEGMENT_JOB: SEGMENT_JOB,
    # A schedule's run is a segment job, found by its schedule's id; this package never starts one, so
    # nothing stops or records it, and its wait lists the schedule's runs (it is not read by id).
    JobKind.SCHEDULED_SEGMENT_JOB: replace(
        SEGMENT_JOB,
        kind=JobKind.SCHEDULED_SEGMENT_JOB,
        stop=None,
        runs=lambda schedule_id: SegmentJobs.list_segment_jobs.build(
            property_filter=f"properties.scheduleId=={schedule_id}"
        ),
        read_many=None,
        store_key=None,
    ),
    JobKind.EXPORT_JOB: JobType(
        kind=JobKind.EXPORT_JOB,
        model=ExportJob,
        read=ExportJobs.get_export_job,
        stop=ExportJobs.cancel_export_job,
        status=lambda job: job.status,
        failure=lambda job: [error.to_json() for error in job.errors],
        summary=ExportJob.summary,
        told=_export_job_told,
        read_many=None,  # AEP has no bulk read of export jobs
        link="export_job",
        store_key="aep_export_job_id",
    ),
    # An estimate is read by its preview's id; AEP cannot cancel one: deleting the preview ends it.
    JobKind.ESTIMATE: JobType(
        kind=JobKind.ESTIMATE,
        model=Estimate,
        read=Previews.get_estimate,
        stop=Previews.delete_preview,
        status=lambda job: job.state,
        failure=_estimate_failure,
        summary=_estimate_summary,
        told=lambda s: f"about {s['estimated_size'] or 0:,} profiles",
        read_many=None,
        store_key="aep_preview_id",
    ),
}


def job_type(kind: JobKind | str) -> JobType[Any]:
    """The declaration of ``kind`` (a ``JobKind`` or its value)."""
    return JOB_TYPES[JobKind(kind)]
