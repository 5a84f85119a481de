"""What an ``AEPJobFinishedTrigger`` watches, one typed watch per kind of job: the runs of an evaluation
schedule (``ScheduleRunsWatch``) or the exports into a dataset (``ExportJobsWatch``).

A watch checks its own arguments, names itself (logs and the state key), lists its jobs newest first down
to a creation-time floor, and builds each job's event payload. The trigger (``events``) holds the poll
loop and the state, the same for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_segmentation.client import AEPValidationError, check_id, validate_ids
from airflow_provider_segmentation.models import (
    ExportJob,
    ExportJobStatus,
    SegmentJob,
    SegmentJobStatus,
    epoch_to_datetime,
)
from airflow_provider_segmentation.triggers.watch_state import WatchedJob

if TYPE_CHECKING:
    from airflow_provider_segmentation.client import AsyncSegmentationClient

T = TypeVar("T")
LogInfo = Callable[..., object]  # the trigger's ``log.info`` (its type differs between Airflow versions)

MAX_SEGMENTS_IN_EVENT = 1500  # a job holds at most 1,500 segments, except a "*" schedule's run
MAX_COUNTS_IN_EVENT = 100  # per-audience counts only for runs of up to this many audiences


class JobWatch(ABC):
    """The jobs one trigger reports; ``kind`` is the trigger's ``kind`` argument."""

    kind: ClassVar[str]
    endings: ClassVar[tuple[str, ...]]  # the statuses a job of this kind can finish with

    @classmethod
    @abstractmethod
    def checked(
        cls,
        schedule_id: str | None,
        schedule_name: str | None,
        dataset_id: str | None,
        segment_ids: Sequence[str] | None,
    ) -> JobWatch:
        """The watch of the trigger's arguments, or an ``AEPValidationError`` naming the one to fix."""

    @property
    @abstractmethod
    def description(self) -> str:
        """What is watched, in words (logs)."""

    @property
    @abstractmethod
    def target(self) -> str | None:
        """The schedule or dataset watched, as it goes into the state key."""

    @property
    def segment_filter(self) -> list[str]:
        """The segments an event must concern, sorted (none: all), as they go into the state key."""
        return []

    @abstractmethod
    def kwargs(self) -> dict[str, Any]:
        """The trigger's serialized arguments that say what is watched (all four, ``None`` if unused)."""

    @abstractmethod
    async def list_jobs(
        self, client: AsyncSegmentationClient, floor: int | None, limit: int, log_info: LogInfo
    ) -> list[WatchedJob]:
        """The watched jobs created at or after ``floor`` (epoch ms; all when None), at most ``limit``
        per listing, newest first; ``log_info`` logs what the trigger's log should say."""


@dataclass(frozen=True)
class ScheduleRunsWatch(JobWatch):
    """The runs of one evaluation schedule, named by id or by exact name (looked up at each poll)."""

    kind: ClassVar[str] = "scheduled_segment_job"
    endings: ClassVar[tuple[str, ...]] = tuple(s.value for s in SegmentJobStatus if s.is_terminal)

    schedule_id: str | None
    schedule_name: str | None

    @classmethod
    def checked(
        cls,
        schedule_id: str | None,
        schedule_name: str | None,
        dataset_id: str | None,
        segment_ids: Sequence[str] | None,
    ) -> ScheduleRunsWatch:
        if (schedule_id is None) == (schedule_name is None) or dataset_id is not None or segment_ids:
            raise AEPValidationError(
                "a scheduled_segment_job watch takes exactly one of schedule_id and schedule_name "
                "(and no dataset_id or segment_ids)",
                field="schedule_id",
            )
        if schedule_id is not None:
            check_id(schedule_id, field_name="schedule_id")
        elif not str(schedule_name).strip():
            raise AEPValidationError("schedule_name is empty", field="schedule_name")
        return cls(None if schedule_id is None else str(schedule_id), schedule_name)

    @property
    def description(self) -> str:
        if self.schedule_id is not None:
            return f"runs of schedule {self.schedule_id}"
        return f"runs of the schedule named {self.schedule_name!r}"

    @property
    def target(self) -> str | None:
        return self.schedule_id or self.schedule_name

    def kwargs(self) -> dict[str, Any]:
        return {
            "schedule_id": self.schedule_id,
            "schedule_name": self.schedule_name,
            "dataset_id": None,
            "segment_ids": None,
        }

    async def list_jobs(
        self, client: AsyncSegmentationClient, floor: int | None, limit: int, log_info: LogInfo
    ) -> list[WatchedJob]:
        sandbox = client.config.sandbox
        schedule_ids = (
            [self.schedule_id] if self.schedule_id is not None else await self._schedule_ids(client, log_info)
        )
        runs: list[WatchedJob] = []
        for schedule_id in schedule_ids:
            listing = client.list_segment_jobs(
                property_filter=f"properties.scheduleId=={schedule_id}", sort="creationTime:desc", limit=100
            )
            found = await _newest(listing, floor, _created_ms, limit)
            runs.extend(self._run(job, sandbox, schedule_id) for job in found)
        return runs

    async def _schedule_ids(self, client: AsyncSegmentationClient, log_info: LogInfo) -> list[str]:
        ids = [
            schedule.id
            async for schedule in client.list_schedules()
            if schedule.name == self.schedule_name and schedule.type in (None, "batch_segmentation")
        ]
        if not ids:
            log_info("Watching %s: no such schedule in AEP yet", self.description)
        return ids

    def _run(self, job: SegmentJob, sandbox: str, schedule_id: str) -> WatchedJob:
        status = job.status.value
        summary = job.summary()
        counts = summary["segment_counts"]
        payload: dict[str, Any] = {
            "kind": self.kind,
            "sandbox": sandbox,
            "schedule_id": schedule_id,
            "job_id": job.id,
            "status": status,
            "created_at": _iso(job.creation_time),
            "segment_ids": job.segment_ids[:MAX_SEGMENTS_IN_EVENT],
            "segments_truncated": len(job.segment_ids) > MAX_SEGMENTS_IN_EVENT,
            "total_profiles": summary["total_profiles"],
            "duration_seconds": summary["duration_seconds"],
        }
        if len(counts) <= MAX_COUNTS_IN_EVENT:
            payload["segment_counts"] = counts
        return WatchedJob(job.id, status, job.status.is_terminal, _created_ms(job), payload)


