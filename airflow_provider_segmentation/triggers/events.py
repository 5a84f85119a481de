"""``AEPJobFinishedTrigger``: an event trigger for ``AssetWatcher``s. A DAG runs when an AEP job finishes.

Two watches: the runs of an evaluation schedule (``kind="scheduled_segment_job"``: AEP's nightly batch
segmentation), and the export jobs into a dataset (``kind="export_job"``, optionally only those that
export some of ``segment_ids``). No sensor holds a slot and no DAG polls: the triggerer lists the jobs
every ``poll_interval`` seconds with the async client and yields one event per finished job.

**Each AEP job is reported at most once, also across triggerer restarts**, by the rule in
``triggers/watch_state.py`` (a creation-time floor and the finished ids above it).

The state lives in the watched asset's state store (Airflow 3.3+, injected by the triggerer as
``asset_state_store``), under a key naming the watch, and is written *before* the events of a poll
are yielded: a restarted triggerer (a new trigger instance with the same kwargs) reads it back and
does not report those jobs again. The one window left is Airflow's own: the triggerer hands events to
the database about once a second, so a triggerer killed in that second can lose (never repeat) the
events of that poll. Without a state store (older Airflow) the state lives in memory: a restart takes
a new baseline, so jobs that finish while the triggerer is down are not reported, and none twice.

Errors never stop the watcher: an AEP or network error, a missing connection or a failed state read
is logged, and the next try waits ``poll_interval`` doubled per error in a row (at most 10 minutes, or
``poll_interval`` if longer). Events are not yielded until their state is saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_segmentation.hooks.segmentation import (
    AEPError,
    AEPValidationError,
    RetrySettings,
    SegmentationHook,
    check_id,
    check_task_sandbox,
    positive_seconds,
    validate_ids,
)
from airflow_provider_segmentation.models import (
    ExportJob,
    ExportJobStatus,
    SegmentJob,
    SegmentJobStatus,
    epoch_to_datetime,
)
from airflow_provider_segmentation.triggers.watch_state import WatchedJob, WatchState, plan

if TYPE_CHECKING:
    from airflow_provider_segmentation.hooks.segmentation import AsyncSegmentationClient

T = TypeVar("T")

STATUSES = {  # the endings a watch can report: the terminal statuses of its jobs
    "scheduled_segment_job": tuple(s.value for s in SegmentJobStatus if s.is_terminal),
    "export_job": tuple(s.value for s in ExportJobStatus if s.is_terminal),
}
MAX_BACKOFF_SECONDS = 600.0
MAX_SEGMENTS_IN_EVENT = 1500  # a job holds at most 1,500 segments, except a "*" schedule's run
MAX_COUNTS_IN_EVENT = 100  # per-audience counts only for runs of up to this many audiences


class AEPJobFinishedTrigger(BaseEventTrigger):
    """Yield one event per AEP job that finishes: a schedule's runs, or the exports into a dataset.

    :param kind: ``scheduled_segment_job`` or ``export_job``
    :param sandbox: the sandbox to watch (default: the connection's)
    :param schedule_id: the schedule whose runs to report (``scheduled_segment_job``)
    :param schedule_name: or its exact name, looked up at each poll (a schedule kept as code by name)
    :param dataset_id: the dataset whose exports to report (``export_job``)
    :param segment_ids: only exports of at least one of these segments (``export_job``; default: all)
    :param statuses: the endings to report (default ``SUCCEEDED``; also ``FAILED``, and ``CANCELLED``
        for scheduled runs)
    :param poll_interval: seconds between two polls (with 10 % jitter)
    :param max_jobs_per_poll: how many of the newest jobs one poll reads at most
    """

    def __init__(
        self,
        *,
        kind: str,
        sandbox: str | None = None,
        schedule_id: str | None = None,
        schedule_name: str | None = None,
        dataset_id: str | None = None,
        segment_ids: Sequence[str] | None = None,
        statuses: Sequence[str] = ("SUCCEEDED",),
        aep_conn_id: str = "aep_default",
        poll_interval: float = 60.0,
        max_jobs_per_poll: int = 500,
    ) -> None:
        super().__init__()
        if kind not in STATUSES:
            raise AEPValidationError(f"kind {kind!r} is not one of {', '.join(STATUSES)}", field="kind")
        self.kind = kind
        self.sandbox = check_task_sandbox(sandbox)
        if kind == "scheduled_segment_job":
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
        else:
            if dataset_id is None or schedule_id is not None or schedule_name is not None:
                raise AEPValidationError(
                    "an export_job watch takes dataset_id (and no schedule_id or schedule_name)",
                    field="dataset_id",
                )
            check_id(dataset_id, field_name="dataset_id")
            if segment_ids:
                validate_ids(segment_ids, field_name="segment_ids")
        if isinstance(statuses, str) or not statuses:
            raise AEPValidationError(
                f"statuses must be a non-empty list of {', '.join(STATUSES[kind])}", field="statuses"
            )
        unknown = [s for s in statuses if s not in STATUSES[kind]]
        if unknown:
            raise AEPValidationError(
                f"statuses {unknown!r} are not endings of a {kind.replace('_', ' ')}: use "
                f"{', '.join(STATUSES[kind])}",
                field="statuses",
            )
        if (
            isinstance(max_jobs_per_poll, bool)
            or not isinstance(max_jobs_per_poll, int)
            or max_jobs_per_poll < 1
        ):
            raise AEPValidationError(
                "max_jobs_per_poll must be a positive integer", field="max_jobs_per_poll"
            )
        self.schedule_id = None if schedule_id is None else str(schedule_id)
        self.schedule_name = schedule_name
        self.dataset_id = None if dataset_id is None else str(dataset_id)
        self.segment_ids = [str(s) for s in segment_ids] if segment_ids else None
        self.statuses = list(statuses)
        self.aep_conn_id = aep_conn_id
        self.poll_interval = positive_seconds(poll_interval, field_name="poll_interval")
        self.max_jobs_per_poll = max_jobs_per_poll
        self._memory: WatchState | None = None  # the state when there is no asset state store

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "sandbox": self.sandbox,
                "schedule_id": self.schedule_id,
                "schedule_name": self.schedule_name,
                "dataset_id": self.dataset_id,
                "segment_ids": self.segment_ids,
                "statuses": self.statuses,
                "aep_conn_id": self.aep_conn_id,
                "poll_interval": self.poll_interval,
                "max_jobs_per_poll": self.max_jobs_per_poll,
            },
        )

    @property
    def watch(self) -> str:
        """What this trigger watches, in words (logs) and as its state key."""
        if self.kind == "export_job":
            only = f" of segments {','.join(self.segment_ids)}" if self.segment_ids else ""
            return f"export jobs into dataset {self.dataset_id}{only}"
        if self.schedule_id is not None:
            return f"runs of schedule {self.schedule_id}"
        return f"runs of the schedule named {self.schedule_name!r}"

    @property
    def state_key(self) -> str:
        """The key of this watch's state in the asset's store: short, and the same for the same kwargs."""
        target = self.dataset_id if self.kind == "export_job" else self.schedule_id or self.schedule_name
        digest = hashlib.sha256(
            json.dumps([self.kind, self.sandbox, target, sorted(self.segment_ids or [])]).encode()
        ).hexdigest()[:16]
        return f"aep-job-finished:{self.kind}:{digest}"

    # -- the loop -------------------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = SegmentationHook(
            aep_conn_id=self.aep_conn_id, sandbox=self.sandbox, retry=RetrySettings(max_attempts=2)
        )
        errors = 0
        state: WatchState | None = None
        try:
            while True:
                try:
                    if state is None:
                        state = await self.load_state()
                    client = await hook.aclient()
                    jobs = await self._list(client, state.floor)
                    report, following = plan(state, jobs, self.statuses, now_ms=int(time.time() * 1000))
                    if following != state:
                        await self.save_state(following)
                        self._log_progress(state, following)
                        state = following
                    errors = 0
                except AEPError as exc:
                    errors += 1
                    self.log.warning("Watching %s: %s (try %d); retrying", self.watch, exc, errors)
                    await self._pause(self._backoff(errors))
                    continue
                except Exception as exc:  # a store or connection lookup failure: never stop watching
                    errors += 1
                    self.log.warning(
                        "Watching %s: %s: %s (try %d); retrying", self.watch, type(exc).__name__, exc, errors
                    )
                    await self._pause(self._backoff(errors))
                    continue
                for job in report:
                    self.log.info(
                        "%s: %s %s finished %s", self.watch, self.kind.replace("_", " "), job.id, job.status
                    )
                    yield TriggerEvent(job.payload)
                await self._pause(self.poll_interval * random.uniform(0.9, 1.1))
        finally:
            await hook.aclose()

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def _backoff(self, errors: int) -> float:
        cap = max(self.poll_interval, MAX_BACKOFF_SECONDS)
        return float(min(self.poll_interval * 2 ** min(errors - 1, 30), cap))

    def _log_progress(self, before: WatchState, after: WatchState) -> None:
        if not before.started:
            self.log.info(
                "Watching %s: first start, %d finished job(s) recorded as already seen (not reported)",
                self.watch,
                len(after.handled),
            )

    # -- state ------------------------------------------------------------------------------------------

    def _accessors(self) -> list[Any]:
        """The state accessors of the watched assets (one per asset; a trigger may watch several)."""
        store = self.asset_state_store
        return [] if store is None else _each_asset_accessor(store)

    async def load_state(self) -> WatchState:
        accessors = self._accessors()
        if not accessors:
            return self._memory or WatchState()
        found = [WatchState.from_json(await a.aget(self.state_key)) for a in accessors]
        return WatchState.merged(s for s in found if s is not None)

    async def save_state(self, state: WatchState) -> None:
        accessors = self._accessors()
        if not accessors:
            self._memory = state
            return
        for accessor in accessors:
            await accessor.aset(self.state_key, state.to_json())

    # -- what AEP says ----------------------------------------------------------------------------------

    async def _list(self, client: AsyncSegmentationClient, floor: int | None) -> list[WatchedJob]:
        """The watched jobs created at or after ``floor`` (epoch ms; all when None), newest first."""
        sandbox = client.config.sandbox
        if self.kind == "export_job":
            exports = await _newest(
                client.list_export_jobs(limit=100), floor, _created_ms, self.max_jobs_per_poll
            )
            return [self._export(job, sandbox) for job in exports if self._wanted_export(job)]
        schedule_ids = (
            [self.schedule_id] if self.schedule_id is not None else await self._schedule_ids(client)
        )
        runs: list[WatchedJob] = []
        for schedule_id in schedule_ids:
            listing = client.list_segment_jobs(
                property_filter=f"properties.scheduleId=={schedule_id}", sort="creationTime:desc", limit=100
            )
            found = await _newest(listing, floor, _created_ms, self.max_jobs_per_poll)
            runs.extend(self._run(job, sandbox, schedule_id) for job in found)
        return runs

    async def _schedule_ids(self, client: AsyncSegmentationClient) -> list[str]:
        ids = [
            schedule.id
            async for schedule in client.list_schedules()
            if schedule.name == self.schedule_name and schedule.type in (None, "batch_segmentation")
        ]
        if not ids:
            self.log.info("Watching %s: no such schedule in AEP yet", self.watch)
        return ids

    def _wanted_export(self, job: ExportJob) -> bool:
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


def _each_asset_accessor(store: Any) -> list[Any]:
    """One accessor per asset of Airflow 3.3's ``AssetStateStoreAccessors`` (any other store: itself).

    Airflow offers no public way to list them: the store is subscripted by an asset, which a trigger is not
    told, and its own ``aget``/``aset`` refuse when it holds more than one asset. So this reads its private
    ``_by_name``/``_by_uri`` maps (task-sdk ``execution_time/context.py``); should they go, the store is
    used as the one accessor, which is right for a watch of one asset.
    """
    found = [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]
    return found or [store]


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
