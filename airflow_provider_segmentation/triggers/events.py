"""``AEPJobFinishedTrigger``: an event trigger for ``AssetWatcher``s. A DAG runs when an AEP job finishes.

Two watches: the runs of an evaluation schedule (``kind="scheduled_segment_job"``: AEP's nightly batch
segmentation), and the export jobs into a dataset (``kind="export_job"``, optionally only those that
export some of ``segment_ids``), each a typed watch of ``triggers/job_watches.py`` that lists its jobs
and builds their events; this trigger holds the loop and the state, the same for both. No sensor holds
a slot and no DAG polls: the triggerer lists the jobs
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
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_segmentation.client import AEPError, AEPValidationError, RetrySettings, positive_seconds
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.mixins import check_task_sandbox
from airflow_provider_segmentation.triggers.job_watches import WATCHES, JobWatch
from airflow_provider_segmentation.triggers.watch_state import WatchState, plan

MAX_BACKOFF_SECONDS = 600.0


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
        if kind not in WATCHES:
            raise AEPValidationError(f"kind {kind!r} is not one of {', '.join(WATCHES)}", field="kind")
        self.kind = kind
        self.sandbox = check_task_sandbox(sandbox)
        self.job_watch: JobWatch = WATCHES[kind].checked(schedule_id, schedule_name, dataset_id, segment_ids)
        endings = self.job_watch.endings
        if isinstance(statuses, str) or not statuses:
            raise AEPValidationError(
                f"statuses must be a non-empty list of {', '.join(endings)}", field="statuses"
            )
        unknown = [s for s in statuses if s not in endings]
        if unknown:
            raise AEPValidationError(
                f"statuses {unknown!r} are not endings of a {kind.replace('_', ' ')}: use "
                f"{', '.join(endings)}",
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
                **self.job_watch.kwargs(),  # schedule_id, schedule_name, dataset_id, segment_ids
                "statuses": self.statuses,
                "aep_conn_id": self.aep_conn_id,
                "poll_interval": self.poll_interval,
                "max_jobs_per_poll": self.max_jobs_per_poll,
            },
        )

    @property
    def watch(self) -> str:
        """What this trigger watches, in words (logs)."""
        return self.job_watch.description

    @property
    def state_key(self) -> str:
        """The key of this watch's state in the asset's store: short, and the same for the same kwargs."""
        watch = self.job_watch
        digest = hashlib.sha256(
            json.dumps([self.kind, self.sandbox, watch.target, watch.segment_filter]).encode()
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
                    jobs = await self.job_watch.list_jobs(
                        client, state.floor, self.max_jobs_per_poll, self.log.info
                    )
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


def _each_asset_accessor(store: Any) -> list[Any]:
    """One accessor per asset of Airflow 3.3's ``AssetStateStoreAccessors`` (any other store: itself).

    Airflow offers no public way to list them: the store is subscripted by an asset, which a trigger is not
    told, and its own ``aget``/``aset`` refuse when it holds more than one asset. So this reads its private
    ``_by_name``/``_by_uri`` maps (task-sdk ``execution_time/context.py``); should they go, the store is
    used as the one accessor, which is right for a watch of one asset.
    """
    found = [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]
    return found or [store]
