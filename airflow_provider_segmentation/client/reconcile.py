"""Ambiguous creates: find the job a create whose answer was lost may have made, and adopt it.

A POST that creates a job is never retried blindly: after a 5xx or a connection that broke once the
request was sent, AEP may or may not have created the job. Instead of failing the task (whose retry
would then risk a duplicate), the call flow asks AEP: it lists the sandbox's newest jobs (one page,
newest first) and looks for one created since the attempt for exactly the same request:

- segment job: the same set of segment ids;
- export job: the same dataset, segments with their member statuses, fields, merge policy, batching,
  evaluation and filter.

"The same request" is ``request_fingerprint``'s, the rule a retried task also uses before it
re-attaches to the job of an earlier try.

"Since the attempt" is read on AEP's clock: ``ServerClock`` keeps how far it is ahead of ours from the
``Date`` header of the client's latest platform answer (the failed attempt's, when it had one), and the
window opens ``DATE_MARGIN_SECONDS`` before the attempt so estimated. Only when no answer carried a
``Date`` does the window open ``CLOCK_SKEW_SECONDS`` (30 s) before the attempt on the client's clock.

Jobs that this process already created or adopted (the most recent ``CLAIMED_IDS_KEPT``) are never
candidates (a DAG that starts the same job again and again, or the previous try of a loop, is not
mistaken for the lost one). One match is adopted (logged as such); none means AEP did not create it,
so the create is retried like any transient failure; more than one means the flow cannot tell which
is its own, and it fails naming them rather than guess.

Limits: the lookup sees what AEP lists at that moment (a create that AEP performs only after the
lookup is missed, and the retry then makes a second job); another caller creating an identical job in
the same seconds makes the match ambiguous (an error, never a wrong adoption). A segment job for
every definition (segment id ``"*"``) is not reconciled, and its ambiguous create fails: AEP may list
such a job by the ids it covers rather than ``"*"``, and the schedules' daily run-all jobs look the
same, so no listed job can be known to be this create's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_segmentation.client.api.exports import ExportJobs
from airflow_provider_segmentation.client.api.segment_jobs import SegmentJobs
from airflow_provider_segmentation.client.errors import AEPConnectionError
from airflow_provider_segmentation.client.http import HttpResponse
from airflow_provider_segmentation.client.operations import Operation, Page
from airflow_provider_segmentation.models import ExportJob, SegmentJob, epoch_to_datetime

CLOCK_SKEW_SECONDS = 30.0  # the window before the attempt when AEP's clock is unknown (no Date seen)
DATE_MARGIN_SECONDS = 2.0  # Date's 1 s resolution, and the gateway's clock against the service's
LOOKUP_PAGE = 50
CLAIMED_IDS_KEPT = 10_000  # far more jobs than one process creates within a lookup window
_claimed: dict[str, None] = {}  # ids of jobs this process created or adopted, oldest first
_claimed_lock = threading.Lock()


class ServerClock:
    """How far AEP's clock is ahead of this client's, from the ``Date`` of the latest answer.

    ``Date`` is stamped (and truncated to the second) before the answer travels, so ``Date - arrival``
    is at most the true lead: the window it opens starts no later than the attempt did on AEP's clock.
    """

    def __init__(self) -> None:
        self.lead: float | None = None

    def observe(self, response: HttpResponse, received_at: float) -> None:
        try:
            stamped = parsedate_to_datetime(response.headers.get("date", "")).timestamp()
        except (TypeError, ValueError, IndexError):
            return  # no Date, or one that is not an HTTP date: keep what was known
        self.lead = stamped - received_at

    def created_since(self, sent_at: float) -> float:
        """The earliest creation time (epoch seconds, AEP's clock) of a job made by an attempt sent at
        ``sent_at`` (this client's clock)."""
        if self.lead is None:
            return sent_at - CLOCK_SKEW_SECONDS
        return sent_at + self.lead - DATE_MARGIN_SECONDS


@dataclass(frozen=True)
class Reconciler:
    """How to find what one create may have made: a list call and a test of each listed item."""

    lookup: Operation[Page[Any]]
    matches: Callable[[Any, float], bool]  # (listed item, created-since epoch seconds) -> same request?


def _created_since(created: datetime | None, since: float) -> bool:
    return created is not None and created.timestamp() >= since


DEFAULT_MEMBER_STATUSES = ("existing", "realized")  # AEP's default filter.segments[].status (sorted)


def _segment_ids(entries: Any) -> list[str]:
    return sorted({str(e.get("segmentId")) for e in entries or () if isinstance(e, dict)})


def _export_segments(entries: Any) -> list[list[Any]]:
    """Each exported segment with its member statuses (AEP's default when none is given), in one order."""
    return sorted(
        [str(e.get("segmentId")), sorted(set(e.get("status") or DEFAULT_MEMBER_STATUSES))]
        for e in entries or ()
        if isinstance(e, dict)
    )


def _fields(fields: Any) -> list[str] | None:
    """The comma-separated field list as a set (its order does not change what is exported)."""
    return sorted({f.strip() for f in fields.split(",") if f.strip()}) if isinstance(fields, str) else None


def _export_fingerprint(body: Mapping[str, Any]) -> dict[str, Any]:
    filter_ = dict(body.get("filter") or {})
    segments = _export_segments(filter_.pop("segments", None))
    destination = body.get("destination") or {}
    return {
        "operation": "createExportJob",
        "dataset_id": destination.get("datasetId"),
        "segment_per_batch": bool(destination.get("segmentPerBatch")),
        "segments": segments,
        "filter": filter_,  # the rest of the filter (qualification times, emptyProfiles) as sent
        "fields": _fields(body.get("fields")),
        "merge_policy_id": (body.get("mergePolicy") or {}).get("id"),
        "evaluate_first": bool((body.get("evaluationInfo") or {}).get("segmentation")),
        "additional_fields": body.get("additionalFields"),
    }


def request_fingerprint(op: Operation[Any]) -> dict[str, Any] | None:
    """What makes two job creates the same request, as JSON: the operation and its body with the order
    of ids and fields and AEP's defaults normalized away. None for an operation that makes no job.

    The one rule for "same request": a retried task re-attaches to its earlier try's job only when the
    fingerprints match (operators), and an ambiguous create adopts a listed job only when the job's
    own fingerprint (``job_fingerprint``) matches the create's (``reconciler_for``).
    """
    body = json.loads(op.body) if op.body else None
    if op.name == "createSegmentJob" and isinstance(body, list):
        return {"operation": op.name, "segment_ids": _segment_ids(body)}
    if op.name == "createExportJob" and isinstance(body, dict):
        return _export_fingerprint(body)
    if op.name == "createPreview" and isinstance(body, dict):
        return {"operation": op.name, **{k: body.get(k) for k in sorted(body)}}
    return None


def job_fingerprint(job: SegmentJob | ExportJob) -> dict[str, Any]:
    """The fingerprint of the request a listed job was made for (see ``request_fingerprint``)."""
    if isinstance(job, SegmentJob):
        return {"operation": "createSegmentJob", "segment_ids": _segment_ids(job.segments)}
    return _export_fingerprint(job.to_json())


def reconciler_for(op: Operation[Any]) -> Reconciler | None:
    """The reconciler of a create operation, or None when it has none (then an ambiguous create fails)."""
    wanted = request_fingerprint(op)
    if wanted is None:
        return None
    if op.name == "createSegmentJob":
        if "*" in wanted["segment_ids"]:
            return None

        def same_segment_job(job: SegmentJob, since: float) -> bool:
            return _created_since(job.created_at, since) and job_fingerprint(job) == wanted

        return Reconciler(SegmentJobs.list_segment_jobs.build(limit=LOOKUP_PAGE), same_segment_job)
    if op.name == "createExportJob":

        def same_export_job(job: ExportJob, since: float) -> bool:
            created = epoch_to_datetime(job.creation_time)
            return _created_since(created, since) and job_fingerprint(job) == wanted

        return Reconciler(ExportJobs.list_export_jobs.build(limit=LOOKUP_PAGE), same_export_job)
    return None


def adopt(
    reconciler: Reconciler, since: float, lookup: Generator[Any, Any, HttpResponse], *, operation: str
) -> Generator[Any, Any, HttpResponse | None]:
    """Run ``lookup`` (the reconciler's list call, as a call flow); the adopted job as the create's answer,
    None when AEP has no such job, or an error when several match."""
    response = yield from lookup
    page = reconciler.lookup.parse(response, reconciler.lookup)
    with _claimed_lock:
        found = [
            item
            for item in page.items
            if str(getattr(item, "id", "")) not in _claimed and reconciler.matches(item, since)
        ]
    if len(found) > 1:
        ids = ", ".join(str(getattr(item, "id", "?")) for item in found)
        raise AEPConnectionError(
            f"{operation}: the answer to the create was lost, and AEP lists {len(found)} matching jobs "
            f"created since ({ids}); this task cannot tell which is its own, so it adopts none: check "
            "them in AEP"
        )
    if not found:
        return None
    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(found[0].to_json()).encode())


def claiming(flow: Generator[Any, Any, HttpResponse]) -> Generator[Any, Any, HttpResponse]:
    """Drive a create's call flow and remember the id of the job it returned (made or adopted)."""
    response = yield from flow
    try:
        created = json.loads(response.body)
    except ValueError:
        return response  # the create's own parse reports an unreadable answer
    if isinstance(created, dict) and created.get("id") is not None:
        with _claimed_lock:
            _claimed[str(created["id"])] = None
            while len(_claimed) > CLAIMED_IDS_KEPT:
                del _claimed[next(iter(_claimed))]
    return response
