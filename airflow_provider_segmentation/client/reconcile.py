"""Ambiguous creates: find the job a create whose answer was lost may have made, and adopt it.

A POST that creates a job is never retried blindly: after a 5xx or a connection that broke once the
request was sent, AEP may or may not have created the job. Instead of failing the task (whose retry
would then risk a duplicate), the call flow asks AEP: it lists the sandbox's newest jobs (one page,
newest first) and looks for one created since the attempt for exactly the same request:

- segment job: the same set of segment ids;
- export job: the same dataset and the same set of segment ids.

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
from collections.abc import Callable, Generator
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


def _segment_ids(entries: Any) -> frozenset[str]:
    return frozenset(str(e.get("segmentId")) for e in entries or () if isinstance(e, dict))


def reconciler_for(op: Operation[Any]) -> Reconciler | None:
    """The reconciler of a create operation, or None when it has none (then an ambiguous create fails)."""
    body = json.loads(op.body) if op.body else None
    if op.name == "createSegmentJob" and isinstance(body, list):
        wanted = _segment_ids(body)
        if "*" in wanted:
            return None

        def same_segment_job(job: SegmentJob, since: float) -> bool:
            return _created_since(job.created_at, since) and frozenset(job.segment_ids) == wanted

        return Reconciler(SegmentJobs.list_segment_jobs.build(limit=LOOKUP_PAGE), same_segment_job)
    if op.name == "createExportJob" and isinstance(body, dict):
        dataset = (body.get("destination") or {}).get("datasetId")
        wanted = _segment_ids((body.get("filter") or {}).get("segments"))

        def same_export_job(job: ExportJob, since: float) -> bool:
            listed_dataset = job.destination.dataset_id if job.destination else None
            listed_segments = _segment_ids((job.filter or {}).get("segments"))
            return (
                _created_since(epoch_to_datetime(job.creation_time), since)
                and listed_dataset == dataset
                and listed_segments == wanted
            )

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
