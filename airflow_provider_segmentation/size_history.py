"""Audience size history from AEP's finished segment jobs, and the check of tonight's size against it.

A static size band (``min_size``/``max_size``) cannot see the common failure of a broken ingestion: an
audience that is normally 1.2 million and is 90,000 tonight is still inside any band set by hand. Every
SUCCEEDED segment job reports, per audience, how many profiles qualified (``metrics.
segmentedProfileCounter``, by status in ``segmentedProfileByStatusCounter``); the nightly scheduled
evaluation gives a daily series. ``read_size_history`` reads that series back from AEP (bounded pages),
``judge_size`` compares the latest size with the median of the points before it.

No Airflow import: the size check operator and the audiences UI page both build on this module.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_segmentation.client import (
    MAX_PAGE_SIZE,
    AEPAudienceSizeError,
    check_limits,
    check_max_jobs,
    validate_ids,
)
from airflow_provider_segmentation.models import SegmentJob, SegmentJobStatus, epoch_to_datetime

if TYPE_CHECKING:
    from airflow_provider_segmentation.client import SegmentationClient


class AEPSizeAnomalyError(AEPAudienceSizeError):
    """An audience's latest size dropped or rose beyond the limits, against its own recent history."""


@dataclass(frozen=True)
class SizePoint:
    """One audience's size as one SUCCEEDED segment job reported it."""

    segment_id: str
    at: datetime  # the job's finish time (or its creation time when AEP gave no finish time), UTC
    total: int
    realized: int | None
    existing: int | None
    exited: int | None
    job_id: str
    scheduled: bool  # started by a schedule (the nightly evaluation) rather than on demand