@dataclass(frozen=True)
class ExportJobsWatch(JobWatch):
    """The export jobs into one dataset, optionally only those exporting one of ``segment_ids``."""

    kind: ClassVar[str] = "export_job"
    endings: ClassVar[tuple[str, ...]] = tuple(s.value for s in ExportJobStatus if s.is_terminal)

    dataset_id: str
    segment_ids: list[str] | None

    @classmethod
    def checked(
        cls,
        schedule_id: str | None,
        schedule_name: str | None,
        dataset_id: str | None,
        segment_ids: Sequence[str] | None,
    ) -> ExportJobsWatch:
        if dataset_id is None or schedule_id is not None or schedule_name is not None:
            raise AEPValidationError(
                "an export_job watch takes dataset_id (and no schedule_id or schedule_name)",
                field="dataset_id",
            )
        check_id(dataset_id, field_name="dataset_id")
        if segment_ids:
            validate_ids(segment_ids, field_name="segment_ids")
        return cls(str(dataset_id), [str(s) for s in segment_ids] if segment_ids else None)

    @property
    def description(self) -> str:
        only = f" of segments {','.join(self.segment_ids)}" if self.segment_ids else ""
        return f"export jobs into dataset {self.dataset_id}{only}"

    @property
    def target(self) -> str | None:
        return self.dataset_id

    @property
    def segment_filter(self) -> list[str]:
        return sorted(self.segment_ids or [])

    def kwargs(self) -> dict[str, Any]:
        return {
            "schedule_id": None,
            "schedule_name": None,
            "dataset_id": self.dataset_id,
            "segment_ids": self.segment_ids,
        }

    async def list_jobs(
        self, client: AsyncSegmentationClient, floor: int | None, limit: int, log_info: LogInfo
    ) -> list[WatchedJob]:
        sandbox = client.config.sandbox
        exports = await _newest(client.list_export_jobs(limit=100), floor, _created_ms, limit)
        return [self._export(job, sandbox) for job in exports if self._wanted(job)]

    def _wanted(self, job: ExportJob) -> bool:
        destination = job.destination
        if destination is None or destination.dataset_id != self.dataset_id:
            return False
        return not self.segment_ids or bool(set(self.segment_ids) & set(_export_segments(job)))

    def _export(self, job: ExportJob, sandbox: str) -> WatchedJob:
        status = job.status.value
        summary = job.summary()
        payload = {
            "kind": self.kind,
            "sandbox": sandbox,
            "dataset_id": self.dataset_id,
            "job_id": job.id,
            "status": status,
            "created_at": _iso(job.creation_time),
            "segment_ids": _export_segments(job)[:MAX_SEGMENTS_IN_EVENT],
            "exported_profiles": summary["exported_profiles"],
            "batch_ids": summary["batch_ids"],
        }
        return WatchedJob(job.id, status, job.status.is_terminal, _created_ms(job), payload)


WATCHES: dict[str, type[JobWatch]] = {
    ScheduleRunsWatch.kind: ScheduleRunsWatch,
    ExportJobsWatch.kind: ExportJobsWatch,
}
"""The watch of each ``kind``."""


def _created_ms(job: SegmentJob | ExportJob) -> int | None:
    created = epoch_to_datetime(job.creation_time)
    return None if created is None else int(created.timestamp() * 1000)


def _iso(value: int | None) -> str | None:
    created = epoch_to_datetime(value)
    return None if created is None else created.isoformat()


def _export_segments(job: ExportJob) -> list[str]:
    entries = (job.filter or {}).get("segments") or []
    return [str(e["segmentId"]) for e in entries if isinstance(e, dict) and e.get("segmentId")]


async def _newest(
    listing: AsyncIterator[T], floor: int | None, created: Callable[[T], int | None], limit: int
) -> list[T]:
    """The items of a newest-first listing down to ``floor`` (inclusive), at most ``limit``; stops paging
    there and closes the listing."""
    found: list[T] = []
    try:
        async for item in listing:
            at = created(item)
            if floor is not None and at is not None and at < floor:
                break
            found.append(item)
            if len(found) >= limit:
                break
    finally:
        close = getattr(listing, "aclose", None)
        if close is not None:
            await close()
    return found