@dataclass(frozen=True)
class SizeVerdict:
    """What ``judge_size`` concluded; ``change`` is relative (-0.925 for a 92.5 % drop)."""

    segment_id: str
    latest: int | None
    baseline: float | None
    change: float | None
    history: tuple[int, ...]
    judged: bool
    ok: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON (for XCom)."""
        return {
            "segment_id": self.segment_id,
            "latest": self.latest,
            "baseline": self.baseline,
            "change": self.change,
            "history": list(self.history),
            "judged": self.judged,
            "ok": self.ok,
            "message": self.message,
        }


def points_from_jobs(jobs: Iterable[SegmentJob]) -> dict[str, list[SizePoint]]:
    """Each audience's sizes, oldest first, from the SUCCEEDED jobs among ``jobs`` (a job listed twice
    counts once). A job without metrics (a listing may omit them) gives no point."""
    points: dict[str, list[SizePoint]] = {}
    seen: set[str] = set()
    for job in jobs:
        if job.status is not SegmentJobStatus.SUCCEEDED or job.id in seen:
            continue
        seen.add(job.id)
        for point in _job_points(job):
            points.setdefault(point.segment_id, []).append(point)
    for series in points.values():
        series.sort(key=lambda p: (p.at, p.job_id))
    return points


def _job_points(job: SegmentJob) -> list[SizePoint]:
    metrics = job.metrics
    if metrics is None or (not metrics.segmented_profile_counter and metrics.total_profiles is None):
        return []
    at = _finished_at(job)
    if at is None:
        return []
    # A run-all job lists its segments as "*": its counters name them. Adobe documents no rule for an
    # audience with no members; a job that reports metrics but no count for a segment it evaluated is
    # read as zero members, so that a drop to nothing is not hidden.
    listed = [i for i in job.segment_ids if i != "*"]
    ids = dict.fromkeys([*listed, *metrics.segmented_profile_counter])
    scheduled = job.source == "scheduler" or "scheduleId" in job.properties
    points = []
    for segment_id in ids:
        by_status = metrics.segmented_profile_by_status_counter.get(segment_id) or {}
        points.append(
            SizePoint(
                segment_id=segment_id,
                at=at,
                total=int(metrics.segmented_profile_counter.get(segment_id, 0)),
                realized=_count(by_status, "realized"),
                existing=_count(by_status, "existing"),
                exited=_count(by_status, "exited"),
                job_id=job.id,
                scheduled=scheduled,
            )
        )
    return points


def _count(by_status: dict[str, int], status: str) -> int | None:
    value = by_status.get(status)
    return None if value is None else int(value)


def _finished_at(job: SegmentJob) -> datetime | None:
    total_time = (job.metrics.total_time if job.metrics else None) or {}
    end = total_time.get("endTimeInMs")
    if isinstance(end, int | float) and not isinstance(end, bool) and end > 0:
        return datetime.fromtimestamp(end / 1000, tz=timezone.utc)
    return epoch_to_datetime(job.creation_time)


def read_size_history(
    client: SegmentationClient, *, segment_ids: Collection[str] | None = None, max_jobs: int = 200
) -> dict[str, list[SizePoint]]:
    """The sizes AEP's last ``max_jobs`` SUCCEEDED segment jobs reported, per audience, oldest first.

    One listing, newest first (``status=SUCCEEDED&sort=creationTime:desc``), read until ``max_jobs``
    jobs: at most ``ceil(max_jobs / 100)`` requests. List items carry the job's ``metrics`` (spec:
    ``ListSegmentJobs``). Not filtered by ``property=segments~segmentId==...``: a run-all job lists its
    segments as ``*`` and would not match. ``segment_ids`` keeps only those audiences.
    """
    check_max_jobs(max_jobs)
    wanted = None if segment_ids is None else set(validate_ids(segment_ids, field_name="segment_ids"))
    listing = client.list_segment_jobs(
        status=SegmentJobStatus.SUCCEEDED.value, limit=min(max_jobs, MAX_PAGE_SIZE), sort="creationTime:desc"
    )
    points = points_from_jobs(itertools.islice(listing, max_jobs))
    return {k: v for k, v in points.items() if wanted is None or k in wanted}


def judge_size(
    segment_id: str,
    latest: int,
    history: Sequence[int],
    *,
    window: int = 7,
    min_history: int = 3,
    max_drop: float = 0.5,
    max_rise: float = 1.0,
    min_abs_change: int = 0,
    name: str | None = None,
) -> SizeVerdict:
    """Compare ``latest`` with the median of the last ``window`` sizes of ``history`` (oldest first,
    without ``latest``); ``name`` (the audience's name) only makes the message clearer.

    Not judged (ok) with fewer than ``min_history`` sizes. An anomaly is a drop of more than
    ``max_drop`` (0.5: below half the median) or a rise of more than ``max_rise`` (1.0: above twice the
    median), and never a change of fewer than ``min_abs_change`` profiles, so tiny audiences don't flap.
    A rise from a median of 0 is beyond any rise limit (its relative ``change`` is None).
    """
    check_limits(
        window=window,
        min_history=min_history,
        max_drop=max_drop,
        max_rise=max_rise,
        min_abs_change=min_abs_change,
    )
    recent = tuple(int(n) for n in history)[-window:]
    who = f"audience {name!r} ({segment_id})" if name else f"audience {segment_id!r}"
    if len(recent) < min_history:
        message = (
            f"{who}: {latest:,} profiles; not judged: {len(recent)} earlier evaluation(s) in the "
            f"history, {min_history} needed"
        )
        return SizeVerdict(segment_id, latest, None, None, recent, judged=False, ok=True, message=message)
    baseline = float(statistics.median(recent))
    difference = latest - baseline
    change = difference / baseline if baseline else None
    relative = f"{change * 100:+.1f} %" if change is not None else "up from none"
    numbers = (
        f"{who}: {latest:,} profiles now against a median of {baseline:,.0f} over the last "
        f"{len(recent)} evaluations ({relative})"
    )
    problem = None
    if abs(difference) >= max(min_abs_change, 1):
        if change is not None and change < -max_drop:
            problem = f"the drop limit is {max_drop * 100:g} %"
        elif change is None or change > max_rise:
            problem = f"the rise limit is {max_rise * 100:g} %"
    ok = problem is None
    message = f"{numbers}; {problem}" if problem else f"{numbers}: within the limits"
    return SizeVerdict(segment_id, latest, baseline, change, recent, judged=True, ok=ok, message=message)
